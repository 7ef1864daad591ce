"""model/model.pkl is replaced by a new file, never rewritten in place: a version of it already logged
to MLflow (hard-linked into a store on the same disk) keeps its bytes, and a killed write leaves the
previous model whole."""

from __future__ import annotations

import os
from pathlib import Path

import cloudpickle
import numpy as np
import pandas as pd

from mlestar.handover.predictor import save_ensemble_model
from tests.builders import build_spec


class Constant:
    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.full((len(frame), 1), self.value)


def _answer(path: Path) -> float:
    return float(cloudpickle.loads(path.read_bytes()).predict(pd.DataFrame({"x": [0.0]}))[0, 0])


def test_a_new_ensemble_model_leaves_a_link_to_the_old_one_untouched(tmp_path: Path) -> None:
    spec = build_spec(tmp_path / "task")
    member, model = tmp_path / "member.pkl", tmp_path / "model" / "model.pkl"
    member.write_bytes(cloudpickle.dumps(Constant(1.0)))
    save_ensemble_model([member], [1.0], spec, model)
    logged = tmp_path / "logged.pkl"
    os.link(model, logged)  # what logging to the run's own store does
    member.write_bytes(cloudpickle.dumps(Constant(2.0)))
    save_ensemble_model([member], [1.0], spec, model)
    assert (_answer(logged), _answer(model)) == (1.0, 2.0)
    assert sorted(p.name for p in model.parent.iterdir()) == ["model.pkl"]  # nothing half-written left


def test_an_ensemble_model_holds_its_members_files_as_they_are(tmp_path: Path) -> None:
    """The members are streamed from their files into the model; loaded, the model holds each
    member's file, byte for byte, and predicts their weighted mean."""
    spec = build_spec(tmp_path / "task")
    paths = [tmp_path / "a.pkl", tmp_path / "b.pkl"]
    for path, value in zip(paths, (1.0, 4.0), strict=True):
        path.write_bytes(cloudpickle.dumps(Constant(value)) + b"\0" * 300_000)  # a large-ish file
    model = tmp_path / "model" / "model.pkl"
    save_ensemble_model(paths, [2.0, 1.0], spec, model)
    loaded = cloudpickle.loads(model.read_bytes())
    assert all(isinstance(m, bytes) for m in loaded.member_pickles)
    same = [m == p.read_bytes() for m, p in zip(loaded.member_pickles, paths, strict=True)]
    assert same == [True, True]  # compared first: a failing diff of 300 kB would take minutes
    assert _answer(model) == 2.0
