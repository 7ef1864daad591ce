"""The MLflow pyfunc that serves a run's final model.

It loads the cloudpickled predictor (RUN_DIR/model/model.pkl, stored as the model's artifact
"predictor") and answers with the submission's prediction columns (answer.py). The run's data
schema travels with it (artifact "schema"), so a registered version can be validated and
monitored without its run folder. Imported only by tracking/final_model.py (it imports mlflow at
module level); pickled by value together with answer.py, the submission mapping and the task
spec, so the logged model loads where mlestar is not installed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import cloudpickle
import mlflow.pyfunc
import pandas as pd

from mlestar.serving.answer import answer

if TYPE_CHECKING:
    from mlestar.task.spec import TaskSpec

PREDICTOR_ARTIFACT = "predictor"
SCHEMA_ARTIFACT = "schema"


class SubmissionModel(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined]
    """Rows shaped like test.parquet in; the submission's prediction columns out."""

    def __init__(self, spec: TaskSpec) -> None:
        self.spec = spec
        self.predictor: Any = None
        self.schema_json: dict[str, Any] | None = None

    def load_context(self, context: Any) -> None:
        with open(context.artifacts[PREDICTOR_ARTIFACT], "rb") as f:
            self.predictor = cloudpickle.load(f)
        schema = context.artifacts.get(SCHEMA_ARTIFACT)
        if schema:
            with open(schema, encoding="utf-8") as f:
                self.schema_json = json.load(f)

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        return answer(self.spec, self.predictor, model_input)
