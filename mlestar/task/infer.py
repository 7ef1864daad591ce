"""Inference on the task's tables: id column, targets, problem type, classes, submission layout.

Pure functions of DataFrames (no file access), each answering one question; mlestar.task.load
strings them together with the overrides.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlestar.errors import TaskError
from mlestar.metrics import get_metric
from mlestar.task.metric_phrases import DEFAULT_METRIC
from mlestar.task.spec import ProblemType

_ID_NAME = re.compile(r"(^id$|^id_|_id$|id$)", re.IGNORECASE)
_REGRESSION_NEEDS = "value"


@dataclass(frozen=True)
class Targets:
    """What the submission predicts and where train holds the answers."""

    target_columns: tuple[str, ...]
    train_target_columns: tuple[str, ...]
    label_column: str | None = None
    classes: tuple[str, ...] | None = None
    """Set when each prediction column is one class (the label values, in column order)."""


def label_text(value: object) -> str:
    """One spelling per label: True -> "True", 1.0 -> "1", " a " -> "a"."""
    if isinstance(value, bool | np.bool_):
        return "True" if value else "False"
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _columns_text(df: pd.DataFrame, limit: int = 15) -> str:
    cols = [str(c) for c in df.columns]
    return ", ".join(cols[:limit]) + (f" and {len(cols) - limit} more" if len(cols) > limit else "")


# ---------------------------------------------------------------- id column


def id_text(ids: pd.Series) -> pd.Series:
    """Ids as text, vectorised, so that 7, 7.0 and "7" compare equal across tables."""
    if pd.api.types.is_float_dtype(ids) and bool((ids.dropna() % 1 == 0).all()):
        return ids.astype("Int64").astype("str")
    return ids.astype("str")


def infer_id_column(test: pd.DataFrame, sample: pd.DataFrame | None) -> str | None:
    """The sample submission's first column when test has it (Kaggle's convention), else the first
    column the two share; without a sample, a unique test column named like an id."""
    if sample is not None:
        shared = [c for c in sample.columns if c in test.columns]
        return shared[0] if shared else None
    for col in test.columns:
        if _ID_NAME.search(str(col)) and test[col].is_unique:
            return str(col)
    return None


def check_ids(test: pd.DataFrame, id_column: str, table_name: str) -> None:
    if id_column not in test.columns:
        raise TaskError(
            f"expected the id column {id_column!r} in {table_name}, found columns {_columns_text(test)}"
        )
    ids = test[id_column]
    if all_unique(ids):
        return
    dup = ids[ids.duplicated()]
    if len(dup):
        example = ", ".join(repr(v) for v in dup.unique()[:3].tolist())
        raise TaskError(
            f"expected unique ids in column {id_column!r} of {table_name}, found {len(dup)} repeated (e.g. {example})"
        )


def row_order(test: pd.DataFrame, sample: pd.DataFrame | None, id_column: str | None) -> str:
    """ "test" when the sample lists the test ids in test order (or there is no sample), else "sample"."""
    if sample is None or id_column is None or id_column not in sample.columns:
        return "test"
    return "test" if same_ids(test[id_column], sample[id_column]) else "sample"


def same_ids(a: pd.Series, b: pd.Series) -> bool:
    """The same ids in the same order, compared as text in Arrow (milliseconds on millions of ids,
    where a set of them costs seconds): the common case, which spares the set arithmetic below."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(a) != len(b):
        return False
    x, y = (pa.array(id_text(ids), type=pa.string()) for ids in (a, b))
    if x.null_count or y.null_count:  # missing ids: compared as Python objects (rare, small)
        return bool((a.astype(str).to_numpy() == b.astype(str).to_numpy()).all())
    return pc.all(pc.equal(x, y)).as_py() is True


DISTINCT_IDS = "distinct_ids"
"""DataFrame.attrs key of a table built with one row per id: {"column": its id column, "rows": its
row count}. What is known by construction need not be counted again (millions of pixel ids)."""


def mark_distinct(frame: pd.DataFrame, column: str) -> None:
    frame.attrs[DISTINCT_IDS] = {"column": column, "rows": len(frame)}


def known_distinct(frame: pd.DataFrame, column: str) -> bool:
    """The table was built naming each row once in `column` (and has kept its rows since)."""
    mark = frame.attrs.get(DISTINCT_IDS)
    return isinstance(mark, dict) and mark.get("column") == column and mark.get("rows") == len(frame)


def all_unique(ids: pd.Series) -> bool:
    """No id twice (a missing id counts as one id), counted in Arrow: pandas' is_unique on millions
    of text ids took seconds."""
    return len(_unique_text(ids)) == len(ids)


def _unique_text(ids: pd.Series) -> Any:
    """The distinct ids as an Arrow string array: hashing in Arrow, not Python sets (a per-pixel
    task has millions of ids)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.unique(pa.array(id_text(ids), type=pa.string()))


def _count_missing(values: Any, among: Any) -> int:
    import pyarrow.compute as pc

    return len(values) - int(pc.sum(pc.is_in(values, value_set=among)).as_py() or 0)


def id_mismatch_note(test: pd.DataFrame, sample: pd.DataFrame | None, id_column: str | None) -> str | None:
    if sample is None or id_column is None or id_column not in sample.columns:
        return None
    if same_ids(test[id_column], sample[id_column]):
        return None
    test_ids, sample_ids = _unique_text(test[id_column]), _unique_text(sample[id_column])
    not_in_test, not_in_sample = _count_missing(sample_ids, test_ids), _count_missing(test_ids, sample_ids)
    if not_in_test == not_in_sample == 0:
        return None
    return (
        f"the sample submission's ids differ from the test ids: {not_in_test} not in test, "
        f"{not_in_sample} test ids not in the sample"
    )


# ---------------------------------------------------------------- targets


def resolve_targets(
    train: pd.DataFrame,
    test: pd.DataFrame,
    target_columns: Sequence[str],
    label_column: str | None = None,
) -> Targets:
    """Where train holds the answers to the prediction columns: in the same columns, or in one
    label column whose values are the prediction columns (one probability column per class)."""
    targets = tuple(target_columns)
    present = [c for c in targets if c in train.columns]
    if label_column is None and len(present) == len(targets):
        return Targets(targets, targets)
    candidates = [label_column] if label_column else [c for c in train.columns if c not in test.columns]
    if label_column and label_column not in train.columns:
        raise TaskError(
            f"expected the label column {label_column!r} in train, found columns {_columns_text(train)}"
        )
    if not present or label_column:
        for col in candidates:
            classes = match_classes(targets, train[col])
            if classes is not None:
                return Targets(targets, (col,), label_column=col, classes=classes)
    if label_column:
        found = sorted({label_text(v) for v in train[label_column].dropna().unique()})[:8]
        raise TaskError(
            f"expected the values of the label column {label_column!r} to name the prediction columns "
            f"{', '.join(targets)}, found values {', '.join(found)}"
        )
    missing = [c for c in targets if c not in train.columns]
    raise TaskError(
        f"expected the target column(s) {', '.join(missing)} in train (or a label column whose values "
        f"are those columns), found columns {_columns_text(train)}"
    )


def match_classes(columns: Sequence[str], labels: pd.Series) -> tuple[str, ...] | None:
    """The label value behind each prediction column, in column order, when every label of train
    names exactly one column (as is, ignoring case, or after the columns' common prefix such as
    "Class_"); None when the label values are not the columns."""
    if labels.dropna().head(200).map(lambda v: isinstance(v, list | dict | tuple)).any():
        return None  # nested cells (lists, records) are inputs, never class labels
    values = sorted({label_text(v) for v in labels.dropna().unique()})
    if len(columns) < 2 or not 2 <= len(values) <= len(columns):
        return None
    prefix = os.path.commonprefix([c.lower() for c in columns])
    spellings: list[Callable[[str], str]] = [
        lambda s: s,
        str.lower,
        lambda s: s.lower().removeprefix(prefix),
    ]
    for spell in spellings:
        by_spelling = {spell(c): c for c in columns}
        if len(by_spelling) == len(columns) and all(spell(v) in by_spelling for v in values):
            label_of = {by_spelling[spell(v)]: v for v in values}
            return tuple(label_of.get(c, c) for c in columns)
    return None


# ---------------------------------------------------------------- problem type and classes


def metric_family(metric: str | None) -> str | None:
    """ "regression" for metrics over values, "classification" for the others, None when unknown."""
    if metric is None:
        return None
    return "regression" if get_metric(metric).needs == _REGRESSION_NEEDS else "classification"


def infer_problem_type(train: pd.DataFrame, targets: Targets, metric_hint: str | None) -> ProblemType:
    if targets.label_column is not None:
        return ProblemType.MULTICLASS
    cols = list(targets.train_target_columns)
    if len(cols) > 1:
        return _several_targets(train, cols)
    y = train[cols[0]].dropna()
    n_values = y.nunique()
    if n_values < 2:
        raise TaskError(
            f"expected at least two distinct values in the target {cols[0]!r} of train, found {n_values}"
        )
    family = metric_family(metric_hint)
    if not _is_number(y):
        return ProblemType.BINARY if n_values == 2 else ProblemType.MULTICLASS
    if n_values == 2 and family != "regression":
        return ProblemType.BINARY
    if family == "classification" and _integer_valued(y):
        return ProblemType.MULTICLASS
    return ProblemType.REGRESSION


def _several_targets(train: pd.DataFrame, cols: list[str]) -> ProblemType:
    frame = train[cols]
    text = [c for c in cols if not _is_number(frame[c].dropna())]
    if text:
        raise TaskError(
            f"expected numeric or 0/1 values in every target column, found text in {', '.join(text)}; "
            "set problem_type and targets in task.yaml"
        )
    if all(set(np.unique(frame[c].dropna().astype(float))) <= {0.0, 1.0} for c in cols):
        return ProblemType.MULTILABEL
    return ProblemType.MULTI_TARGET_REGRESSION


def _is_number(y: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)


def _integer_valued(y: pd.Series) -> bool:
    values = y.to_numpy(dtype=float)
    return bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))


def infer_classes(train: pd.DataFrame, targets: Targets, problem_type: ProblemType) -> tuple[str, ...] | None:
    """Class labels as strings in prediction-column order; for binary sorted, so that classes[1]
    is the positive class ("True", "1", "yes")."""
    if targets.classes is not None:
        return targets.classes
    if problem_type not in (ProblemType.BINARY, ProblemType.MULTICLASS):
        return None
    col = targets.train_target_columns[0]
    y = train[col].dropna()
    values = sorted(y.unique(), key=float) if _is_number(y) else sorted(y.unique(), key=label_text)
    classes = tuple(dict.fromkeys(label_text(v) for v in values))
    if problem_type is ProblemType.BINARY and len(classes) != 2:
        raise TaskError(
            f"expected two classes in the binary target {col!r}, found {len(classes)}: {classes[:5]}"
        )
    if len(classes) < 2:
        raise TaskError(f"expected at least two classes in the target {col!r}, found {classes}")
    return classes


# ---------------------------------------------------------------- submission values


def infer_value_kind(
    problem_type: ProblemType, metric: str, targets: Targets, sample: pd.DataFrame | None, metric_named: bool
) -> str:
    """What goes in the prediction columns: "label", "probability" or "number"."""
    needs = get_metric(metric).needs
    if targets.label_column is not None:
        return "probability"
    if problem_type is ProblemType.MULTICLASS:
        return "label"
    if problem_type is ProblemType.BINARY:
        if not metric_named and sample is not None:
            return "probability" if _fractional(sample[targets.target_columns[0]]) else "label"
        return "probability" if needs == "probability" and not metric.startswith("map_at") else "label"
    if problem_type is ProblemType.MULTILABEL:
        return "probability" if needs == "probability" else "label"
    return "number"


def _fractional(values: pd.Series) -> bool:
    """Sample values that look like probabilities (numbers in [0, 1], some not 0 or 1)."""
    if not _is_number(values):
        return False
    v = values.dropna().to_numpy(dtype=float)
    return bool(len(v) and (v >= 0).all() and (v <= 1).all() and ((v > 0) & (v < 1)).any())


def default_metric(problem_type: ProblemType, targets: Targets, sample: pd.DataFrame | None) -> str:
    """The metric when the description names none: probability columns get ROC AUC (binary) or
    multi-class log loss, everything else the problem type's usual default."""
    if targets.label_column is not None:
        return "multiclass_logloss"
    if (
        problem_type is ProblemType.BINARY
        and sample is not None
        and _fractional(sample[targets.target_columns[0]])
    ):
        return "roc_auc"
    return DEFAULT_METRIC[problem_type]


def dtype_names(frame: pd.DataFrame) -> tuple[str, ...]:
    return tuple(str(t) for t in frame.dtypes)
