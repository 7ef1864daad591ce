"""Per-pixel tasks (a picture in, a picture out, one row per pixel): a lean script of their own.

Such tables are millions of rows (every pixel of every page), far more than the general script's
table views hold in memory; and every pixel's inputs are its picture's neighbourhood, not its row.
This script reads only the key, row and column of each pixel, computes the neighbourhood
features picture by picture (the files block the media kit renders), fits gradient-boosted trees
(or a ridge regression) on a sample of the training pixels, and predicts the test pictures one at
a time. Answers are clipped to the range the training answers span. Its settings are constants
of the blocks they belong to (pixel_recipe.py), which the refinement plans change (pixel_plans.py).
"""

from __future__ import annotations

import textwrap

from mlestar import contract
from mlestar.contract import BLOCK_MARKER
from mlestar.engineers.base import Candidate, EngineerFailure
from mlestar.engineers.builtin.media import render
from mlestar.engineers.builtin.media.options import MediaOptions
from mlestar.engineers.builtin.media.outputs import saved_outputs
from mlestar.engineers.builtin.media.pixel_recipe import BLOCKS, LIGHTGBM, RIDGE, PixelRecipe
from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.engineers.builtin.pysrc import literal

MODELS = {
    LIGHTGBM: (
        "Gradient-boosted trees (LightGBM) on each pixel's neighbourhood: the pixel, its neighbours, "
        "local statistics at several scales and the page behind it; they learn the pixel's change."
    ),
    RIDGE: "Ridge regression on the same neighbourhood features, standardised: fast and smooth.",
}

_LIGHTGBM = '''from lightgbm import LGBMRegressor, early_stopping

TREES = {trees}
"""Boosting rounds (the most: with EARLY_STOPPING, pictures held out of a first fit say how many)."""
LEARNING_RATE = {learning_rate}
LEAVES = {leaves}
"""Leaves per tree."""
EARLY_STOPPING = {early_stopping}
"""Hold a tenth of the fit's pictures out to find when boosting stops helping, then fit on all."""


def make_model() -> Any:
    return LGBMRegressor(
        n_estimators=TREES, learning_rate=LEARNING_RATE, num_leaves=LEAVES, min_child_samples=40,
        subsample=0.8, subsample_freq=1, colsample_bytree=0.8, random_state=SEED, n_jobs=THREADS, verbose=-1,
    )


def fit_model(x: np.ndarray, answer: np.ndarray, pictures: np.ndarray, seed: int) -> Any:
    """A model fitted on these rows. With EARLY_STOPPING, pictures held out of a first fit say how
    many rounds help; the model then learns from every row with that many."""
    if not EARLY_STOPPING:
        return make_model().fit(x, answer)
    held = held_out(pictures, seed)
    stop = early_stopping(25, verbose=False)
    probe = make_model().fit(x[~held], answer[~held], eval_set=[(x[held], answer[held])], callbacks=[stop])
    return make_model().set_params(n_estimators=probe.best_iteration_ or TREES).fit(x, answer)


def held_out(pictures: np.ndarray, seed: int) -> np.ndarray:
    """A tenth of the pictures, as a mask over the rows (a tenth of the rows with fewer than ten):
    neighbouring pixels are near copies, so only unseen pictures tell when boosting overfits."""
    rng = np.random.default_rng(seed)
    names = np.unique(pictures)
    if len(names) < 10:
        return rng.random(len(pictures)) < 0.1
    return np.isin(pictures, rng.choice(names, len(names) // 10, replace=False))
'''
"""The model block of LightGBM (its settings are constants the refinements change)."""

_RIDGE = '''from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

ALPHA = {alpha}
"""The ridge penalty."""


def make_model() -> Any:
    return make_pipeline(StandardScaler(), Ridge(alpha=ALPHA))


def fit_model(x: np.ndarray, answer: np.ndarray, pictures: np.ndarray, seed: int) -> Any:
    return make_model().fit(x, answer)
'''
"""The model block of the ridge regression."""

_RESIDUAL = '''

RESIDUAL = {residual}
"""Learn each pixel's change (answer minus the pixel itself, the first feature), not the answer:
most pixels change little, and the model's effort goes to those that do."""


def learned(x: np.ndarray, target: np.ndarray) -> np.ndarray:
    """What the model learns for each row."""
    return target - x[:, 0] if RESIDUAL else target


def answered(x: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """The answers from what the model predicts."""
    return prediction + x[:, 0] if RESIDUAL else prediction
'''
"""Both model blocks end with what the model learns: the answer, or its change from the input."""


def is_pixel_task(profile: ProfileView) -> bool:
    return any(f.get("per") == "pixel" for f in render.media_entries(profile))


def candidates() -> list[Candidate]:
    return [
        Candidate(name, summary, render_block("model", draft_recipe(name), None), "builtin")
        for name, summary in MODELS.items()
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

_TRAIN = '''TRAIN_PIXELS = {train_pixels}
"""At most this many training pixels per fit (sampled from every picture): plenty for a few dozen features."""


def sample(rows: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """At most limit of the rows, drawn without replacement, in their original order."""
    if len(rows) <= limit:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, limit, replace=False))


def cross_fit(
    x: np.ndarray, target: np.ndarray, folds: np.ndarray, pictures: np.ndarray
) -> tuple[np.ndarray, Any]:
    """Out-of-fold predictions on the harness folds, and one model fitted on every used row (for test)."""
    answer = learned(x, target)
    oof = np.full(len(target), np.nan, dtype=np.float64)
    for k in range(int(folds.max()) + 1):
        fit_rows = sample(np.flatnonzero((folds >= 0) & (folds != k)), TRAIN_PIXELS, SEED + k)
        valid_rows = np.flatnonzero(folds == k)
        model = fit_model(x[fit_rows], answer[fit_rows], pictures[fit_rows], SEED + k)
        oof[valid_rows] = answered(x[valid_rows], model.predict(x[valid_rows]))
        print(f"fold {{k}}: fitted on {{len(fit_rows)}} pixels", flush=True)
    used = sample(np.flatnonzero(folds >= 0), TRAIN_PIXELS, SEED)
    return oof, fit_model(x[used], answer[used], pictures[used], SEED)
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
            out[rows] = answered(x, self.model.predict(x))
        return np.clip(out, self.low, self.high).reshape(-1, 1)
'''
"""The predict block: test pictures one at a time."""

_SAVED_OUTPUTS = saved_outputs("np.clip(oof, low, high).reshape(-1, 1)")
_MAIN = f"""def main() -> None:
    start = time.time()
    train, test, target, folds = load_inputs()
    used = np.flatnonzero(folds >= 0)
    x_used = file_features(train.iloc[used], "train").to_numpy(dtype=np.float32)
    x = np.full((len(train), x_used.shape[1]), np.nan, dtype=np.float32)
    x[used] = x_used
    pictures = pd.factorize(train[PIXEL["key"]])[0]
    low, high = float(target[used].min()), float(target[used].max())
    oof, model = cross_fit(x, target, folds, pictures)
    predictor = Predictor(model, low, high)
{_SAVED_OUTPUTS}"""
"""The main block."""


def draft_recipe(name: str, options: MediaOptions | None = None) -> PixelRecipe:
    """A first script's settings. LightGBM learns each pixel's change from the input, in 80 rounds
    of 0.2: on a cleaning task's 24,000 search pixels that scored 0.0212 against 0.0218 for the
    answer itself in 120 rounds of 0.15, and predicting millions of test pixels, the bulk of an
    attempt, costs a third less."""
    if name == LIGHTGBM:
        return PixelRecipe(name, trees=80, learning_rate=0.2, residual=True, media=options)
    return PixelRecipe(name, media=options)


def script(profile: ProfileView, name: str, seed: int, options: MediaOptions | None = None) -> str:
    """The whole per-pixel script for one of MODELS, with its first settings."""
    return render_script(profile, draft_recipe(name, options), seed)


def render_script(profile: ProfileView, recipe: PixelRecipe, seed: int) -> str:
    """The whole per-pixel script the recipe describes."""
    parts = [_header(profile, recipe.model, MODELS[recipe.model], seed)]
    for name in BLOCKS:
        body = render_block(name, recipe, profile).strip("\n")
        parts.append(f"{BLOCK_MARKER}{name}\n{body}\n")
    return "\n\n".join(part.rstrip("\n") + "\n" for part in parts)


def render_block(name: str, recipe: PixelRecipe, profile: ProfileView | None) -> str:
    """The body of one block (without its marker line); the files block needs the task's profile."""
    if name == "files":
        if profile is None:
            raise EngineerFailure("the files block of a per-pixel script needs the task's profile")
        return render.render_media_files(profile, recipe.media or render.default_options(profile))
    if name == "model":
        template = (_LIGHTGBM if recipe.model == LIGHTGBM else _RIDGE).rstrip("\n") + _RESIDUAL
        return template.format(**{f: repr(getattr(recipe, f)) for f in _FIELDS})
    if name == "train":
        return _TRAIN.format(train_pixels=f"{recipe.train_pixels:_}")
    fixed = {"load": _LOAD, "predict": _PREDICT, "main": _MAIN}
    if name not in fixed:
        raise EngineerFailure(f"a per-pixel script has no block named {name!r}")
    return fixed[name]


_FIELDS = ("trees", "learning_rate", "leaves", "early_stopping", "alpha", "residual")
"""The recipe's fields the model blocks hold as constants."""


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
'''
