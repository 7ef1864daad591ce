"""Run-length masks per picture (mark the salt, the organ, the ship): a lean script of their own.

Each training row names a picture and holds its mask as run-length text. The script decodes the
masks (finding whether the pixels are numbered down the columns or along the rows), describes
every pixel by its neighbourhood at a few scales and its place in the picture (the kit's per-pixel
features), fits a classifier on a class-balanced sample of training pixels, and turns predicted
probabilities back into masks: a cut-off and a smallest component tuned on the out-of-fold pictures
for the task's metric, an empty string where nothing is found. Large pictures are shrunk first, and
pictures are predicted every STRIDE-th pixel, then spread back to full size (pixel by pixel, large
pictures would cost too much).
"""

from __future__ import annotations

import math
import textwrap

from mlestar import contract
from mlestar.contract import BLOCK_MARKER
from mlestar.engineers.base import Candidate
from mlestar.engineers.builtin.media import class_masks, render
from mlestar.engineers.builtin.media.outputs import saved_outputs
from mlestar.engineers.builtin.media.source import Snippet, defined_names, snippet
from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.engineers.builtin.pysrc import literal

MODELS = {
    "mask_lightgbm": (
        "Gradient-boosted trees (LightGBM) say whether each pixel is inside the mask, from its "
        "neighbourhood at several scales and its place in the picture.",
        "from lightgbm import LGBMClassifier",
        "LGBMClassifier(n_estimators=150, learning_rate=0.1, num_leaves=31, min_child_samples=40, "
        "subsample=0.8, subsample_freq=1, colsample_bytree=0.8, random_state=SEED, n_jobs=THREADS, verbose=-1)",
    ),
    "mask_logistic": (
        "Logistic regression on the same standardised pixel features: fast and smooth.",
        "from sklearn.linear_model import LogisticRegression\nfrom sklearn.pipeline import make_pipeline\n"
        "from sklearn.preprocessing import StandardScaler",
        "make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=300))",
    ),
}
MASK_METRICS = {
    "mask_iou_map": "iou_map",
    "mean_dice": "dice",
    "global_dice": "dice",
    "dice_hausdorff": "dice",
}
"""Metrics over one run-length mask per row, and the per-picture score the cut-off is tuned for."""
WORKING_SIDE = 256
"""Larger pictures are shrunk (block means) to about this side before any feature is computed."""
PREDICTED_SIDE = 64
"""Pictures are predicted on about this many rows and columns (every STRIDE-th pixel)."""
FILES_NAMES = frozenset(
    {"ID_COLUMN", "THREADS", "SEED", "INPUT", "FILES", "PICTURES", "MASK_WINDOWS", "MASK_GROUPS"}
)
"""Names the header or the files block's constants define (never copied from the kit)."""
OPENING = "# Files: each row's picture in grey, and every pixel's features (its neighbourhood and place)."


def picture_entry(profile: ProfileView) -> dict[str, object] | None:
    """The task's one picture per row, when it has exactly one such entry."""
    entries = [e for e in render.media_entries(profile) if e.get("kind") == "image" and e.get("per") is None]
    return entries[0] if len(entries) == 1 else None


def is_mask_task(profile: ProfileView) -> bool:
    """One run-length mask per row, scored per row, and a picture per row to draw it on (several
    rows may share a picture, each asking for the mask of its class: class_masks)."""
    return (
        profile.problem_type == "text"
        and profile.metric in MASK_METRICS
        and profile.n_outputs == 1
        and picture_entry(profile) is not None
        and bool(profile.id_column or (picture_entry(profile) or {}).get("key"))
    )


def candidates() -> list[Candidate]:
    return render.model_candidates(MODELS)


def scales(profile: ProfileView) -> tuple[int, int]:
    """(shrink, stride) for the task's typical picture: pictures wider than WORKING_SIDE are
    shrunk to about that, and predicted on about PREDICTED_SIDE rows and columns."""
    picture = profile.profile.get("media", {}).get("image", {})
    side = math.sqrt(float(picture.get("width", 64)) * float(picture.get("height", 64)))
    shrink = max(1, math.ceil(side / WORKING_SIDE))
    return shrink, max(1, round(side / shrink / PREDICTED_SIDE))


def script(profile: ProfileView, name: str, seed: int) -> str:
    """The whole mask script for one of MODELS."""
    summary, imports, expression = MODELS[name]
    files, code = _files_block(profile)
    by_class = class_masks.class_column(profile)
    masks = snippet(_MASK_ROOTS, FILES_NAMES | defined_names(code.code))
    new_imports = tuple(line for line in masks.imports if line not in code.imports)
    blocks = {
        "load": _LOAD,
        "files": files,
        "masks": "\n\n\n".join([render.import_lines(new_imports), masks.code.strip("\n")]).strip() + "\n",
        "model": imports + "\n\n\n" + _MAKE_MODEL.strip("\n").replace("EXPRESSION", expression) + "\n",
        "train": _TRAIN,
        "predict": class_masks.PREDICT if by_class else _PREDICT,
        "main": class_masks.MAIN if by_class else _MAIN,
    }
    parts = [_header(profile, name, summary, seed)] + [
        f"{BLOCK_MARKER}{b}\n{text}" for b, text in blocks.items()
    ]
    return "\n\n".join(part.rstrip("\n") + "\n" for part in parts)


_FILE_ROOTS = ("read_greys", "mask_planes")
_MASK_ROOTS = ("check_fit", "decode_runs", "encode_runs", "pixel_order", "shrunk", "balanced_pixels",
               "coarse_probabilities", "cleaned", "tuned_cut")  # fmt: skip


def _files_block(profile: ProfileView) -> tuple[str, Snippet]:
    """The files block, and the kit code in it (the masks block does not copy it again)."""
    code = snippet(_FILE_ROOTS, FILES_NAMES)
    constants = "\n".join(
        [
            f"ID_COLUMN = {literal(profile.id_column)}",
            f'FILES = INPUT / "{contract.FILES_LINK}"',
            f"PICTURES = {literal(picture_entry(profile))}",
            '"""Where train and test rows keep their pictures ({id} is the row\'s key)."""',
            "MASK_WINDOWS = (3, 7, 15, 31)",
            '"""Neighbourhood sizes (pixels) of the local statistics."""',
            'MASK_GROUPS = ("intensity", "neighbours", "local", "edges", "page")',
            '"""Per-pixel features: intensity, neighbours, local (windows), edges, page (the picture\'s percentiles)."""',
        ]
    )
    features = (
        "def pixel_features(grey: np.ndarray) -> np.ndarray:\n"
        '    """(height, width, features) of one picture."""\n'
        "    return mask_planes(grey, MASK_WINDOWS, MASK_GROUPS)\n"
    )
    by_class = class_masks.class_column(profile)
    if by_class:  # several rows per picture, one per class
        constants += "\n" + class_masks.constants(by_class)
    text = "\n\n\n".join(
        [OPENING + "\n" + render.import_lines(code.imports), constants, code.code.strip("\n"), features]
        + ([class_masks.SHARED] if by_class else [])
    )
    return text, code


_LOAD = f'''def load_inputs() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """The harness's tables (keys to the pictures), the masks as text, the folds."""
    train, test = pd.read_parquet(INPUT / "{contract.TRAIN_FILE}"), pd.read_parquet(INPUT / "{contract.TEST_FILE}")
    answers = np.load(INPUT / "{contract.TARGET_FILE}", allow_pickle=False).reshape(len(train), -1)[:, 0]
    return train, test, answers.astype(str), np.load(INPUT / "{contract.FOLDS_FILE}")
'''

_MAKE_MODEL = """

def make_model() -> Any:
    return EXPRESSION
"""

_TRAIN = '''def decoded(greys: list, answers: np.ndarray, used: np.ndarray) -> tuple[str, list]:
    """The pixel numbering the masks use, and each used picture's mask (None: no picture)."""
    pairs = [(greys[i], str(answers[i])) for i in used if greys[i] is not None]
    check_fit([t for _, t in pairs], [g.size for g, _ in pairs])
    pairs = pairs[:ORDER_PICTURES]
    order = pixel_order([g for g, _ in pairs], [t for _, t in pairs], MASK_WINDOWS)
    masks = [None] * len(greys)
    for i in used:
        if greys[i] is not None:
            masks[i] = decode_runs(str(answers[i]), greys[i].shape, order)
    return order, masks


def training_pixels(greys: list, masks: list, used: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A class-balanced sample of each used picture's pixels: features, inside or not, picture."""
    pictures = [i for i in used if masks[i] is not None]
    quota = max(16, TRAIN_PIXELS // max(len(pictures), 1))
    rng = np.random.default_rng(SEED)
    xs, ys, owners = [], [], []
    for i in pictures:
        mask = shrunk(masks[i], SHRINK) >= 0.5
        at = balanced_pixels(mask, quota, rng)
        planes = pixel_features(shrunk(greys[i], SHRINK))
        xs.append(planes.reshape(-1, planes.shape[2])[at])
        ys.append(mask.ravel()[at])
        owners.append(np.full(len(at), i))
    y = np.concatenate(ys).astype(int)
    if y.min() == y.max():
        raise ValueError("expected training masks with pixels both inside and outside, found one kind only")
    return np.concatenate(xs), y, np.concatenate(owners)


def cross_fit(greys: list, masks: list, folds: np.ndarray) -> tuple[dict[int, np.ndarray], Any]:
    """Out-of-fold probabilities of every used picture, and one model fitted on every sampled pixel."""
    used = np.flatnonzero(folds >= 0)
    x, y, owner = training_pixels(greys, masks, used)
    probabilities: dict[int, np.ndarray] = {}
    for k in range(int(folds.max()) + 1):
        fit = folds[owner] != k
        model = make_model().fit(x[fit], y[fit])
        valid = [i for i in used if folds[i] == k and masks[i] is not None]
        found = coarse_probabilities(model, [greys[i] for i in valid], STRIDE, SHRINK, pixel_features)
        probabilities.update(zip(valid, found, strict=True))
        print(f"fold {k}: fitted on {int(fit.sum())} pixels, {len(valid)} pictures predicted", flush=True)
    return probabilities, make_model().fit(x, y)
'''

_PREDICT = '''class Predictor:
    """Rows in, masks out: each row's picture, the model's probabilities, the tuned cut-off."""

    def __init__(self, model: Any, threshold: float, min_share: float, order: str) -> None:
        self.model, self.threshold, self.min_share, self.order = model, threshold, min_share, order

    def predict(self, frame: pd.DataFrame, split: str = "test") -> np.ndarray:
        out = [""] * len(frame)
        for start in range(0, len(frame), CHUNK):
            greys = read_greys(PICTURES, frame.iloc[start : start + CHUNK], split)
            present = [j for j, grey in enumerate(greys) if grey is not None]
            found = coarse_probabilities(self.model, [greys[j] for j in present], STRIDE, SHRINK, pixel_features)
            for j, probability in zip(present, found, strict=True):
                out[start + j] = self.mask_text(probability)
        return np.asarray(out, dtype=str).reshape(-1, 1)

    def mask_text(self, probability: np.ndarray) -> str:
        return encode_runs(cleaned(probability, self.threshold, self.min_share), self.order)
'''

_SAVED_OUTPUTS = saved_outputs("np.asarray(oof, dtype=str).reshape(-1, 1)")
_MAIN = f"""def main() -> None:
    start = time.time()
    train, test, answers, folds = load_inputs()
    used = np.flatnonzero(folds >= 0)
    greys: list = [None] * len(train)
    for i, grey in zip(used, read_greys(PICTURES, train.iloc[used], "train"), strict=True):
        greys[i] = grey
    order, masks = decoded(greys, answers, used)
    probabilities, model = cross_fit(greys, masks, folds)
    rows = sorted(probabilities)
    truths = [masks[i] for i in rows]
    threshold, min_share, score = tuned_cut([probabilities[i] for i in rows], truths, METRIC)
    print(f"pixels numbered {{order}}; cut-off {{threshold}}, smallest part {{min_share}}: {{METRIC}} {{score:.4f}}", flush=True)
    predictor = Predictor(model, threshold, min_share, order)
    oof = [""] * len(train)
    for i in rows:
        oof[i] = predictor.mask_text(probabilities[i])
{_SAVED_OUTPUTS}"""


def _header(profile: ProfileView, name: str, summary: str, seed: int) -> str:
    plan = (
        f"Plan: a first mask solution ({name}). {summary} Training masks are decoded from their "
        "run-length text; at most TRAIN_PIXELS training pixels are sampled, as many inside masks as "
        "outside; the cut-off and the smallest part kept are tuned on the out-of-fold pictures for "
        "the task's metric; test pictures are predicted by one model fitted on every sampled pixel."
    )
    if class_masks.class_column(profile):
        plan += (
            f" Rows share pictures, each asking for the mask of its {class_masks.class_column(profile)}: "
            "one model, cut-off and smallest part per class, fitted and tuned on that class's rows."
        )
    doc = "\n".join(textwrap.wrap(plan, 100))
    return f'''"""A picture in, a run-length mask out: answered pixel by pixel.

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
METRIC = "{MASK_METRICS[profile.metric]}"
"""What the cut-off is tuned for, picture by picture: iou_map (precision over IoU 0.5-0.95) or dice."""
TRAIN_PIXELS = 200_000
"""At most this many training pixels per fit, spread over the pictures."""
SHRINK, STRIDE = {scales(profile)[0]}, {scales(profile)[1]}
"""Pictures are shrunk SHRINK times (block means), predicted every STRIDE-th row and column of
that, and the answers spread back to full size."""
ORDER_PICTURES = 200
"""Training pictures looked at to tell how the masks number their pixels."""
CHUNK = 256
"""Test pictures read and predicted together."""
'''
