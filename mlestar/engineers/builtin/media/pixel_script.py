"""Per-pixel tasks (a picture in, a picture out, one row per pixel): a lean script of their own.

Such tables are millions of rows (every pixel of every page), far more than the general script's
table views hold in memory; and every pixel's inputs are its picture's neighbourhood, not its row.
This script reads only the key, row and column of each pixel, computes the neighbourhood
features picture by picture (the files block the media kit renders), fits gradient-boosted trees
(or a ridge regression) on a sample of the training pixels, and predicts the test pictures one at
a time. Answers are clipped to the range the training answers span.
"""

from __future__ import annotations

import textwrap

from mlestar import contract
from mlestar.contract import BLOCK_MARKER
from mlestar.engineers.base import Candidate
from mlestar.engineers.builtin.media import render
from mlestar.engineers.builtin.media.options import MediaOptions
from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.engineers.builtin.pysrc import literal

MODELS = {
    "pixel_lightgbm": (
        "Gradient-boosted trees (LightGBM) on each pixel's neighbourhood: the pixel, its neighbours, "
        "local statistics at several scales and the page behind it.",
        "from lightgbm import LGBMRegressor",
        "LGBMRegressor(n_estimators=120, learning_rate=0.15, num_leaves=31, min_child_samples=40, "
        "subsample=0.8, subsample_freq=1, colsample_bytree=0.8, random_state=SEED, n_jobs=THREADS, verbose=-1)",
    ),
    "pixel_ridge": (
        "Ridge regression on the same neighbourhood features, standardised: fast and smooth.",
        "from sklearn.linear_model import Ridge\nfrom sklearn.pipeline import make_pipeline\n"
        "from sklearn.preprocessing import StandardScaler",
        "make_pipeline(StandardScaler(), Ridge(alpha=1.0))",
    ),
}


def is_pixel_task(profile: ProfileView) -> bool:
    return any(f.get("per") == "pixel" for f in render.media_entries(profile))


def candidates() -> list[Candidate]:
    return [
        Candidate(name, summary, f"model = {expression}", "builtin")
        for name, (summary, _, expression) in MODELS.items()
    ]


_LOAD = f'''def load_inputs() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """Only the pixel coordinates of each table (the pictures hold the rest), the answers, the folds."""
    columns = list(PIXEL.values())
    train = pd.read_parquet(INPUT / "{contract.TRAIN_FILE}", columns=columns)
    test = pd.read_parquet(INPUT / "{contract.TEST_FILE}", columns=columns)
    target = np.load(INPUT / "{contract.TARGET_FILE}").astype(np.float32).reshape(len(train))
    return train, test, target, np.load(INPUT / "{contract.FOLDS_FILE}")
'''
"""The load block: pixel coordinates, answers, folds."""

_MAKE_MODEL = """

def make_model() -> Any:
    return EXPRESSION
"""
"""The model block's builder (its imports come first)."""

_TRAIN = '''def sample(rows: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """At most limit of the rows, drawn without replacement, in their original order."""
    if len(rows) <= limit:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, limit, replace=False))


def cross_fit(x: np.ndarray, target: np.ndarray, folds: np.ndarray) -> tuple[np.ndarray, Any]:
    """Out-of-fold predictions on the harness folds, and one model fitted on every used row (for test)."""
    oof = np.full(len(target), np.nan, dtype=np.float64)
    for k in range(int(folds.max()) + 1):
        fit_rows = sample(np.flatnonzero((folds >= 0) & (folds != k)), TRAIN_PIXELS, SEED + k)
        valid_rows = np.flatnonzero(folds == k)
        model = make_model().fit(x[fit_rows], target[fit_rows])
        oof[valid_rows] = model.predict(x[valid_rows])
        print(f"fold {k}: fitted on {len(fit_rows)} pixels", flush=True)
    used = sample(np.flatnonzero(folds >= 0), TRAIN_PIXELS, SEED)
    return oof, make_model().fit(x[used], target[used])
'''
"""The train block: sampled fits on the harness folds, one model for test."""

_PREDICT = '''class Predictor:
    """Pixels in, answers out: features from each row's picture, the model, the answers' range."""

    def __init__(self, model: Any, low: float, high: float) -> None:
        self.model, self.low, self.high = model, low, high

    def predict(self, frame: pd.DataFrame, split: str = "test") -> np.ndarray:
        out = np.empty(len(frame), dtype=np.float64)
        for _, rows in frame.groupby(PIXEL["key"], sort=False).indices.items():
            x = file_features(frame.iloc[rows], split).to_numpy(dtype=np.float32)
            out[rows] = self.model.predict(x)
        return np.clip(out, self.low, self.high).reshape(-1, 1)
'''
"""The predict block: test pictures one at a time."""

_MAIN = f'''def main() -> None:
    start = time.time()
    train, test, target, folds = load_inputs()
    used = np.flatnonzero(folds >= 0)
    x_used = file_features(train.iloc[used], "train").to_numpy(dtype=np.float32)
    x = np.full((len(train), x_used.shape[1]), np.nan, dtype=np.float32)
    x[used] = x_used
    low, high = float(target[used].min()), float(target[used].max())
    oof, model = cross_fit(x, target, folds)
    predictor = Predictor(model, low, high)
    OUTPUT.mkdir(exist_ok=True)
    np.save(OUTPUT / "{contract.OOF_FILE}", np.clip(oof, low, high).reshape(-1, 1))
    np.save(OUTPUT / "{contract.TEST_PRED_FILE}", predictor.predict(test))
    if SAVE_MODEL:
        with open(OUTPUT / "{contract.MODEL_FILE}", "wb") as handle:
            cloudpickle.dump(predictor, handle)
    print(f"done in {{time.time() - start:.1f}}s", flush=True)


if __name__ == "__main__":
    main()
'''
"""The main block."""


def script(profile: ProfileView, name: str, seed: int, options: MediaOptions | None = None) -> str:
    """The whole per-pixel script for one of MODELS."""
    summary, imports, expression = MODELS[name]
    files = render.render_media_files(profile, options or render.default_options(profile))
    model = imports + "\n\n\n" + _MAKE_MODEL.strip("\n").replace("EXPRESSION", expression) + "\n"
    blocks = {
        "load": _LOAD,
        "files": files.strip() + "\n",
        "model": model,
        "train": _TRAIN,
        "predict": _PREDICT,
        "main": _MAIN,
    }
    parts = [_header(profile, name, summary, seed)] + [
        f"{BLOCK_MARKER}{b}\n{text}" for b, text in blocks.items()
    ]
    return "\n\n".join(part.rstrip("\n") + "\n" for part in parts)


def _header(profile: ProfileView, name: str, summary: str, seed: int) -> str:
    entry = next(e for e in render.media_entries(profile) if e.get("per") == "pixel")
    plan = (
        f"Plan: a first per-pixel solution ({name}). {summary} Each pixel is a row; its features come "
        "from its own picture (the files block), computed picture by picture. Fits use at most "
        "TRAIN_PIXELS sampled training pixels; test pictures are predicted one at a time by one model "
        "fitted on the training rows this run uses."
    )
    doc = "\n".join(textwrap.wrap(plan, 100))
    return f'''"""A picture in, a picture out: answered pixel by pixel.

{doc}
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd

INPUT, OUTPUT = Path("{contract.INPUT_DIR}"), Path("{contract.OUTPUT_DIR}")
SEED = int(os.environ.get("{contract.ENV_SEED}", "{seed}"))
THREADS = int(os.environ.get("{contract.ENV_THREADS}", "1"))
SAVE_MODEL = os.environ.get("{contract.ENV_SAVE_MODEL}") == "1"
PIXEL = {literal({"key": entry["key"], "row": entry["row"], "col": entry["col"]})}
"""The columns that say which picture and which pixel a row is."""
TRAIN_PIXELS = 200_000
"""At most this many training pixels per fit (sampled): plenty for a few dozen features."""
'''
