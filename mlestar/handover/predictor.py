"""A servable ensemble: the members' saved predictors combined with the search's weights.

The members stay pickled inside it until it first predicts: bundling them is then a copy of their
files (a member of five extra-trees folds is 200 MB and takes seconds to unpickle), and the run's
own process never loads what a script pickled.
"""

from __future__ import annotations

import mmap
import os
import pickle
import shutil
import sys
from collections.abc import Callable
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np

from mlestar.task.spec import ProblemType, TaskSpec


class WeightedEnsemble:
    """predict(frame) -> the weighted mean of the members' predictions, like the harness's."""

    def __init__(self, member_pickles: list[bytes], weights: list[float], multiclass: bool) -> None:
        self.member_pickles = member_pickles
        self.weights = np.asarray(weights, dtype=np.float64) / float(np.sum(weights))
        self.multiclass = multiclass
        self._members: list[Any] | None = None

    @property
    def members(self) -> list[Any]:
        if self._members is None:
            self._members = [cloudpickle.loads(b) for b in self.member_pickles]
        return self._members

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_members": None}  # the pickles already hold the members

    def predict(self, frame):  # type: ignore[no-untyped-def]
        preds = [np.asarray(m.predict(frame), dtype=np.float64).reshape(len(frame), -1) for m in self.members]
        out = np.tensordot(self.weights, np.stack(preds), axes=1)
        if self.multiclass:
            out = np.clip(out, 1e-6, 1.0)
            out = out / out.sum(axis=1, keepdims=True)
        return out


def save_ensemble_model(member_paths: list[Path], weights: list[float], spec: TaskSpec, dest: Path) -> None:
    # Pickle the class by value so the model loads wherever cloudpickle does, mlestar or not.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])

    def dump(partial: Path) -> None:
        # The members' files mapped, not read: the pickler writes each one's hundreds of MB to the
        # file straight from the mapping (a read-only buffer is pickled as bytes, which the model
        # holds when loaded), without first copying them into memory new to this process.
        with ExitStack() as files, partial.open("wb") as out:
            members = [_mapped(path, files) for path in member_paths]
            model = WeightedEnsemble(members, weights, spec.problem_type is ProblemType.MULTICLASS)  # type: ignore[arg-type]
            cloudpickle.dump(model, out, protocol=5)
            del model, members  # the buffers let go before their mappings close

    replace_model(dest, dump)


def _mapped(path: Path, files: ExitStack) -> pickle.PickleBuffer | bytes:
    """The file's bytes as a read-only buffer over its mapping, closed with `files`."""
    with path.open("rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return b""  # nothing to map
        mapping = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    files.callback(_close, mapping)
    return pickle.PickleBuffer(mapping)


def _close(mapping: mmap.mmap) -> None:
    with suppress(BufferError):  # still exported while an error unwinds: closed when collected
        mapping.close()


def copy_model(source: Path, dest: Path) -> None:
    """A script's saved model as the run's model."""
    replace_model(dest, lambda partial: shutil.copyfile(source, partial))


def replace_model(dest: Path, write: Callable[[Path], object]) -> None:
    """`write` the model beside `dest`, then move it into place. model.pkl is only ever replaced,
    never rewritten: a killed hand-over leaves no half file, and a model already logged to MLflow
    (linked there, not copied, where the store is on the same disk) keeps its bytes."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    write(partial)
    partial.replace(dest)
