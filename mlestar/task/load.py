"""load_task: from a Kaggle-style task folder (plus task.yaml and flags) to a TaskSpec.

Nothing is written. Each inference is taken from the overrides when one is given there, and
TaskSpec.sources records where every field came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from mlestar.errors import TaskError
from mlestar.metrics import get_metric
from mlestar.task import files, infer
from mlestar.task.metric_phrases import find_metric, fit_to_problem
from mlestar.task.overrides import Overrides, load_overrides
from mlestar.task.spec import ProblemType, SubmissionLayout, TaskSpec

INFERRED = "inferred"
DEFAULT = "default"
_ROLES = (("train", "train"), ("test", "test"), ("sample", "sample_submission"))


@dataclass(frozen=True)
class TaskTables:
    """The tables as read at intake, so that callers need not parse them again."""

    train: pd.DataFrame
    test: pd.DataFrame
    sample_submission: pd.DataFrame | None


def load_task(task_dir: Path, overrides: Mapping[str, Any] | None = None) -> TaskSpec:
    """The task in task_dir. overrides (from CLI flags) use TaskSpec field names, like task.yaml."""
    return load_task_tables(task_dir, overrides)[0]


def load_task_tables(
    task_dir: Path, overrides: Mapping[str, Any] | None = None
) -> tuple[TaskSpec, TaskTables]:
    """The task and its tables (read once)."""
    task_dir = Path(task_dir).resolve()
    if not task_dir.is_dir():
        raise TaskError(
            f"expected a task folder, found {'a file' if task_dir.exists() else 'nothing'} at {task_dir}"
        )
    ov = load_overrides(task_dir, overrides)
    sources: dict[str, str] = {"task_dir": "flag"}
    description, description_path = _description(task_dir, ov, sources)
    paths = _locate(task_dir, ov, sources)
    tables = _read_tables(paths, ov)
    spec = _infer(task_dir, ov, sources, description, paths, tables)
    used = [p for p in (description_path, *paths.values()) if p is not None]
    extras = ov.get("extra_paths", files.extra_paths(task_dir, used))
    sources["extra_paths"] = ov.source("extra_paths")
    notes = (*_metric_note(description, spec), *_notes(paths, tables, spec))
    spec = replace(spec, extra_paths=extras, notes=notes)
    return spec, tables


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


def _locate(task_dir: Path, ov: Overrides, sources: dict[str, str]) -> dict[str, Path | None]:
    tables = files.list_tables(task_dir)
    paths: dict[str, Path | None] = {}
    for role, key in _ROLES:
        sources[f"{key}_path"] = ov.source(key)
        if key in ov:
            paths[role] = _given_path(task_dir, ov, key)
            continue
        found = files.pick_table(tables, role)
        paths[role] = found.path if found else None
    for role in ("train", "test"):
        if paths[role] is None:
            raise TaskError(
                f"expected a {role} table ({role}.csv, {role}.parquet, {role}.json, {role}.jsonl or a zip of one) "
                f"in {task_dir}, found {files.listing(task_dir)}"
            )
    return paths


def _given_path(task_dir: Path, ov: Overrides, key: str) -> Path:
    path = (task_dir / str(ov.get(key))).resolve()
    if not path.is_file():
        raise TaskError(
            f"expected the {key} file {ov.get(key)!r} named in {ov.source(key)} in {task_dir}, found no such file"
        )
    return path


def _read_tables(paths: dict[str, Path | None], ov: Overrides) -> TaskTables:
    sample_path = paths["sample"]
    id_guess = ov.get("id_column") if "id_column" in ov else None
    if id_guess is None and "id_column" not in ov and sample_path is not None:
        header = files.read_columns(sample_path)
        id_guess = header[0] if header else None
    sample = files.read_table(sample_path, id_guess) if sample_path is not None else None
    if id_guess is None and "id_column" not in ov and sample is not None:
        id_guess = str(sample.columns[0])
    train = files.read_table(_path(paths, "train"), id_guess)
    test = files.read_table(_path(paths, "test"), id_guess)
    for frame, path in ((train, paths["train"]), (test, paths["test"]), (sample, sample_path)):
        if frame is not None and path is not None and len(frame) == 0:
            raise TaskError(f"expected rows in {path.name}, found only a header")
    return TaskTables(train, test, sample)


def _path(paths: dict[str, Path | None], role: str) -> Path:
    path = paths[role]
    assert path is not None, role  # _locate guarantees train and test
    return path


def _infer(
    task_dir: Path,
    ov: Overrides,
    sources: dict[str, str],
    description: str,
    paths: dict[str, Path | None],
    t: TaskTables,
) -> TaskSpec:
    id_column = _id_column(ov, t, _path(paths, "test").name, sources)
    targets = _targets(task_dir, ov, t, id_column, sources)
    match = find_metric(description)
    hint = ov.get("metric", match.metric if match else None)
    problem = ov.get("problem_type") or infer.infer_problem_type(t.train, targets, hint)
    sources["problem_type"] = ov.source("problem_type")
    _check_problem(problem, t.train, targets)
    classes = ov.get("classes") if "classes" in ov else infer.infer_classes(t.train, targets, problem)
    sources["classes"] = ov.source("classes")
    metric, lower = _metric(
        ov, sources, match.metric if match else None, problem, targets, t.sample_submission
    )
    submission = _submission(ov, sources, problem, metric, targets, t, id_column)
    group = _group_column(ov, t.train, sources)
    sources["name"] = ov.source("name")
    return TaskSpec(
        name=ov.get("name", _task_name(task_dir)),
        task_dir=task_dir,
        description=description,
        train_path=_path(paths, "train"),
        test_path=_path(paths, "test"),
        sample_submission_path=paths["sample"],
        id_column=id_column,
        target_columns=targets.target_columns,
        train_target_columns=targets.train_target_columns,
        problem_type=problem,
        metric=metric,
        lower_is_better=lower,
        submission=submission,
        label_column=targets.label_column,
        classes=classes,
        group_column=group,
        sources=sources,
    )


def _group_column(ov: Overrides, train: pd.DataFrame, sources: dict[str, str]) -> str | None:
    sources["group_column"] = ov.source("group_column", DEFAULT)
    group = ov.get("group_column")
    if group is not None and group not in train.columns:
        columns = ", ".join(map(str, train.columns))
        raise TaskError(f"expected the group column {group!r} in train, found columns {columns}")
    return group


def _task_name(task_dir: Path) -> str:
    """MLE-bench keeps the data in <competition>/public: name the task after the competition."""
    return task_dir.parent.name if task_dir.name == "public" else task_dir.name


def _id_column(ov: Overrides, t: TaskTables, test_name: str, sources: dict[str, str]) -> str | None:
    sources["id_column"] = ov.source("id_column")
    id_column = (
        ov.get("id_column") if "id_column" in ov else infer.infer_id_column(t.test, t.sample_submission)
    )
    if id_column is not None:
        infer.check_ids(t.test, id_column, test_name)
    return id_column


def _targets(
    task_dir: Path, ov: Overrides, t: TaskTables, id_column: str | None, sources: dict[str, str]
) -> infer.Targets:
    sources["target_columns"] = ov.source("target_columns")
    if "target_columns" in ov:
        wanted = list(ov.get("target_columns"))
    elif t.sample_submission is not None:
        wanted = [str(c) for c in t.sample_submission.columns if c != id_column]
        if not wanted:
            raise TaskError(
                f"expected prediction columns besides the id in the sample submission, found only {id_column!r}"
            )
    else:
        raise TaskError(
            f"expected a sample submission (sample_submission.csv, sampleSubmission.csv, ...) in {task_dir} or "
            f"the target columns given (target_columns: in task.yaml, or a flag), found neither among "
            f"{files.listing(task_dir)}"
        )
    targets = infer.resolve_targets(t.train, t.test, wanted, ov.get("label_column"))
    sources["label_column"] = ov.source("label_column")
    sources["train_target_columns"] = ov.source("train_target_columns")
    if "train_target_columns" in ov:
        given = tuple(ov.get("train_target_columns"))
        missing = [c for c in given if c not in t.train.columns]
        if missing:
            raise TaskError(
                f"expected the target column(s) {', '.join(missing)} in train, found columns {', '.join(map(str, t.train.columns))}"
            )
        targets = replace(targets, train_target_columns=given)
    return targets


def _check_problem(problem: ProblemType, train: pd.DataFrame, targets: infer.Targets) -> None:
    if problem in (ProblemType.REGRESSION, ProblemType.MULTI_TARGET_REGRESSION, ProblemType.MULTILABEL):
        text = [c for c in targets.train_target_columns if not pd.api.types.is_numeric_dtype(train[c])]
        if text:
            raise TaskError(
                f"expected numeric values in the target(s) {', '.join(text)} for {problem}, found text"
            )


def _metric(
    ov: Overrides,
    sources: dict[str, str],
    named: str | None,
    problem: ProblemType,
    targets: infer.Targets,
    sample: pd.DataFrame | None,
) -> tuple[str, bool]:
    if "metric" in ov:
        metric, source = str(ov.get("metric")), ov.source("metric")
    elif named is not None:
        metric, source = fit_to_problem(named, problem), INFERRED
    else:
        metric, source = infer.default_metric(problem, targets, sample), DEFAULT
    sources["metric"] = source
    sources["lower_is_better"] = ov.source("lower_is_better", source)
    return metric, ov.get("lower_is_better", get_metric(metric).lower_is_better)


def _submission(
    ov: Overrides,
    sources: dict[str, str],
    problem: ProblemType,
    metric: str,
    targets: infer.Targets,
    t: TaskTables,
    id_column: str | None,
) -> SubmissionLayout:
    sample = t.sample_submission
    named = sources["metric"] != DEFAULT
    inferred = SubmissionLayout(
        columns=tuple(map(str, sample.columns))
        if sample is not None
        else (*([id_column] if id_column else []), *targets.target_columns),
        value_kind=infer.infer_value_kind(problem, metric, targets, sample, metric_named=named),
        row_order=infer.row_order(t.test, sample, id_column),
        dtypes=infer.dtype_names(sample) if sample is not None else (),
    )
    sources["submission"] = ov.source("submission")
    return replace(inferred, **ov.get("submission", {}))


def _notes(paths: dict[str, Path | None], t: TaskTables, spec: TaskSpec) -> tuple[str, ...]:
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
