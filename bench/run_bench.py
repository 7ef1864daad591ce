"""Benchmark mlestar (and the AutoML baselines) on the real Kaggle tasks, graded as MLE-bench grades.

    python bench/run_bench.py [--tasks all|name,...] [--budget 5m] [--seeds 1 | --seeds 1,2,3]
                              [--systems mlestar,autogluon,flaml] [--bench-dir ../shared/bench]
                              [--results bench/results] [--mlestar-args="--llm openai:MODEL"]

For every seed, task and system: copy only tasks/<t>/public to a fresh folder under /tmp, run the
system on it as a subprocess at the budget, grade its submission with the bench's grade.py, and
read mlestar's journal for its validation score, attempts and time inside scripts. Prints the
table and writes it after every run to <results>/<date-time>-<commit>.md and .json; the run
folders and logs go to <results>/raw/<date-time>-<commit>/ (git-ignored).
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench_journal import journal_stats, overhead_share
from bench_report import (
    ROW_COLUMNS,
    Anchors,
    Row,
    anchor_for,
    markdown_table,
    parse_anchors,
    render_markdown,
    write_results,
)
from bench_systems import (
    BASELINES,
    SYSTEMS,
    Launch,
    Task,
    baseline_command,
    copy_public,
    discard_copy,
    grade,
    launch,
    load_tasks,
    mlestar_command,
    run_error,
)

from mlestar.config import parse_duration
from mlestar.errors import ConfigError, UserError

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
OFFLINE_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "DVC_NO_ANALYTICS": "1",
    "PYTHONUNBUFFERED": "1",
}
TIMEOUT_FACTOR, TIMEOUT_GRACE_S = 1.5, 120.0
"""A run is killed past budget x factor + grace: the budget is the system's to keep, not ours."""


@dataclass(frozen=True)
class Plan:
    tasks: tuple[Task, ...]
    seeds: tuple[int, ...]
    systems: tuple[str, ...]
    budget_s: float
    bench_dir: Path
    results: Path
    scratch: Path
    mlestar: tuple[str, ...]
    mlestar_args: tuple[str, ...]
    python: Path
    """The project venv's python, which runs the grader."""
    envs: Path
    env: tuple[tuple[str, str], ...]
    export_check: bool = True
    """After each mlestar run: `mlestar export --check` (its dvc pipeline rebuilds the submission)."""

    @property
    def timeout_s(self) -> float:
        return self.budget_s * TIMEOUT_FACTOR + TIMEOUT_GRACE_S


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="run_bench.py", description=__doc__.splitlines()[0])
    p.add_argument("--tasks", default="all", help="'all' or comma-separated task names")
    p.add_argument("--budget", default="5m", help="wall-clock budget per run: 300, 90s, 5m, 1h")
    p.add_argument("--seeds", default="1", help="one seed or a comma-separated list")
    p.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated, among {','.join(SYSTEMS)}")
    p.add_argument("--bench-dir", type=Path, default=PROJECT.parent / "shared" / "bench")
    p.add_argument("--results", type=Path, default=BENCH / "results")
    p.add_argument("--scratch", type=Path, default=Path("/tmp/mlestar-bench"),
                   help="where each run's copy of public/ is made (outside the project)")  # fmt: skip
    p.add_argument("--mlestar", default=str(Path(sys.executable).parent / "mlestar"),
                   help="the mlestar command (split like a shell would)")  # fmt: skip
    p.add_argument("--mlestar-args", default="",
                   help="extra flags for `mlestar run`, e.g. '--llm openai:gpt-4o-mini'")  # fmt: skip
    p.add_argument("--envs", type=Path, default=BENCH / ".envs", help="the baselines' venvs")
    p.add_argument("--no-export-check", action="store_true",
                   help="skip `mlestar export --check` after each mlestar run (the repro column)")  # fmt: skip
    return p.parse_args(argv)


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def build_plan(args: argparse.Namespace, environ: dict[str, str]) -> Plan:
    try:
        seeds = tuple(int(s) for s in _csv(args.seeds))
    except ValueError:
        raise ConfigError(f"expected seeds such as 1 or 1,2,3, found {args.seeds!r}") from None
    systems = tuple(_csv(args.systems))
    if not seeds or not systems or any(s not in SYSTEMS for s in systems):
        raise ConfigError(
            f"expected seeds and systems among {','.join(SYSTEMS)}, found {args.seeds!r}, {args.systems!r}"
        )
    bench_dir = args.bench_dir.resolve()
    return Plan(
        tasks=tuple(load_tasks(bench_dir, args.tasks)), seeds=seeds, systems=systems,
        budget_s=parse_duration(args.budget), bench_dir=bench_dir, results=args.results.resolve(),
        scratch=args.scratch.resolve(), mlestar=tuple(shlex.split(args.mlestar)),
        mlestar_args=tuple(shlex.split(args.mlestar_args)),
        python=Path(sys.executable), envs=args.envs.resolve(),
        env=tuple({**environ, **OFFLINE_ENV}.items()), export_check=not args.no_export_check,
    )  # fmt: skip


def _row(task: Task, system: str, seed: int, report: dict[str, Any], launched: Launch, plan: Plan,
         anchors: Anchors, **extra: Any) -> Row:  # fmt: skip
    return Row(
        task=task.name, system=system, seed=seed, score=report.get("score"), valid=bool(report.get("valid")),
        medal=report.get("medal"), above_median=bool(report.get("above_median")), wall_s=launched.wall_s,
        anchor=anchor_for(anchors, task.name, system),
        error=run_error(launched, plan.budget_s) or report.get("error"), **extra,
    )  # fmt: skip


def run_mlestar(plan: Plan, task: Task, seed: int, copy: Path, raw: Path, anchors: Anchors) -> Row:
    run_dir = raw / "mlestar" / f"{task.name}-{seed}"
    cmd = mlestar_command(plan.mlestar, copy, run_dir, plan.budget_s, seed, plan.mlestar_args)
    launched = launch(cmd, run_dir.parent / f"{run_dir.name}.log", plan.timeout_s, dict(plan.env))
    report = grade(plan.python, plan.bench_dir / "grade.py", task, run_dir / "submission.csv")
    stats = journal_stats(run_dir, task.lower_is_better)
    script_s = stats.script_s if stats else None
    repro = export_check(plan, run_dir, raw) if plan.export_check and stats and stats.status else None
    return _row(task, "mlestar", seed, report, launched, plan, anchors,
                validation_score=stats.validation_score if stats else None,
                attempts=stats.attempts if stats else None, script_s=script_s,
                overhead=overhead_share(script_s, launched.wall_s), repro=repro,
                attempt_overhead=overhead_share(stats.attempt_s, launched.wall_s) if stats else None,
                zero_weight_refits=stats.zero_weight_refits if stats else None)  # fmt: skip


def export_check(plan: Plan, run_dir: Path, raw: Path) -> str:
    """`mlestar export --check` on a finished run: "same", "N of M rows differ", or "failed"."""
    dest = raw / "export" / run_dir.name
    cmd = [*plan.mlestar, "export", str(run_dir), str(dest), "--check"]
    launched = launch(cmd, dest.parent / f"{run_dir.name}.log", plan.timeout_s, dict(plan.env))
    text = launched.log.read_text(encoding="utf-8", errors="replace")
    if launched.exit_code == 0 and "byte for byte" in text:
        return "same"
    differs = re.search(r"differs from the run's in (\d+) of (\d+) rows", text)
    return f"{differs.group(1)} of {differs.group(2)} rows differ" if differs else "failed"


def run_baseline(
    plan: Plan, system: str, task: Task, seed: int, copy: Path, raw: Path, anchors: Anchors
) -> Row:
    out = raw / system / f"{task.name}-{seed}"
    python, script = plan.envs / system / "bin" / "python", BENCH / "baselines" / f"{system}_run.py"
    started = datetime.datetime.now().timestamp()
    cmd = baseline_command(python, script, copy, out, plan.budget_s, seed, task.metric, started)
    launched = launch(cmd, out.parent / f"{out.name}.log", plan.timeout_s, dict(plan.env))
    report = grade(plan.python, plan.bench_dir / "grade.py", task, out / "submission.csv")
    return _row(task, system, seed, report, launched, plan, anchors)


def run_one(plan: Plan, task: Task, system: str, seed: int, raw: Path, anchors: Anchors) -> Row:
    copy = copy_public(task, plan.scratch)
    try:
        if system == "mlestar":
            return run_mlestar(plan, task, seed, copy, raw, anchors)
        return run_baseline(plan, system, task, seed, copy, raw, anchors)
    finally:
        discard_copy(copy)


def git_commit(root: Path) -> str:
    """Short commit, with "-dirty" when tracked files differ from it; "nogit" outside a repository."""

    def git(*a: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", "-C", str(root), *a], capture_output=True, text=True)

    head = git("rev-parse", "--short", "HEAD")
    if head.returncode != 0:
        return "nogit"
    return head.stdout.strip() + ("" if git("diff", "--quiet", "HEAD").returncode == 0 else "-dirty")


def _meta(plan: Plan, started: datetime.datetime, commit: str, raw: Path) -> dict[str, Any]:
    return {
        "started": started.isoformat(timespec="seconds"), "commit": commit, "budget_s": plan.budget_s,
        "seeds": list(plan.seeds), "tasks": [t.name for t in plan.tasks], "systems": list(plan.systems),
        "machine": f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start",
        "baselines": "AutoGluon 1.6.3 best_quality, FLAML 2.8.0 (bench/setup_automl.sh)",
        "mlestar_args": " ".join(plan.mlestar_args), "bench_dir": str(plan.bench_dir), "raw": str(raw),
    }  # fmt: skip


def ensure_baselines(plan: Plan) -> None:
    """Create any missing baseline venv (idempotent; downloads from the package registry once)."""
    wanted = [s for s in plan.systems if s in BASELINES]
    if wanted and plan.envs == (BENCH / ".envs").resolve():
        subprocess.run(["bash", str(BENCH / "setup_automl.sh"), *wanted], check=True, env=dict(plan.env))
    missing = [s for s in wanted if not (plan.envs / s / "bin" / "python").exists()]
    if missing:
        raise ConfigError(
            f"expected baseline venvs {missing} under {plan.envs}, found none: run bench/setup_automl.sh"
        )


MIN_FREE_BYTES = 10 * 2**30
"""Free disk a run needs beside it: a task of millions of rows leaves gigabytes of run folder,
export and scratch copy, and a full disk fails a run's export check in the middle of the table."""


def check_free_space(plan: Plan, free: Callable[[Path], int] | None = None) -> None:
    """Refuse to start a run on a disk with less than MIN_FREE_BYTES free where its folders go."""
    free = free or (lambda path: shutil.disk_usage(path).free)
    for folder in (plan.results, plan.scratch):
        place = next(p for p in (folder, *folder.parents) if p.exists())
        left = free(place)
        if left < MIN_FREE_BYTES:
            raise ConfigError(
                f"expected at least {MIN_FREE_BYTES / 2**30:.0f} GB free for the runs under {folder}, found "
                f"{left / 2**30:.1f} GB: remove old run folders under {plan.results / 'raw'}"
            )


def run(plan: Plan) -> list[Row]:
    ensure_baselines(plan)
    started = datetime.datetime.now()
    commit = git_commit(PROJECT)
    stem = f"{started:%Y%m%d-%H%M%S}-{commit}"
    raw = plan.results / "raw" / stem
    anchor_file = plan.bench_dir / "ANCHORS.md"
    anchors = parse_anchors(anchor_file.read_text(), BASELINES) if anchor_file.exists() else {}
    meta, rows = _meta(plan, started, commit, raw), []
    for seed in plan.seeds:
        for task in plan.tasks:
            for system in plan.systems:
                check_free_space(plan)
                print(f"[bench] {task.name} / {system} / seed {seed} ...", flush=True)
                rows.append(run_one(plan, task, system, seed, raw, anchors))
                print(markdown_table(rows[-1:], ROW_COLUMNS).splitlines()[-1], flush=True)
                write_results(plan.results, stem, meta, rows)
    meta["finished"] = datetime.datetime.now().isoformat(timespec="seconds")
    meta["machine"] += f", {os.getloadavg()[0]:.2f} at the end"
    md, js = write_results(plan.results, stem, meta, rows)
    print("\n" + render_markdown(meta, rows) + f"\nwritten: {md}\n         {js}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    try:
        plan = build_plan(parse_args(argv), dict(os.environ))
        run(plan)
    except UserError as e:
        print(f"run_bench: {e}", file=sys.stderr)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
