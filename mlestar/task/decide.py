"""From the tables to a TaskSpec: keys, answers, problem type, metric, submission layout, solver.

Each inference is taken from the overrides when one is given (task.yaml or flags) and
TaskSpec.sources says where every field came from.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from mlestar.errors import TaskError
from mlestar.metrics import get_metric
from mlestar.task import (
    answers,
    box_rows,
    class_rows,
    infer,
    kinds,
    layout,
    levels,
    mask_files,
    reshape,
    side_labels,
    volumes,
)
from mlestar.task.metric_phrases import find_metric, fit_to_answers, fit_to_problem
from mlestar.task.overrides import Overrides
from mlestar.task.rows import PIXEL_FILES
from mlestar.task.spec import ProblemType, SubmissionLayout, TaskSpec
from mlestar.task.tables import TaskTables

INFERRED = "inferred"
DEFAULT = "default"


def infer_task(
    task_dir: Path, ov: Overrides, sources: dict[str, str], description: str,
    paths: dict[str, Path | None], t: TaskTables, built: dict[str, str],
) -> tuple[TaskSpec, TaskTables]:  # fmt: skip
    if "target_columns" not in ov and t.sample_submission is not None and t.sample_submission.shape[1] == 2:
        t = levels.with_levels(
            task_dir, t, str(t.sample_submission.columns[1]), built
        )  # "<x>_study", "<x>_image"
    pairs = side_labels.pairs_of(t.train)  # rows read from side label files, answered per (row, class)
    keys = _keys(ov, t, sources) if pairs is None else layout.Keys(pairs.key, "id")
    t = _with_made_ids(t, keys)
    sample = t.sample_submission
    if keys.key == "id" and keys.id_column not in t.test.columns and sample is not None:
        t = TaskTables(t.train, sample[[keys.id_column]].copy(), sample)
        built["test"] = (
            f"the rows of {keys.id_column} in the sample submission (the test table has no such column)"
        )
    if keys.id_column and keys.key == "id" and not keys.aggregate and not keys.unique_in_test:
        infer.check_ids(t.test, keys.id_column, paths["test"].name if paths["test"] else "the test table")
    mask_template, volume_entry = None, None
    if pairs is None:
        t = _long_train(ov, t, keys, built)
        if "train_target_columns" not in ov:
            t, volume_entry = volumes.with_volume_rows(
                task_dir, t, keys.id_column, built
            )  # folders of layers
            t, mask_template = mask_files.with_mask_answers(task_dir, t, keys.id_column, built)
        targets, kind = _targets(ov, t, keys, sources)
        t, dropped = _drop_unanswered(t, targets)
    else:  # a recording with no label is answered (no class present), not unanswered
        targets, kind, dropped = pairs.targets(sample), "labelsets", 0
        sources.update(dict.fromkeys(side_labels.DECIDED, INFERRED))
    match = find_metric(description)
    named = match.metric if match else None
    try:
        problem = ov.get("problem_type") or _problem(t, targets, kind, named)
    except TaskError:
        if "target_columns" in ov or "train_target_columns" in ov:
            raise
        targets, kind = infer.Targets(targets.target_columns, ()), "none"  # answers no model reads
        problem = _problem(t, targets, kind, named)
    sources["problem_type"] = ov.source("problem_type")
    classes, separator = _classes(ov, t, targets, kind, problem, sources)
    scored = problem if pairs is None else ProblemType.BINARY  # the pair rows are scored, 0/1 each
    metric, lower = _metric(ov, sources, named, scored, targets, t.sample_submission)
    submission = _submission(ov, sources, problem, metric, targets, t, keys, kind)
    if pairs is not None:
        submission = replace(submission, value_kind="probability", row_order="sample", pairs=pairs.rule)
    row_files = kinds.row_files(task_dir, t, keys.id_column)
    if not row_files and keys.key == "position":  # one row per (picture, class): the pictures by key
        t, row_files = class_rows.with_pictures(task_dir, t, keys.copy_columns, built)
    row_files = levels.row_files(t.train) or row_files
    if mask_template:  # the arrays the masks are drawn on are the rows' pictures
        row_files = tuple({**entry, "kind": "image"} for entry in row_files)
    if volume_entry:  # the rows' folders of layers, not the pictures beside them
        row_files = (volume_entry,)
    spec = TaskSpec(
        name=ov.get("name", _task_name(task_dir)), task_dir=task_dir, description=description,
        train_path=paths["train"] or task_dir, test_path=paths["test"] or task_dir,
        sample_submission_path=paths["sample"], id_column=keys.id_column,
        target_columns=targets.target_columns, train_target_columns=targets.train_target_columns,
        problem_type=problem, metric=metric, lower_is_better=lower, submission=submission,
        label_column=targets.label_column, classes=classes, group_column=_group_column(ov, t.train, sources),
        sources=sources, row_files=row_files, dropped_rows=dropped, built_from=built,
        train_only=tuple(str(c) for c in t.train.columns if c not in t.test.columns and c != keys.id_column),
        id_is_feature=kinds.id_carries_time(t.test, keys.id_column), label_separator=separator,
        inputs=kinds.inputs(t, row_files, keys.id_column),
    )  # fmt: skip
    sources["name"] = ov.source("name")
    solver, baseline = kinds.solver(spec, t)
    return replace(spec, solver=solver, baseline=baseline), t


def _keys(ov: Overrides, t: TaskTables, sources: dict[str, str]) -> layout.Keys:
    sources["id_column"] = ov.source("id_column")
    if "id_column" in ov:
        return layout.Keys(ov.get("id_column"), "id" if ov.get("id_column") else "position")
    if t.sample_submission is None:
        return layout.Keys(infer.infer_id_column(t.test, None), "id")
    return layout.sample_keys(t.test, t.sample_submission)


def _with_made_ids(t: TaskTables, keys: layout.Keys) -> TaskTables:
    if not keys.made_from or keys.id_column is None:
        return t
    test = t.test.assign(**{keys.id_column: layout.join_columns(t.test, keys.made_from)})
    train = t.train
    if set(keys.made_from) <= set(train.columns):
        train = train.assign(**{keys.id_column: layout.join_columns(train, keys.made_from)})
    return TaskTables(train, test, t.sample_submission)


def _long_train(ov: Overrides, t: TaskTables, keys: layout.Keys, built: dict[str, str]) -> TaskTables:
    """Train melted to test's shape when train holds one answer column per part test rows name."""
    if "train_target_columns" in ov or t.sample_submission is None:
        return t
    wanted = _wanted(ov, t, keys)
    melted = reshape.melt_wide_answers(t, wanted[0], keys.id_column) if len(wanted) == 1 else None
    if melted is None and len(wanted) == 1:
        melted = box_rows.group_boxes(t, wanted[0], keys.id_column)  # one row per box: one per picture
    if melted is None:
        return t
    built["train"] = "; ".join(filter(None, (built.get("train"), melted[1])))
    return melted[0]


def _wanted(ov: Overrides, t: TaskTables, keys: layout.Keys) -> list[str]:
    if "target_columns" in ov:
        return list(ov.get("target_columns"))
    if t.sample_submission is None:
        if t.train.shape[1] == 1 and t.test.shape[1] >= 2:  # a corpus: restore the test's own text
            return [c for c in map(str, t.test.columns) if c != keys.id_column][-1:]
        raise TaskError(
            "expected a sample submission (sample_submission.csv, sampleSubmission.csv, ...) or the target "
            f"columns given (target_columns: in task.yaml, or a flag), found neither among {list(t.test.columns)}"
        )
    skip = {keys.id_column, *keys.copy_columns}
    wanted = [str(c) for c in t.sample_submission.columns if c not in skip]
    if not wanted:
        raise TaskError(
            f"expected prediction columns besides the id in the sample submission, found only {keys.id_column!r}; "
            "set target_columns in task.yaml"
        )
    return wanted


def _targets(
    ov: Overrides, t: TaskTables, keys: layout.Keys, sources: dict[str, str]
) -> tuple[infer.Targets, str]:
    """The answers and how train holds them: same, onehot, label, labelsets, renamed or none."""
    sources["target_columns"] = ov.source("target_columns")
    sources["label_column"] = ov.source("label_column")
    sources["train_target_columns"] = ov.source("train_target_columns")
    wanted = _wanted(ov, t, keys)
    if "train_target_columns" in ov:
        given = tuple(ov.get("train_target_columns"))
        _require(t.train, given)
        return infer.Targets(tuple(wanted), given, ov.get("label_column")), "renamed"
    return _resolve(t, keys, wanted, ov.get("label_column"), explicit="target_columns" in ov)


def _resolve(
    t: TaskTables, keys: layout.Keys, wanted: list[str], label: str | None, explicit: bool = False
) -> tuple[infer.Targets, str]:
    train, test = t.train, t.test
    if train.empty:
        return infer.Targets(tuple(wanted), ()), "none"
    if all(c in train.columns for c in wanted) and not label:
        kind = "onehot" if answers.is_one_hot(train, wanted) else "same"
        return infer.Targets(
            tuple(wanted), tuple(wanted), classes=tuple(wanted) if kind == "onehot" else None
        ), kind
    try:
        found = infer.resolve_targets(train, test, wanted, label)
        return found, "label" if found.label_column else "same"
    except TaskError:
        if label:
            raise
    for col in (c for c in map(str, train.columns) if c not in test.columns and c != keys.id_column):
        sets = answers.label_sets(train[col])
        if sets and len(wanted) > 1 and set(wanted) <= set(sets[1]):
            return infer.Targets(tuple(wanted), (col,), label_column=col, classes=tuple(wanted)), "labelsets"
    if len(wanted) == 1 and not explicit and not _several_rows_per_key(t, keys.id_column):
        picked = answers.pick_label(train, test, keys.id_column, wanted[0])
        if picked is not None:
            return infer.Targets(tuple(wanted), (picked,)), "renamed"
    if explicit:
        _require(train, tuple(wanted))
    return infer.Targets(tuple(wanted), ()), "none"


def _several_rows_per_key(t: TaskTables, id_column: str | None) -> bool:
    """Train repeats the key test names once (one row per box of a picture): each answer is made
    of several training rows, so no single train column holds it."""
    if id_column is None or id_column not in t.train.columns or id_column not in t.test.columns:
        return False
    return bool(t.train[id_column].duplicated().any() and t.test[id_column].is_unique)


def _require(train: pd.DataFrame, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in train.columns]
    if missing:
        raise TaskError(
            f"expected the target column(s) {', '.join(missing)} in train (or a label column naming them), found "
            f"columns {', '.join(map(str, train.columns))}; fix target_columns or train_target_columns in task.yaml"
        )


def _drop_unanswered(t: TaskTables, targets: infer.Targets) -> tuple[TaskTables, int]:
    # A blank run-length mask is the empty mask, a blank box string no box: answers, those rows stay.
    cols = [
        c for c in targets.train_target_columns
        if not answers.are_run_lengths(t.train[c]) and not box_rows.are_box_strings(t.train[c], allow_empty=True)
    ]  # fmt: skip
    if not cols:
        return t, 0
    empty = answers.unanswered(t.train, cols)
    if not empty.any():
        return t, 0
    train = t.train.loc[~empty].reset_index(drop=True)
    train.attrs.update(t.train.attrs)
    return TaskTables(train, t.test, t.sample_submission), int(empty.sum())


def _problem(t: TaskTables, targets: infer.Targets, kind: str, metric: str | None) -> ProblemType:
    wanted = list(targets.target_columns)
    if kind == "labelsets":
        return ProblemType.MULTILABEL
    if kind == "onehot":
        return ProblemType.MULTICLASS
    if kind == "none":
        return _problem_without_answers(t, wanted, metric)
    cols = list(targets.train_target_columns)
    if len(cols) == 1 and targets.label_column is None:
        values = t.train[cols[0]]
        if answers.is_texty(values) and (
            answers.are_spans(values, t.train) or answers.rewrites_input(values, t.train)
        ):
            return ProblemType.TEXT
        sets = answers.label_sets(values)
        if (
            sets
            and len(sets[1]) <= answers.MAX_LABEL_VOCAB
            and not (metric and answers.is_text_metric(metric))
        ):
            return ProblemType.MULTILABEL
        text = answers.problem_for_text(values, metric)
        if text is not None:
            return text
    return infer.infer_problem_type(t.train, targets, metric)


def _problem_without_answers(t: TaskTables, wanted: list[str], metric: str | None) -> ProblemType:
    sample = t.sample_submission
    values = sample[wanted[0]] if sample is not None and wanted[0] in sample.columns else t.test[wanted[0]]
    if (metric and answers.is_text_metric(metric)) or answers.looks_like_text(values) or values.isna().all():
        return ProblemType.TEXT
    if metric and metric.startswith("map_at") or not pd.api.types.is_numeric_dtype(values):
        return ProblemType.TEXT
    family = infer.metric_family(metric)
    if family == "regression" or (family is None and len(wanted) > 1):
        return ProblemType.REGRESSION if len(wanted) == 1 else ProblemType.MULTI_TARGET_REGRESSION
    return (
        ProblemType.MULTILABEL
        if len(wanted) > 1
        else (
            ProblemType.BINARY
            if metric and get_metric(metric).needs == "probability"
            else ProblemType.MULTICLASS
        )
    )


def _classes(
    ov: Overrides,
    t: TaskTables,
    targets: infer.Targets,
    kind: str,
    problem: ProblemType,
    sources: dict[str, str],
) -> tuple[tuple[str, ...] | None, str]:
    sources["classes"] = ov.source("classes")
    if "classes" in ov:
        return ov.get("classes"), ""
    if kind == "labelsets":
        sets = answers.label_sets(t.train[targets.train_target_columns[0]])
        return targets.classes, sets[0] if sets else " "
    if problem is ProblemType.MULTILABEL and len(targets.train_target_columns) == 1:
        sets = answers.label_sets(t.train[targets.train_target_columns[0]])
        if sets:
            return sets[1], sets[0]
    if kind == "none" or problem is ProblemType.TEXT:
        return None, ""
    return infer.infer_classes(t.train, targets, problem), ""


def _metric(
    ov: Overrides, sources: dict[str, str], named: str | None, problem: ProblemType,
    targets: infer.Targets, sample: pd.DataFrame | None,
) -> tuple[str, bool]:  # fmt: skip
    if "metric" in ov:
        metric, source = str(ov.get("metric")), ov.source("metric")
    elif named is not None:
        named = _box_evaluator(named, sample, targets)
        metric, source = _fit(fit_to_problem(named, problem), problem, targets), INFERRED
    elif problem is ProblemType.TEXT and _boxes_asked(sample, targets):
        metric, source = _box_evaluator("box_map_voc", sample, targets), DEFAULT  # boxes are scored as boxes
    elif problem is ProblemType.TEXT:
        metric, source = "accuracy", DEFAULT
    else:
        metric, source = infer.default_metric(problem, targets, sample), DEFAULT
    sources["metric"] = source
    sources["lower_is_better"] = ov.source("lower_is_better", source)
    return metric, ov.get("lower_is_better", get_metric(metric).lower_is_better)


def _boxes_asked(sample: pd.DataFrame | None, targets: infer.Targets) -> bool:
    column = targets.target_columns[0]
    return sample is not None and column in sample.columns and box_rows.are_box_strings(sample[column])


def _box_evaluator(named: str, sample: pd.DataFrame | None, targets: infer.Targets) -> str:
    """Box strings whose classes are numbers ("14 1 0 0 1 1") are category ids of a COCO-style
    evaluator (COCO needs integer categories); boxes labelled by words keep the VOC-style AP."""
    column = targets.target_columns[0]
    if not named.startswith("box_map_voc") or sample is None or column not in sample.columns:
        return named
    first = sample[column].dropna().astype(str).str.split().str[0]
    if first.empty or not first.str.fullmatch(r"\d+").all():
        return named
    params = named.partition(":")[2]
    return get_metric("box_map_coco" + (f":{params}" if params else "")).name


def _submission(
    ov: Overrides, sources: dict[str, str], problem: ProblemType, metric: str, targets: infer.Targets,
    t: TaskTables, keys: layout.Keys, kind: str,
) -> SubmissionLayout:  # fmt: skip
    sample = t.sample_submission
    columns = (
        tuple(map(str, sample.columns)) if sample is not None
        else (*([keys.id_column] if keys.id_column else []), *targets.target_columns)
    )  # fmt: skip
    value_kind, top_k = _value_kind(problem, metric, targets, t, kind, sources)
    inferred = SubmissionLayout(
        columns=columns, value_kind=value_kind, top_k=top_k,
        row_order=infer.row_order(t.test, sample, keys.id_column) if keys.key == "id" else "test",
        dtypes=infer.dtype_names(sample) if sample is not None else (),
        key=keys.key, copy_columns=keys.copy_columns, aggregate=keys.aggregate,
    )  # fmt: skip
    sources["submission"] = ov.source("submission")
    return replace(inferred, **ov.get("submission", {}))


def _fit(metric: str, problem: ProblemType, targets: infer.Targets) -> str:
    """The variant of the named metric that reads these answers (label lists, free text)."""
    if problem is ProblemType.TEXT:
        return fit_to_answers(metric, "text")
    if problem is ProblemType.MULTILABEL and len(targets.target_columns) == 1:
        return fit_to_answers(metric, "label_lists")
    return metric


def _value_kind(
    problem: ProblemType,
    metric: str,
    targets: infer.Targets,
    t: TaskTables,
    kind: str,
    sources: dict[str, str],
) -> tuple[str, int]:
    if problem is ProblemType.TEXT:
        return "text", 0
    if problem is ProblemType.MULTILABEL and len(targets.target_columns) == 1:
        return "labels", 0
    if metric.startswith("map_at") and problem in (ProblemType.MULTICLASS, ProblemType.BINARY):
        return "ranked", int(metric.rsplit("_", 1)[1]) if metric[-1].isdigit() else 3
    if problem is ProblemType.MULTICLASS and len(targets.target_columns) > 1:
        return "probability", 0
    sample = t.sample_submission
    if (
        problem is ProblemType.MULTI_TARGET_REGRESSION
        and sample is not None
        and _sums_to_one(sample, targets)
    ):
        return "distribution", 0
    named = sources["metric"] != DEFAULT
    return infer.infer_value_kind(problem, metric, targets, sample, metric_named=named), 0


def _sums_to_one(sample: pd.DataFrame, targets: infer.Targets) -> bool:
    cols = [c for c in targets.target_columns if c in sample.columns]
    values = sample[cols].apply(pd.to_numeric, errors="coerce")
    return bool(len(cols) > 1 and ((values.sum(axis=1) - 1).abs() < 1e-3).all())


def _group_column(ov: Overrides, train: pd.DataFrame, sources: dict[str, str]) -> str | None:
    sources["group_column"] = ov.source("group_column", DEFAULT)
    group = ov.get("group_column")
    pixels = (
        train.attrs.get(PIXEL_FILES)
        or train.attrs.get(class_rows.CLASS_ROWS)
        or train.attrs.get(levels.LEVEL_ROWS)
    )
    if group is None and "group_column" not in ov and pixels and train[pixels["key"]].nunique() >= 10:
        # Pixels of one picture are alike (so are a picture's rows per class): folds split pictures,
        # so validation sees unseen pages (given enough pictures for five folds of two each).
        sources["group_column"] = INFERRED
        group = pixels["key"]
    if group is not None and group not in train.columns:
        columns = ", ".join(map(str, train.columns))
        raise TaskError(
            f"expected the group column {group!r} in train, found columns {columns}; fix group_column"
        )
    return group


def _task_name(task_dir: Path) -> str:
    """MLE-bench keeps the data in <competition>/public: name the task after the competition."""
    return task_dir.parent.name if task_dir.name == "public" else task_dir.name


def notes(spec: TaskSpec) -> tuple[str, ...]:
    """What the reading decided that a user should know."""
    out: list[str] = [f"{role} rows: {how}" for role, how in spec.built_from.items()]
    renamed = [t for t in spec.target_columns if t not in spec.train_target_columns]
    if len(spec.target_columns) == 1 and renamed and spec.train_target_columns and not spec.label_column:
        out.append(f"the answers for {renamed[0]} are train's column {spec.train_target_columns[0]}")
    if spec.dropped_rows:
        out.append(f"{spec.dropped_rows} training row(s) without an answer dropped")
    if spec.submission.key == "position":
        copied = ", ".join(spec.submission.copy_columns) or "nothing"
        out.append(f"no id column keys the submission: rows follow the test order (copied: {copied})")
    if spec.submission.aggregate:
        out.append(f"several test rows share each {spec.id_column}: their predictions are averaged")
    if spec.id_is_feature:
        out.append(f"the id {spec.id_column} is a date-time: it keys the submission and stays a feature")
    if spec.solver == "baseline":
        out.append(
            f"no engineer can learn these answers from the data here: the baseline '{spec.baseline}' answers"
        )
    elif spec.inputs not in ("tabular", "text", "image", "audio", "signal", "volume"):
        out.append(
            f"the rows' inputs are {spec.inputs} files: the built-in engineer reads only the table columns"
        )
    return tuple(out)
