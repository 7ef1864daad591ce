"""What an export needs from a finished run folder, checked before anything is written.

A run is finished when its journal holds a run_finished event. Everything the exported project
copies is located here: the standalone solution (and its ensemble members), the data the final fit
read (folds_full.npy as the folds: every row in a fold, and the search's folds as folds_search.npy
when a member the run did not refit runs on them, see handover/rows.py), the task's own files the
scripts may read through ./input/files, the run's submission, and the facts the project files quote.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlestar import contract
from mlestar.errors import RunFolderError
from mlestar.handover import rows
from mlestar.journal import JOURNAL_FILE, Journal
from mlestar.prepare import sha256_file
from mlestar.run_layout import RunLayout
from mlestar.task.spec import TaskSpec


def default_threads() -> int:
    """The final fit's threads when the journal does not record them: the run gives its final fit
    every core, and an export usually happens on the machine that ran it."""
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class FinishedRun:
    root: Path
    solution: Path
    parts: Path | None
    """solution_parts/ when the final solution is an ensemble."""
    submission: Path
    inputs: tuple[tuple[str, Path], ...]
    """(name in ./input, source file): the final fit's view of the data."""
    task_files: tuple[tuple[str, Path], ...]
    """(path under ./input/files, source file or folder): the task's own files scripts may read."""
    seed: int
    threads: int
    """Threads of the final fit (run_finished's "threads"): thread counts can change results."""
    versions: dict[str, str]
    """Package versions the run recorded (run_started), possibly empty."""
    task_name: str
    metric: str | None
    score: float | None
    status: str
    id_column: str | None = None
    inexact: tuple[str, ...] = ()
    """Why the run's submission is not what solution.py computes, as the journal says (members the
    final fit did not refit, whose stored predictions came from a subsample)."""
    searched_rows: tuple[tuple[str, str, int], ...] = ()
    """(member, folds file in ./input, rows in a fold) for each member solution.py runs on the
    rows it was searched on: the run kept its stored predictions, from a subsample."""


def read_finished_run(run_dir: Path) -> FinishedRun:
    """The finished run in run_dir; RunFolderError when it is not a run folder or not finished."""
    layout = RunLayout(run_dir)
    if not (run_dir / JOURNAL_FILE).is_file():
        found = "no such folder" if not run_dir.exists() else f"no {JOURNAL_FILE} in it"
        raise RunFolderError(f"expected a run folder (with {JOURNAL_FILE}) at {run_dir}, found {found}")
    journal = Journal(run_dir)
    finished = _last_event(journal, "run_finished")
    if finished is None:
        raise RunFolderError(
            f"expected a finished run (a run_finished event in {layout.journal}), found an unfinished run "
            f"with {len(journal.nodes)} attempts: resume it or wait for it to finish before exporting"
        )
    started = _last_event(journal, "run_started") or {}
    spec = _task_spec(layout, started)
    members = _final_members(journal)
    searched = {str(e["member"]): str(e["folds"]) for e in members if e.get("folds")}
    extra = {name: rows.sources(layout)[name] for name in sorted(set(searched.values()))}
    run = FinishedRun(
        root=run_dir,
        solution=_named_file(run_dir, finished.get("solution"), layout.solution),
        parts=layout.solution_parts if layout.solution_parts.is_dir() else None,
        submission=_named_file(run_dir, finished.get("submission"), layout.submission),
        inputs=_inputs(layout, extra),
        task_files=_task_files(spec),
        seed=int(started.get("config", {}).get("seed", 42)),
        threads=int(finished.get("threads") or default_threads()),
        versions={str(k): str(v) for k, v in (started.get("versions") or {}).items()},
        task_name=spec.name if spec else run_dir.name,
        metric=spec.metric if spec else None,
        score=finished.get("score"),
        status=str(finished.get("status", "ok")),
        id_column=spec.id_column if spec else None,
        inexact=_inexact(members),
        searched_rows=tuple((m, f, rows.rows_in(extra[f])) for m, f in searched.items() if extra[f].exists()),
    )
    _require_files(run)
    _require_recorded_content(run, _last_event(journal, "inputs_hashed") or {})
    return run


def _final_members(journal: Journal) -> list[dict[str, Any]]:
    """The last final_member event of each member (a resume repeats them)."""
    last = {e["member"]: e for e in journal.events if e.get("name") == "final_member"}
    return list(last.values())


def _inexact(members: list[dict[str, Any]]) -> tuple[str, ...]:
    """What the final_member events say makes the submission differ from what solution.py computes."""
    clock = [
        f"{e['member']} depends on the clock outside the explore guard ({e['clock'][0]}): it searches "
        "again instead of using what the run found"
        for e in members
        if e.get("clock")
    ]
    stored = [
        f"{e['member']} was not refit ({e.get('reason')}): the submission used its stored predictions, "
        + _stored_cause(e)
        for e in members
        if not e.get("exact", True) and not e.get("refit") and not e.get("clock")
    ]
    unrepeatable = [
        f"{e['member']} predicted differently in its refit than in the search on the same rows: "
        "its script is not repeatable (something in it depends on the clock, the machine or chance)"
        for e in members
        if e.get("repeated") is False
    ]
    return tuple(clock + stored + unrepeatable)


def _stored_cause(event: dict[str, Any]) -> str:
    """Why a member's stored predictions are not what solution.py computes. Journals that record
    the folds a stored member runs on (handover/rows.py) run it on its search's rows, so only a
    stacker reading out-of-fold predictions averaged over repeated splits remains."""
    if "folds" in event:
        return "and the stacker read its out-of-fold predictions averaged over several splits of the rows"
    return "from the search's subsample of the rows"


def _last_event(journal: Journal, name: str) -> dict[str, Any] | None:
    found = [e for e in journal.events if e.get("name") == name]
    return found[-1] if found else None


def _named_file(run_dir: Path, recorded: Any, default: Path) -> Path:
    """A path the journal recorded relative to the run folder, or the layout's default."""
    return run_dir / str(recorded) if recorded else default


def _task_spec(layout: RunLayout, started: dict[str, Any]) -> TaskSpec | None:
    if layout.task.is_file():
        return TaskSpec.load(layout.task)
    if started.get("task"):
        return TaskSpec.from_json(dict(started["task"]))
    return None


def _inputs(layout: RunLayout, extra: dict[str, Path]) -> tuple[tuple[str, Path], ...]:
    """The final fit's ./input, and `extra` folds files members run on instead of folds.npy."""
    data = layout.data
    return (
        (contract.TRAIN_FILE, data / contract.TRAIN_FILE),
        (contract.TEST_FILE, data / contract.TEST_FILE),
        (contract.TARGET_FILE, data / contract.TARGET_FILE),
        (contract.FOLDS_FILE, layout.folds_full),
        (contract.TASK_FILE, data / contract.TASK_FILE),
        *extra.items(),
    )


def _task_files(spec: TaskSpec | None) -> tuple[tuple[str, Path], ...]:
    """The extra files and the sample submission, at their places in the task folder.

    The scripts see the whole task folder as ./input/files; these are the parts they are meant to
    read there (the tables themselves come parsed as train.parquet and test.parquet).
    """
    if spec is None:
        return ()
    found = [(rel, spec.task_dir / rel) for rel in spec.extra_paths]
    sample = spec.sample_submission_path
    if sample is not None:
        rel = sample.relative_to(spec.task_dir) if sample.is_relative_to(spec.task_dir) else Path(sample.name)
        found.append((str(rel), sample))
    return tuple(dict(found).items())


def _require_files(run: FinishedRun) -> None:
    needed = [
        run.solution,
        run.submission,
        *(src for _, src in run.inputs),
        *(src for _, src in run.task_files),
    ]
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        raise RunFolderError(
            f"expected every file the export copies to exist, found {len(missing)} missing: {', '.join(missing)}"
        )


def _require_recorded_content(run: FinishedRun, hashed: dict[str, Any]) -> None:
    """Every copied file the run hashed (inputs_hashed) must still hold what the run read: an
    export of changed data would not reproduce the submission, and nothing would say so."""
    data = hashed.get("data") or {}
    files = hashed.get("files") or {}
    checks = [(data.get(src.name), src) for _, src in run.inputs]
    checks += [(files.get(rel), path) for rel, path in _task_file_members(run)]
    changed = [str(path) for digest, path in checks if digest is not None and sha256_file(path) != digest]
    if changed:
        raise RunFolderError(
            "expected the files the run read, with the content hashes its journal recorded, found "
            f"{len(changed)} changed since the run: {', '.join(changed)}"
        )


def _task_file_members(run: FinishedRun) -> list[tuple[str, Path]]:
    """(path relative to the task folder, file) for every file the export copies from the task."""
    members = []
    for rel, src in run.task_files:
        if src.is_dir():
            members += [
                (str(Path(rel) / f.relative_to(src)), f) for f in sorted(src.rglob("*")) if f.is_file()
            ]
        else:
            members.append((rel, src))
    return members
