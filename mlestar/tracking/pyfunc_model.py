"""The MLflow pyfunc that serves a run's final model.

It loads the cloudpickled predictor (RUN_DIR/model/model.pkl, stored as the model's artifact
"predictor") and answers with the submission's prediction columns, one row per input row.
Imported only by final_model.py (it imports mlflow at module level); pickled by value together
with prediction_frame.py so the logged model does not need mlestar to load.
"""

from __future__ import annotations

from typing import Any

import cloudpickle
import mlflow.pyfunc
import numpy as np
import pandas as pd

from mlestar.tracking.prediction_frame import prediction_frame

PREDICTOR_ARTIFACT = "predictor"


class SubmissionModel(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined]
    """Rows shaped like test.parquet in; the submission's prediction columns out."""

    def __init__(self, layout: dict[str, Any]) -> None:
        self.layout = layout
        self.predictor: Any = None

    def load_context(self, context: Any) -> None:
        with open(context.artifacts[PREDICTOR_ARTIFACT], "rb") as f:
            self.predictor = cloudpickle.load(f)

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        pred = np.asarray(self.predictor.predict(model_input), dtype=float)
        return prediction_frame(pred.reshape(len(model_input), -1), self.layout)
