"""Harness-owned validation: the folds are fixed once per run, and every score is computed here.

Scripts never choose a split. They read folds.npy (fold per training row, -1 for rows left out of
the search's subsample) and write out-of-fold predictions; this module scores those predictions
with the task's metric, so every attempt's score is comparable with every other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlestar.contract import OOF_FILE, TEST_PRED_FILE
from mlestar.splits import UNUSED, make_folds, subsample_folds  # noqa: F401  (fold making lives in splits)


class PredictionError(ValueError):
    """A script's prediction files are missing or unusable; the attempt counts as invalid."""


@dataclass(frozen=True)
class Predictions:
    oof: np.ndarray
    test: np.ndarray


def read_predictions(output_dir: Path, folds: np.ndarray, n_test: int, n_outputs: int) -> Predictions:
    """Load and check a script's oof.npy and test.npy against the contract."""
    arrays = []
    for name, rows in ((OOF_FILE, len(folds)), (TEST_PRED_FILE, n_test)):
        path = output_dir / name
        if not path.exists():
            raise PredictionError(f"expected the script to write output/{name}; it is missing")
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise PredictionError(f"output/{name} is not a readable .npy array: {e}") from e
        if arr.dtype.kind != "U":  # text answers stay text (numpy unicode arrays)
            arr = np.asarray(arr, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr.reshape(-1, 1)
        if arr.shape != (rows, n_outputs):
            raise PredictionError(f"expected output/{name} of shape ({rows}, {n_outputs}); found {arr.shape}")
        arrays.append(arr)
    oof, test = arrays
    used = folds >= 0
    if oof.dtype.kind == "U" or test.dtype.kind == "U":
        return Predictions(oof=oof, test=test)
    if not np.isfinite(oof[used]).all():
        raise PredictionError("output/oof.npy has NaN or infinite values on rows that have a fold")
    if not np.isfinite(test).all():
        raise PredictionError("output/test.npy has NaN or infinite values")
    return Predictions(oof=oof, test=test)


def save_predictions(output_dir: Path, preds: Predictions) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    np.save(output_dir / OOF_FILE, preds.oof)
    np.save(output_dir / TEST_PRED_FILE, preds.test)
