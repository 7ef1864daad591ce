"""One built-in draft of a media task run as the harness runs an attempt: the task prepared into a
run folder, the attempt's input/ linked to it (files: the task folder), the script run with its
model saved. The learned-model tests of each media layout score what it wrote."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mlestar.engineers.base import TaskContext
from mlestar.engineers.builtin.engineer import BuiltinEngineer
from mlestar.execution.base import Executor, Limits
from mlestar.prepare import prepare_run_data
from mlestar.run_layout import RunLayout
from mlestar.task import load_task_tables


def run_draft(
    ctx: TaskContext,
    tmp_path: Path,
    executor: Executor,
    candidate: int | str = 0,
    edit: Callable[[str], str] = lambda text: text,
) -> tuple[Path, Path]:
    """(the attempt folder, the run's data folder) after the engineer's draft of its `candidate`-th
    candidate (or the candidate of that name), changed by `edit`, ran to the end."""
    layout = RunLayout(tmp_path / "run")
    spec, tables = load_task_tables(ctx.spec.task_dir)
    prepare_run_data(spec, tables, layout, n_folds=5, seed=0, subsample_rows=30_000)
    work = tmp_path / "attempt"
    (work / "input").mkdir(parents=True)
    for name in ("train.parquet", "test.parquet", "target.npy", "folds.npy", "task.json"):
        (work / "input" / name).symlink_to(layout.data / name)
    (work / "input" / "files").symlink_to(ctx.spec.task_dir)
    engineer = BuiltinEngineer()
    if isinstance(candidate, str):
        named = [c for c in engineer.retrieve(ctx, 6) if c.name == candidate]
        assert named, f"the engineer offers no {candidate} for this task"
        chosen = named[0]
    else:
        chosen = engineer.retrieve(ctx, 2)[candidate]
    (work / "solution.py").write_text(edit(engineer.draft(ctx, chosen)))
    done = executor.run(work / "solution.py", work, Limits(timeout_s=300, env=(("MLESTAR_SAVE_MODEL", "1"),)))
    assert done.ok, done.stderr_tail[-2000:]
    return work, layout.data


BOOSTING_CAP = '"n_estimators": 2000'


def capped_rounds(text: str) -> str:
    """A draft whose LightGBM member stops at 200 rounds, not at the card's cap of 2000 (early
    stopping picks the rounds below it). A few dozen generated rows that tell their classes apart
    cleanly never stop early, so the cap, not the features a test asserts on, would take most of
    its time."""
    assert text.count(BOOSTING_CAP) == 1, "the draft's LightGBM settings moved: update BOOSTING_CAP"
    return text.replace(BOOSTING_CAP, '"n_estimators": 200')
