"""Prediction arrays -> the submission's prediction columns, for the served model.

Self-contained on purpose (numpy and pandas only, no other mlestar import): the pyfunc model is
pickled with this module by value, so `mlflow models serve` works where mlestar is not installed.
The layout is plain JSON for the same reason. The mapping follows the harness's rules:
  "label"        binary: P >= 0.5 -> classes[1]; multi-class: the argmax class; multi-label: 0/1
  "probability"  one column per class (columns named like the classes are matched by name)
  "number"       the values as they are
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from mlestar.task.spec import TaskSpec


def output_layout(spec: TaskSpec) -> dict[str, Any]:
    """What the served model must know to shape its answers, as plain JSON."""
    dtypes = dict(zip(spec.submission.columns, spec.submission.dtypes, strict=False))
    columns = list(spec.target_columns)
    return {
        "columns": columns,
        "value_kind": spec.submission.value_kind,
        "problem_type": str(spec.problem_type),
        "classes": list(spec.classes) if spec.classes is not None else None,
        "dtypes": [str(dtypes.get(c, "")) for c in columns],
        "n_outputs": spec.n_outputs,
    }


def prediction_frame(pred: Any, layout: dict[str, Any]) -> pd.DataFrame:
    """One row per prediction row, one column per submission prediction column."""
    array = np.asarray(pred, dtype=float)
    array = array.reshape(len(array), -1) if array.ndim != 2 else array
    expected = int(layout["n_outputs"])
    if array.shape[1] != expected:
        raise ValueError(f"expected predictions with {expected} column(s), found {array.shape[1]}")
    kind = layout["value_kind"]
    if kind == "label":
        values = _labels(array, layout)
    elif kind == "probability":
        values = _probabilities(array, layout)
    else:
        values = [array[:, i] for i in range(array.shape[1])]
    columns = list(layout["columns"])
    if len(values) != len(columns):
        raise ValueError(f"expected {len(columns)} prediction column(s), found {len(values)}")
    dtypes = list(layout.get("dtypes") or [])
    dtypes += [""] * (len(columns) - len(dtypes))
    return pd.DataFrame({c: _cast(v, d, kind) for c, v, d in zip(columns, values, dtypes, strict=False)})


def _labels(array: np.ndarray, layout: dict[str, Any]) -> list[np.ndarray]:
    problem, classes = layout["problem_type"], layout.get("classes") or []
    if problem == "binary":
        return [np.where(array[:, 0] >= 0.5, classes[1], classes[0]).astype(object)]
    if problem == "multiclass":
        return [np.asarray(classes, dtype=object)[np.argmax(array, axis=1)]]
    if problem == "multilabel":
        return [(array[:, i] >= 0.5).astype(np.int64) for i in range(array.shape[1])]
    return [array[:, i] for i in range(array.shape[1])]


def _probabilities(array: np.ndarray, layout: dict[str, Any]) -> list[np.ndarray]:
    columns, classes = list(layout["columns"]), list(layout.get("classes") or [])
    if layout["problem_type"] == "binary":
        p = array[:, 0]
        if len(columns) == 1:
            return [p]
        by_class = {classes[0]: 1.0 - p, classes[1]: p} if len(classes) == 2 else {}
        if set(columns) == set(by_class):
            return [by_class[c] for c in columns]
        return [1.0 - p, p]
    if classes and set(columns) == set(classes) and len(columns) == array.shape[1]:
        return [array[:, classes.index(c)] for c in columns]
    return [array[:, i] for i in range(array.shape[1])]


def _cast(values: np.ndarray, dtype: str, kind: str) -> np.ndarray:
    """Labels spelled as in the sample submission: ints stay ints, bools bools, text text."""
    if kind != "label" or values.dtype != object:
        return values.astype(float) if kind != "label" else values
    text = values.astype(str)
    try:
        if dtype.startswith(("int", "uint", "Int")):
            return text.astype(np.int64)
        if dtype.startswith(("float", "Float")):
            return text.astype(float)
        if dtype in ("bool", "boolean"):
            return np.isin(np.char.lower(text), ("true", "1"))
    except ValueError:
        pass  # labels that are not numbers after all: keep them as text
    return text.astype(object)
