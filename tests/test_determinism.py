"""Two runs with the same seed and --max-nodes take the same decisions and write the same
submission, also while a competing process keeps every core busy: speed changes no result.

The node budget, not the clock, ends these runs (their time budgets are generous), which is the
condition under which a run promises to be repeatable. The default suite's test uses the scripted
engineer with one attempt made slow (test_search.py repeats a quiet run); the slow ones
(`make test-determinism`) keep every core busy: the scripted engineer, and the built-in engineer on
the bundled example and on the bench tasks, when the bench folder is present.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlestar.app import start_run
from mlestar.config import RunConfig, SearchSettings
from mlestar.engineers.base import Candidate, TaskContext
from mlestar.journal import Journal
from tests.scripted_engineer import ScriptedEngineer, script
from tests.search_support import config, light_executor, regression_task

BENCH = Path(os.environ.get("MLESTAR_BENCH_DIR", "/work/shared/bench")) / "tasks"
BENCH_TASKS = (
    "spaceship-titanic",
    "nomad2018-predict-transparent-conductors",
    "spooky-author-identification",
)
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "breast-cancer"
KEPT_EVENTS = {
    "decision",
    "leakage_found",
    "engineer_failed",
    "stage_finished",
    "settings_frozen",
    "final",
    "final_member",
    "run_finished",
}
"""What the search decided; run_started, session_started and the like hold paths and clocks."""
CLOCK_FACTS = {"time", "finished", "same_as_s"}
SLOW_TIMEOUT_S = 5400
"""Two whole runs, one on a machine kept busy: slow by design."""


@dataclass(frozen=True)
class Fingerprint:
    decisions: tuple[str, ...]
    """The search's decisions in the order it took them."""
    events: tuple[str, ...]
    """Every decision-like event, sorted (attempts of a batch journal theirs from their threads)."""
    nodes: tuple[str, ...]
    """Every attempt: id, parent, stage, status, score, plan and facts (no clocks, no error text,
    which quotes paths)."""
    submission: bytes


def fingerprint(run_dir: Path) -> Fingerprint:
    journal = Journal(run_dir)
    events = [_facts(e) for e in journal.events if e["name"] in KEPT_EVENTS]
    nodes = [
        json.dumps(
            [n.id, n.parent, n.stage, n.role, n.status, n.score, n.plan, _facts(n.meta)], sort_keys=True
        )
        for n in journal.nodes.values()
    ]
    decisions = tuple(e for e in events if '"name": "decision"' in e)
    return Fingerprint(
        decisions, tuple(sorted(events)), tuple(sorted(nodes)), (run_dir / "submission.csv").read_bytes()
    )


def _facts(record: dict) -> str:  # type: ignore[type-arg]
    return json.dumps({k: v for k, v in record.items() if k not in CLOCK_FACTS}, sort_keys=True, default=str)


def assert_same_run(first: Path, second: Path) -> None:
    a, b = fingerprint(first), fingerprint(second)
    assert a.decisions == b.decisions
    assert a.nodes == b.nodes
    assert a.events == b.events
    assert a.submission == b.submission


@contextmanager
def cpu_load() -> Iterator[list[int]]:
    """One busy process per core for as long as the block runs; each is stopped by its own pid."""
    burners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(max(1, os.cpu_count() or 1))
    ]
    try:
        yield [p.pid for p in burners]
    finally:
        for p in burners:
            p.kill()
            p.wait(timeout=30)


# -- the scripted engineer: fast --------------------------------------------------------------------


class _SlowOne(ScriptedEngineer):
    """Its scripts are the same as the scripted engineer's, except that one candidate's sleeps."""

    def __init__(self, slow: str, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.slow = slow

    def draft(self, ctx: TaskContext, candidate: Candidate) -> str:
        self._call("draft")
        noise = self.drafts[candidate.name]
        sleep = 1.5 if candidate.name == self.slow else 0.0
        return script(0.5 if noise == "fail" else float(noise), fail=noise == "fail", sleep=sleep)


def _scripted_run(root: Path, engineer: ScriptedEngineer, **settings: object) -> Path:
    task = regression_task(root / "task")
    cfg = config(task, root / "run", **settings)
    start_run(cfg, engineer=engineer, executor=light_executor())
    return cfg.run_dir


def test_the_order_of_a_batch_not_the_speed_of_its_attempts_decides_who_gets_the_last_nodes(
    tmp_path: Path,
) -> None:
    # Three drafts on two workers, the first failing (its debug run would fix it), three nodes in
    # all. Whichever draft is slow, the three drafts get them and the debug run does not.
    drafts: dict[str, float | str] = {"a": "fail", "b": 0.6, "c": 0.7}
    runs = [
        _scripted_run(tmp_path / slow, _SlowOne(slow, drafts=drafts), max_nodes=3, t_outer=0)
        for slow in ("a", "b")
    ]
    for run in runs:
        searched = sorted(n.id for n in Journal(run).nodes.values() if n.stage == "draft")
        assert searched == ["draft-0", "draft-1", "draft-2"]
    assert fingerprint(runs[0]).decisions == fingerprint(runs[1]).decisions


@pytest.mark.slow  # two runs, one with every core kept busy (the other test process's too)
def test_same_seed_and_max_nodes_same_run_under_load(tmp_path: Path) -> None:
    engineer = {"drafts": {"a": 0.5, "b": "fail", "c": 0.7}, "plan_gains": [0.9, 1.1, 0.8]}
    quiet = _scripted_run(tmp_path / "quiet", ScriptedEngineer(**engineer), max_nodes=9)  # type: ignore[arg-type]
    with cpu_load():
        loaded = _scripted_run(tmp_path / "loaded", ScriptedEngineer(**engineer), max_nodes=9)  # type: ignore[arg-type]
    assert_same_run(quiet, loaded)
    assert len([n for n in Journal(quiet).nodes.values() if n.result is not None and n.stage != "final"]) == 9


# -- the built-in engineer: slow ----------------------------------------------------------------------


def _builtin_config(task: Path, run: Path, max_nodes: int) -> RunConfig:
    # A budget the node count reaches long before the clock: the clock decides nothing.
    return RunConfig(
        task_dir=task.resolve(),
        run_dir=run,
        budget_s=7200.0,
        max_nodes=max_nodes,
        jobs=2,
        seed=11,
        search=SearchSettings(m_candidates=3, t_outer=2, k_inner=2, r_ensemble=3),
        tracking=False,
        live=False,
    )


def _builtin_twice(task: Path, root: Path, max_nodes: int) -> tuple[Path, Path]:
    quiet, loaded = root / "quiet", root / "loaded"
    assert start_run(_builtin_config(task, quiet, max_nodes)).status == "ok"
    with cpu_load():
        assert start_run(_builtin_config(task, loaded, max_nodes)).status == "ok"
    return quiet, loaded


@pytest.mark.slow
@pytest.mark.timeout(SLOW_TIMEOUT_S)
def test_builtin_engineer_same_run_under_load_on_the_bundled_example(tmp_path: Path) -> None:
    quiet, loaded = _builtin_twice(EXAMPLE, tmp_path, max_nodes=10)
    assert_same_run(quiet, loaded)


@pytest.mark.slow
@pytest.mark.timeout(SLOW_TIMEOUT_S)
@pytest.mark.skipif(not BENCH.is_dir(), reason=f"no bench tasks at {BENCH}")
@pytest.mark.parametrize("task", BENCH_TASKS)
def test_builtin_engineer_same_run_under_load_on_a_bench_task(task: str, tmp_path: Path) -> None:
    quiet, loaded = _builtin_twice(BENCH / task / "public", tmp_path, max_nodes=8)
    assert_same_run(quiet, loaded)
