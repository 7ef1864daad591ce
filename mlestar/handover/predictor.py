"""A servable ensemble: the members' saved predictors combined with the search's weights."""

from __future__ import annotations

import sys
from pathlib import Path

import cloudpickle
import numpy as np

from mlestar.task.spec import ProblemType, TaskSpec


class WeightedEnsemble:
    """predict(frame) -> the weighted mean of the members' predictions, like the harness's."""

    def __init__(self, members: list[object], weights: list[float], multiclass: bool) -> None:
        self.members = members
        self.weights = np.asarray(weights, dtype=np.float64) / float(np.sum(weights))
        self.multiclass = multiclass

    def predict(self, frame):  # type: ignore[no-untyped-def]
        preds = [np.asarray(m.predict(frame), dtype=np.float64).reshape(len(frame), -1) for m in self.members]  # type: ignore[attr-defined]
        out = np.tensordot(self.weights, np.stack(preds), axes=1)
        if self.multiclass:
            out = np.clip(out, 1e-6, 1.0)
            out = out / out.sum(axis=1, keepdims=True)
        return out


def save_ensemble_model(member_paths: list[Path], weights: list[float], spec: TaskSpec, dest: Path) -> None:
    members = [cloudpickle.loads(p.read_bytes()) for p in member_paths]
    model = WeightedEnsemble(members, weights, spec.problem_type is ProblemType.MULTICLASS)
    # Pickle the class by value so the model loads wherever cloudpickle does, mlestar or not.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(cloudpickle.dumps(model))
