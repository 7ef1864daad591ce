"""`mlestar retrain RUN_DIR --data NEW_TRAIN`: a warm-started search on new data, a fair
comparison, and a promotion only when the challenger is better beyond noise.

    RETRAIN_DIR/            (--out; default runs/<task>-retrain-<time>)
      task/                 the new run's task: the fit rows, the old test table, task.yaml
      holdout.parquet       rows of the new data that neither model saw
      run/                  the challenger: an ordinary run folder, warm-started from RUN_DIR
      decision.json         the comparison and what was done

Every decision is also journaled in the challenger's journal (retrain_started, retrain_compared,
retrain_decided). The registry aliases (champion, challenger) are set in RUN_DIR's MLflow store,
where the challenger's model is registered as the next version of the same model.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from mlestar.config import RunConfig, SearchSettings, config_from_json, parse_duration
from mlestar.errors import RunFolderError
from mlestar.journal import Journal
from mlestar.journal.events import RetrainCompared, RetrainDecided, RetrainStarted
from mlestar.metrics import get_metric
from mlestar.monitoring.validate import check_frame
from mlestar.retrain.compare import ALPHA, Comparison, compare
from mlestar.retrain.holdout import split_new_data, write_task
from mlestar.retrain.warm import final_ensemble, warm_scripts
from mlestar.serving.loaded import ServedModel, load_run_model
from mlestar.task.files import read_table


@dataclass(frozen=True)
class RetrainSettings:
    holdout: float = 0.2
    alpha: float = ALPHA
    budget_s: float = 30 * 60.0
    max_nodes: int | None = None
    seed: int = 42
    jobs: int = 1
    tracking: bool = True
    tracking_uri: str | None = None
    engineer: str = "builtin"
    live: bool | None = None


@dataclass(frozen=True)
class RetrainOutcome:
    retrain_dir: Path
    run_dir: Path
    comparison: Comparison | None
    promoted: bool
    reason: str
    aliases: dict[str, str]


def retrain_command(args: argparse.Namespace, environ: dict[str, str], llm: Any = None) -> int:
    settings = RetrainSettings(
        holdout=args.holdout, alpha=args.alpha, budget_s=parse_duration(args.budget), max_nodes=args.max_nodes,
        seed=args.seed, jobs=args.jobs, tracking=not args.no_tracking,
        tracking_uri=args.tracking_uri or environ.get("MLFLOW_TRACKING_URI"), engineer=args.llm,
        live=False if args.no_live else None,
    )  # fmt: skip
    outcome = retrain(args.run_dir.resolve(), args.data, settings, args.out, llm)
    print(f"challenger run: {outcome.run_dir}", file=sys.stderr)
    print(("promoted: " if outcome.promoted else "kept the champion: ") + outcome.reason)
    return 0


def retrain(
    old_run: Path,
    data: Path,
    settings: RetrainSettings,
    out: Path | None = None,
    llm: Any = None,
    engineer: Any = None,
) -> RetrainOutcome:
    champion = load_run_model(old_run)
    spec = champion.spec
    frame = read_table(data, spec.id_column)
    split = split_new_data(spec, champion.schema, frame, settings.holdout, settings.seed)
    retrain_dir = (
        out or Path("runs") / f"{_safe(spec.name)}-retrain-{time.strftime('%Y%m%d-%H%M%S')}"
    ).resolve()
    if retrain_dir.exists() and any(retrain_dir.iterdir()):
        raise RunFolderError(f"expected a new or empty folder for the retrain, found {retrain_dir} not empty")
    write_task(old_run, spec, split.fit, retrain_dir / "task")
    split.holdout.to_parquet(retrain_dir / "holdout.parquet", index=False)
    config = _config(old_run, retrain_dir, settings)
    from mlestar.app import start_run

    start_run(config, llm, engineer)
    journal = Journal(config.run_dir)
    warm = [w.source for w in warm_scripts(old_run)]
    journal.record(RetrainStarted(
        champion=str(old_run), data=str(data), fit_rows=len(split.fit),
        holdout_rows=len(split.holdout), warm_start=warm, champion_ensemble=final_ensemble(old_run),
    ))  # fmt: skip
    return _decide(old_run, config, champion, split.holdout, settings, journal, retrain_dir)


def _config(old_run: Path, retrain_dir: Path, settings: RetrainSettings) -> RunConfig:
    """The old run's search settings, its tracking store, and a warm start from its journal."""
    from mlestar.serving.registry import store_of

    old = (
        config_from_json(json.loads((old_run / "config.json").read_text()))
        if (old_run / "config.json").is_file()
        else None
    )
    search = old.search if old is not None else SearchSettings()
    base = RunConfig(task_dir=retrain_dir / "task", run_dir=retrain_dir / "run")
    return replace(
        base, budget_s=settings.budget_s, max_nodes=settings.max_nodes, seed=settings.seed, jobs=settings.jobs,
        engineer=settings.engineer, search=search, memory_mb=old.memory_mb if old else base.memory_mb,
        tracking=settings.tracking, tracking_uri=store_of(old_run, settings.tracking_uri) if settings.tracking else None,
        warm_start=str(old_run), live=settings.live,
    )  # fmt: skip


def _decide(
    old_run: Path, config: RunConfig, champion: ServedModel, holdout: pd.DataFrame, settings: RetrainSettings,
    journal: Journal, retrain_dir: Path,
) -> RetrainOutcome:  # fmt: skip
    from mlestar.prepare import encode_target

    spec = champion.spec
    try:
        challenger = load_run_model(config.run_dir)
    except RunFolderError:
        challenger = None
    comparison = None
    if challenger is None:
        promoted, reason = False, "the challenger run left no servable model"
    else:
        rows = check_frame(champion.schema, holdout).frame
        y = encode_target(spec, holdout)
        metric = get_metric(spec.metric)
        comparison = compare(
            metric, y, champion.predict(rows), challenger.predict(rows), settings.alpha, settings.seed
        )
        journal.record(RetrainCompared(**comparison.to_json()))
        promoted = comparison.better
        reason = _reason(comparison)
    aliases = _set_aliases(old_run, config, promoted) if settings.tracking else {}
    journal.record(RetrainDecided(promoted=promoted, reason=reason, aliases=aliases))
    decision = {"promoted": promoted, "reason": reason, "aliases": aliases, "champion_run": str(old_run),
                "challenger_run": str(config.run_dir), "comparison": comparison.to_json() if comparison else None}  # fmt: skip
    (retrain_dir / "decision.json").write_text(json.dumps(decision, indent=1))
    return RetrainOutcome(retrain_dir, config.run_dir, comparison, promoted, reason, aliases)


def _reason(c: Comparison) -> str:
    verdict = "better beyond noise" if c.better else "not better beyond noise"
    return (
        f"challenger {c.metric} {c.challenger:.5g} vs champion {c.champion:.5g} on {c.n} holdout rows: "
        f"{verdict} (paired bootstrap, p = {c.p_value:.3g}, alpha {c.alpha})"
    )


def _set_aliases(old_run: Path, config: RunConfig, promoted: bool) -> dict[str, str]:
    """challenger -> the new version; champion -> the new version when promoted, else kept (or
    set to the old run's version when no champion was named yet)."""
    from mlestar.serving.registry import (
        CHALLENGER,
        CHAMPION,
        alias_version,
        model_name,
        run_version,
        set_alias,
    )

    uri = str(config.tracking_uri)
    name = model_name(old_run)
    new_version = run_version(uri, config.run_dir)
    old_version = run_version(uri, old_run) or _register(old_run, uri)
    aliases: dict[str, str] = {}
    if new_version is not None:
        set_alias(uri, name, CHALLENGER, new_version)
        aliases[CHALLENGER] = new_version
    if promoted and new_version is not None:
        set_alias(uri, name, CHAMPION, new_version)
        aliases[CHAMPION] = new_version
    elif alias_version(uri, name, CHAMPION) is None and old_version is not None:
        set_alias(uri, name, CHAMPION, old_version)
        aliases[CHAMPION] = old_version
    return aliases


def _register(run_dir: Path, uri: str) -> str | None:
    """A champion whose run was never tracked is sent to the store now (its model registered)."""
    from mlestar.serving.registry import run_version
    from mlestar.tracking import sync_run

    sync_run(run_dir, uri)
    return run_version(uri, run_dir)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name) or "task"
