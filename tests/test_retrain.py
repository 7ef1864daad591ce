"""Retraining: the promotion test (both outcomes), the holdout, the warm start, and, end to end
(slow), a real retrain that promotes after a concept change and one that keeps the champion."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlestar.journal import Journal
from mlestar.metrics import get_metric
from mlestar.monitoring.schema import infer_schema
from mlestar.retrain.compare import compare
from mlestar.retrain.holdout import split_new_data
from mlestar.retrain.warm import warm_scripts
from mlestar.task.spec import TaskSpec
from tests.serving_support import real_run, shop_rows


def _scores(rng: np.random.Generator, y: np.ndarray, noise: float) -> np.ndarray:
    return (y + rng.normal(0, noise, len(y))).reshape(-1, 1)


def test_a_clearly_better_challenger_is_promoted() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    result = compare(get_metric("roc_auc"), y, _scores(rng, y, 1.5), _scores(rng, y, 0.4), resamples=200)
    assert result.better and result.p_value < 0.05 and result.improvement > 0


def test_an_equal_challenger_is_not_promoted() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    # 100 resamples resolve a p-value to 0.01, finer than alpha needs; each costs two AUCs.
    promoted = [
        compare(
            get_metric("roc_auc"), y, _scores(rng, y, 1.0), _scores(rng, y, 1.0), seed=s, resamples=100
        ).better
        for s in range(8)
    ]
    assert sum(promoted) <= 1  # about alpha = 5% of equal pairs win by chance


def test_a_worse_challenger_is_not_promoted_for_lower_is_better_metrics() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(size=300)
    champion, challenger = (
        (y + rng.normal(0, 0.3, 300)).reshape(-1, 1),
        (y + rng.normal(0, 0.6, 300)).reshape(-1, 1),
    )
    result = compare(get_metric("rmse"), y, champion, challenger, resamples=200)
    assert not result.better and result.improvement < 0 and result.p_value > 0.9


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return real_run(tmp_path_factory)


def test_the_holdout_is_disjoint_stratified_and_checked(run: Path) -> None:
    spec = TaskSpec.load(run / "task.json")
    new = shop_rows(200, 40)
    schema = infer_schema(spec, new, new.drop(columns=["label"]))
    split = split_new_data(spec, schema, new, 0.25, seed=0)
    assert len(split.holdout) == 50 and len(split.fit) == 150
    assert not set(split.holdout["id"]) & set(split.fit["id"])
    assert abs(split.holdout["label"].mean() - new["label"].mean()) < 0.03
    from mlestar.errors import ConfigError

    with pytest.raises(ConfigError, match="answer column"):
        split_new_data(spec, schema, new.drop(columns=["label"]), 0.25, seed=0)
    with pytest.raises(ConfigError, match="at least 20 rows"):
        split_new_data(spec, schema, new.head(30), 0.25, seed=0)


def test_warm_start_takes_the_final_solution_first(run: Path) -> None:
    scripts = warm_scripts(run)
    final = next(e for e in Journal(run).events if e["name"] == "final")
    assert scripts and scripts[0].source == final["node"]
    assert scripts[0].code == (run / Journal(run).nodes[final["node"]].code_path).read_text()  # type: ignore[operator]


# -- end to end ------------------------------------------------------------------------------------
def _retrain(run: Path, data: pd.DataFrame, out: Path):  # type: ignore[no-untyped-def]
    from mlestar.retrain.command import RetrainSettings, retrain

    out = out / "work"
    out.mkdir(parents=True)
    data.to_csv(out / "new.csv", index=False)
    settings = RetrainSettings(holdout=0.3, budget_s=240.0, max_nodes=2, seed=5, jobs=1, live=False)
    return retrain(run, out / "new.csv", settings, out / "retrain")


@pytest.mark.slow
def test_retrain_promotes_a_challenger_after_the_concept_changed(run: Path, tmp_path: Path) -> None:
    from mlestar.serving.registry import CHALLENGER, CHAMPION, alias_version, model_name, store_of

    outcome = _retrain(run, shop_rows(400, 50, flip=True), tmp_path)
    assert outcome.promoted and outcome.comparison is not None and outcome.comparison.better
    journal = Journal(outcome.run_dir)
    assert any(n.id == "warm-0" and n.meta["warm_from"] for n in journal.nodes.values())
    names = [e["name"] for e in journal.events]
    assert names[-3:] == ["retrain_started", "retrain_compared", "retrain_decided"]
    uri, name = store_of(run), model_name(run)
    assert (
        alias_version(uri, name, CHAMPION)
        == alias_version(uri, name, CHALLENGER)
        == outcome.aliases[CHAMPION]
    )
    assert json.loads((outcome.retrain_dir / "decision.json").read_text())["promoted"] is True
    _follower_swaps_to(run, uri, name, outcome.aliases[CHAMPION])


def _follower_swaps_to(run: Path, uri: str, name: str, version: str) -> None:
    """A server following champion, started on the old version, swaps to the promoted one."""
    from mlestar.serving.follow import AliasFollower
    from mlestar.serving.registry import load_version, run_version
    from mlestar.serving.server import ModelSlot

    old = run_version(uri, run)
    assert old is not None and old != version
    slot = ModelSlot(load_version(uri, name, old))
    assert AliasFollower(slot, uri, name, "champion", 3600).check()
    assert slot.current.version == version and slot.current.schema.by_name["x1"].kind == "number"


@pytest.mark.slow
def test_retrain_keeps_the_champion_when_the_challenger_is_not_better(run: Path, tmp_path: Path) -> None:
    from mlestar.serving.registry import CHAMPION, alias_version, model_name, run_version, store_of

    uri, name = store_of(run), model_name(run)
    champion_before = alias_version(uri, name, CHAMPION) or run_version(uri, run)
    outcome = _retrain(run, shop_rows(400, 60), tmp_path)
    assert not outcome.promoted and outcome.comparison is not None and not outcome.comparison.better
    assert alias_version(uri, name, CHAMPION) == champion_before
    decided = [e for e in Journal(outcome.run_dir).events if e["name"] == "retrain_decided"]
    assert decided and decided[0]["promoted"] is False and "not better beyond noise" in decided[0]["reason"]
