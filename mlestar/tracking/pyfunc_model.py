"""The MLflow pyfunc that serves a run's final model.

It loads the cloudpickled predictor (RUN_DIR/model/model.pkl, stored as the model's artifact
"predictor") and answers with the submission's prediction columns, one row per input row, mapped
by the harness's own to_submission_frame so served values equal the submission's. Imported only
by final_model.py (it imports mlflow at module level); pickled by value together with the mapping
and the task spec, so the logged model loads where mlestar is not installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import cloudpickle
import mlflow.pyfunc
import numpy as np
import pandas as pd

from mlestar.checks.submission import to_submission_frame

if TYPE_CHECKING:
    from mlestar.task.spec import TaskSpec

PREDICTOR_ARTIFACT = "predictor"


class SubmissionModel(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined]
    """Rows shaped like test.parquet in; the submission's prediction columns out."""

    def __init__(self, spec: TaskSpec) -> None:
        self.spec = spec
        self.predictor: Any = None

    def load_context(self, context: Any) -> None:
        with open(context.artifacts[PREDICTOR_ARTIFACT], "rb") as f:
            self.predictor = cloudpickle.load(f)

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        return answer(self.spec, self.predictor, model_input)


def answer(spec: TaskSpec, predictor: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """The predictor's predictions on frame, as the submission's prediction columns."""
    pred = np.asarray(predictor.predict(frame), dtype=float).reshape(len(frame), -1)
    rows = frame.reset_index(drop=True)
    if spec.id_column and spec.id_column not in rows.columns:  # ids only label rows: not needed
        rows = rows.assign(**{spec.id_column: np.arange(len(rows))})
    submission = to_submission_frame(spec, pred, rows, None)
    return submission[list(spec.target_columns)].reset_index(drop=True)
