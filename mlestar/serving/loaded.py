"""A model ready to answer: the predictor, its task, its schema, and what to say about it.

Loaded from a run folder (model/model.pkl) or, when serving follows a registry alias, from an
MLflow model version (registry.py builds it there). Shared by `serve`, `predict`, `monitor` and
`retrain`, so every way of asking gets the same answers.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlestar.errors import RunFolderError
from mlestar.journal import Journal
from mlestar.journal.events import FinalChosen, RunFinished, RunStarted
from mlestar.monitoring.schema import DataSchema, load_schema
from mlestar.run_layout import RunLayout
from mlestar.serving.answer import answer_from, raw_predictions
from mlestar.task.spec import TaskSpec


@dataclass(frozen=True)
class ServedModel:
    spec: TaskSpec
    predictor: Any = field(repr=False)
    schema: DataSchema = field(repr=False)
    source: str
    """The run folder, or the models:/NAME/VERSION URI."""
    version: str | None = None
    """The registry version when loaded from MLflow."""
    facts: dict[str, Any] = field(default_factory=dict)
    """What /metadata tells: validation score, best node, package versions."""
    lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)
    """Predictions one at a time: a pickled predictor is not known to be thread-safe."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        with self.lock:
            return raw_predictions(self.predictor, frame)

    def answer(self, frame: pd.DataFrame, pred: np.ndarray) -> pd.DataFrame:
        return answer_from(self.spec, pred, frame)


def load_run_model(run_dir: Path) -> ServedModel:
    """The final model of a finished run; RunFolderError when the run left none."""
    import cloudpickle

    layout = RunLayout(run_dir)
    if not layout.task.is_file():
        raise RunFolderError(
            f"expected a run folder made by `mlestar run` (task.json) at {run_dir}; found none"
        )
    if not layout.model.is_file():
        raise RunFolderError(
            f"expected a saved model at {layout.model}, found none: the run did not finish with a servable "
            "model (see `mlestar status`); run again with a larger --budget"
        )
    spec = TaskSpec.load(layout.task)
    predictor = cloudpickle.loads(layout.model.read_bytes())
    return ServedModel(
        spec, predictor, load_schema(run_dir), str(run_dir.resolve()), None, run_facts(run_dir)
    )


def run_facts(run_dir: Path) -> dict[str, Any]:
    """The validation score, final node and versions of a run, from its journal."""
    journal = Journal(run_dir)
    facts: dict[str, Any] = {"run_dir": str(run_dir.resolve())}
    for event in journal.find_any(RunStarted, FinalChosen, RunFinished):
        if isinstance(event, RunStarted):
            facts["versions"] = event.versions
            facts["engineer"] = event.engineer
        elif isinstance(event, FinalChosen):
            facts["validation_score"] = event.score
            facts["final_node"] = event.node
            facts["solution_kind"] = event.solution_kind
        elif isinstance(event, RunFinished):
            facts["finished"] = event.time
            facts["status"] = event.status
    return facts


def metadata(model: ServedModel) -> dict[str, Any]:
    """The /metadata answer: task, metric, validation score, versions, schema."""
    spec = model.spec
    return {
        "task": spec.name,
        "problem_type": str(spec.problem_type),
        "metric": spec.metric,
        "lower_is_better": spec.lower_is_better,
        "prediction_columns": list(spec.target_columns),
        "classes": list(spec.classes) if spec.classes else None,
        "id_column": spec.id_column,
        "model": {"source": model.source, "version": model.version},
        **{k: v for k, v in model.facts.items() if k != "run_dir"},
        "schema": model.schema.to_json(),
    }


def spec_from_json(text: str) -> TaskSpec:
    return TaskSpec.from_json(json.loads(text))
