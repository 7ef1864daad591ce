"""load_task: from a Kaggle-style task folder (plus task.yaml and flags) to a TaskSpec.

Nothing is written. Each inference is taken from the overrides when one is given there, and
TaskSpec.sources records where every field came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from mlestar.errors import TaskError
from mlestar.task import class_folders, decide, files, infer, locate
from mlestar.task.decide import DEFAULT, INFERRED
from mlestar.task.metric_phrases import find_metric
from mlestar.task.overrides import Overrides, load_overrides
from mlestar.task.spec import TaskSpec
from mlestar.task.tables import TaskTables

__all__ = ["TaskTables", "load_task", "load_task_tables"]


def load_task(task_dir: Path, overrides: Mapping[str, Any] | None = None) -> TaskSpec:
    """The task in task_dir. overrides (from CLI flags) use TaskSpec field names, like task.yaml."""
    return load_task_tables(task_dir, overrides)[0]


def load_task_tables(
    task_dir: Path, overrides: Mapping[str, Any] | None = None
) -> tuple[TaskSpec, TaskTables]:
    """The task and its tables (read once; tables no file holds are built from the task's files)."""
    task_dir = _task_folder(Path(task_dir).resolve())
    ov = load_overrides(task_dir, overrides)
    sources: dict[str, str] = {"task_dir": "flag"}
    description, description_path = _description(task_dir, ov, sources)
    found = locate.locate(task_dir, ov, sources)
    got = locate.read(task_dir, found, ov)
    if got.sample is not None and got.built.get("train", "").startswith("none"):
        by_folder = class_folders.class_folder_table(task_dir, got.sample, description)
        if by_folder is not None:  # training files in one folder per class, the prose says which is 0
            got.train, got.built["train"] = by_folder
    joined = locate.join_side_tables(task_dir, found, got)
    for role, frame in (("train", got.train), ("test", got.test)):
        if frame is None:
            raise TaskError(
                f"expected a {role} table ({role}.csv, {role}.parquet, {role}.json, {role}.jsonl or a zip of one) "
                f"in {task_dir}, found {files.listing(task_dir)}; name it with {role}: in task.yaml"
            )
    assert got.train is not None and got.test is not None
    named = {
        "train": found.train[0] if found.train else None,
        "test": found.test,
        "sample submission": found.sample,
    }
    for frame, role in ((got.train, "train"), (got.test, "test"), (got.sample, "sample submission")):
        if frame is not None and len(frame) == 0 and not got.built.get(role, "").startswith("none"):
            path = named[role]
            raise TaskError(f"expected rows in {path.name if path else role}, found only a header")
    tables = TaskTables(got.train, got.test, got.sample)
    paths = {"train": found.train[0] if found.train else task_dir, "test": found.test or found.sample or task_dir,
             "sample": found.sample}  # fmt: skip
    spec, tables = decide.infer_task(task_dir, ov, sources, description, paths, tables, got.built)
    used = [p for p in (description_path, *found.train, found.test, found.sample) if p is not None]
    extras = ov.get("extra_paths", files.extra_paths(task_dir, used))
    sources["extra_paths"] = ov.source("extra_paths")
    notes = (*_metric_note(description, spec), *_notes(paths, tables, spec), *decide.notes(spec))
    spec = replace(spec, extra_paths=extras, joined=joined, notes=(*notes, *(f"joined {j}" for j in joined)))
    return spec, tables


def _task_folder(task_dir: Path) -> Path:
    """The folder itself, or the one folder inside it when the task is nested one level down."""
    if not task_dir.is_dir():
        raise TaskError(
            f"expected a task folder, found {'a file' if task_dir.exists() else 'nothing'} at {task_dir}"
        )
    entries = [p for p in task_dir.iterdir() if not p.name.startswith(".") and p.name != "task.yaml"]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return task_dir


def _metric_note(description: str, spec: TaskSpec) -> tuple[str, ...]:
    source = spec.sources.get("metric")
    if source == INFERRED:
        match = find_metric(description)
        return (f"metric read from the description's words {match.phrase!r}",) if match else ()
    if source == DEFAULT:
        return (
            f"the description names no known metric: {spec.metric} is the default for {spec.problem_type}",
        )
    return ()


def _description(task_dir: Path, ov: Overrides, sources: dict[str, str]) -> tuple[str, Path | None]:
    sources["description"] = ov.source("description")
    if "description" in ov:
        return str(ov.get("description")), None
    path = files.find_description(task_dir)
    text, _ = files.read_text(path)
    if not text.strip():
        raise TaskError(f"expected a task description in {path.name}, found an empty file")
    return text, path


def _notes(paths: dict[str, Path | None], t: TaskTables, spec: TaskSpec) -> tuple[str, ...]:
    """What intake noticed about the files: encodings, ids that differ, no sample submission."""
    notes = []
    frames = (t.train, t.test, t.sample_submission)
    for frame, role in zip(frames, ("train", "test", "sample"), strict=True):
        path = paths[role]
        if frame is not None and path is not None and frame.attrs.get(files.ENCODING_NOTE):
            notes.append(f"{path.name} is not UTF-8: read as {frame.attrs[files.ENCODING_NOTE]}")
    mismatch = infer.id_mismatch_note(t.test, t.sample_submission, spec.id_column)
    if mismatch:
        notes.append(mismatch)
    if spec.sample_submission_path is None:
        notes.append("no sample submission: the submission layout is built from the id and target columns")
    return tuple(notes)
