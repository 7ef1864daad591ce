"""A fitted predictor's answers as the submission's prediction columns.

Shared by every way a model is served (the MLflow pyfunc, and mlestar's own server and batch
prediction), so served values equal the submission's: the mapping is the hand-over's own
to_submission_frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlestar.handover.submission import to_submission_frame

if TYPE_CHECKING:
    from mlestar.task.spec import TaskSpec


def raw_predictions(predictor: Any, frame: pd.DataFrame) -> np.ndarray:
    """The predictor's array (n_rows, n_outputs), as solution scripts write test.npy."""
    return np.asarray(predictor.predict(frame), dtype=float).reshape(len(frame), -1)


def answer(spec: TaskSpec, predictor: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """The predictor's predictions on frame, as the submission's prediction columns."""
    return answer_from(spec, raw_predictions(predictor, frame), frame)


def answer_from(spec: TaskSpec, pred: np.ndarray, frame: pd.DataFrame) -> pd.DataFrame:
    """Raw predictions on frame's rows, as the submission's prediction columns."""
    rows = frame.reset_index(drop=True)
    if spec.submission.pairs:  # a row per (row, class) in the submission; served: a column per class
        values = np.clip(np.asarray(pred, dtype=float).reshape(len(rows), -1), 0.0, 1.0)
        return pd.DataFrame(values, columns=[f"{spec.target_columns[0]}_{c}" for c in spec.classes or ()])
    if spec.id_column and spec.id_column not in rows.columns:  # ids only label rows: not needed
        rows = rows.assign(**{spec.id_column: np.arange(len(rows))})
    submission = to_submission_frame(spec, pred, rows, None)
    return submission[list(spec.target_columns)].reset_index(drop=True)
