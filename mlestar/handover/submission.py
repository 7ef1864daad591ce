"""From test predictions to a checked submission file, shaped exactly like the sample submission."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from mlestar.task.spec import ProblemType, TaskSpec

_EPS = 1e-15


class SubmissionError(ValueError):
    """The submission does not match the sample submission; the message lists every problem."""


def to_submission_frame(
    spec: TaskSpec, pred: np.ndarray, test: pd.DataFrame, sample: pd.DataFrame | None
) -> pd.DataFrame:
    """Map the prediction array (n_test, n_outputs) to the submission's columns and row order."""
    pred = np.asarray(pred, dtype=np.float64).reshape(len(test), -1)
    values = _prediction_columns(spec, pred)
    frame = pd.DataFrame(values, columns=list(spec.target_columns))
    if spec.id_column is None:
        return frame
    frame.insert(0, spec.id_column, test[spec.id_column].to_numpy())
    if sample is not None and spec.submission.row_order == "sample":
        key = frame[spec.id_column].astype(str)
        frame = frame.set_index(key).loc[sample[spec.id_column].astype(str)].reset_index(drop=True)
        frame[spec.id_column] = sample[spec.id_column].to_numpy()
    columns = list(sample.columns) if sample is not None else [spec.id_column, *spec.target_columns]
    return frame[columns]


def _prediction_columns(spec: TaskSpec, pred: np.ndarray) -> np.ndarray | list[str]:
    kind = spec.submission.value_kind
    classes = list(spec.classes or ())
    if kind == "label":
        if spec.problem_type is ProblemType.BINARY:
            return [classes[1] if p >= 0.5 else classes[0] for p in pred[:, 0]]
        return [classes[i] for i in pred.argmax(axis=1)]
    if kind == "probability":
        p = np.clip(pred, _EPS, 1 - _EPS)
        if spec.problem_type is ProblemType.MULTICLASS:
            p = p / p.sum(axis=1, keepdims=True)
        return p
    return pred


def check_submission(frame: pd.DataFrame, spec: TaskSpec, sample: pd.DataFrame | None) -> None:
    problems = list(_problems(frame, spec, sample))
    if problems:
        raise SubmissionError("the submission does not match the sample submission: " + "; ".join(problems))


def _problems(frame: pd.DataFrame, spec: TaskSpec, sample: pd.DataFrame | None):  # type: ignore[no-untyped-def]
    if sample is not None:
        if list(frame.columns) != list(sample.columns):
            yield f"expected columns {list(sample.columns)}, found {list(frame.columns)}"
            return
        if len(frame) != len(sample):
            yield f"expected {len(sample)} rows, found {len(frame)}"
        elif spec.id_column:
            ids, want = frame[spec.id_column].astype(str), sample[spec.id_column].astype(str)
            if set(ids) != set(want):
                yield "the ids differ from the sample submission's"
            elif spec.submission.row_order == "sample" and not (ids.to_numpy() == want.to_numpy()).all():
                yield "the rows are not in the sample submission's order"
    if spec.id_column and frame[spec.id_column].duplicated().any():
        yield "duplicate ids"
    preds = frame[list(spec.target_columns)]
    if preds.isna().any().any():
        yield "empty predictions"
        return
    kind = spec.submission.value_kind
    if kind == "label":
        allowed = set(spec.classes or ())
        bad = set(preds.iloc[:, 0].astype(str)) - allowed
        if bad:
            yield f"labels {sorted(bad)[:5]} are not among the classes {sorted(allowed)}"
        return
    values = preds.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        yield "non-finite predictions"
    if kind == "probability":
        if (values < 0).any() or (values > 1).any():
            yield "probabilities outside [0, 1]"
        if spec.problem_type is ProblemType.MULTICLASS and not np.allclose(values.sum(axis=1), 1, atol=1e-6):
            yield "class probabilities do not sum to one on every row"


def trivial_predictions(spec: TaskSpec, y: np.ndarray, n_test: int) -> np.ndarray:
    """A correctly shaped, sensible prediction that needs no model: priors, or the mean."""
    if spec.problem_type is ProblemType.BINARY:
        return np.full((n_test, 1), float(np.mean(y)))
    if spec.problem_type is ProblemType.MULTICLASS:
        prior = np.bincount(y.astype(int), minlength=spec.n_outputs) / len(y)
        return np.tile(prior, (n_test, 1))
    cols = y.reshape(len(y), -1)
    return np.tile(cols.mean(axis=0), (n_test, 1))


def write_submission(frame: pd.DataFrame, path: Path) -> None:
    """Write atomically: a reader never sees half a file."""
    tmp = path.with_suffix(".csv.tmp")
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)
