"""Masks of volumes in folders (ink in a scanned fragment): a lean script of their own.

Intake gives one training row per tile of a training folder (its answer the labels inside the
tile as run-length text) and one test row per test folder (task/volumes.py). The script reads each
folder's stack of layers once, describes every pixel by the layer values at it, their statistics
across the layers and small neighbourhood means (the kit's volumes.py), fits a classifier on a
class-balanced sample of the pixels inside the object, and cuts the probabilities at the value
that scores best for the task's F-beta on the out-of-fold tiles (whole spatial blocks held out,
never random pixels). Answers cover only the pixels inside the object.
"""

from __future__ import annotations

import textwrap

from mlestar import contract
from mlestar.contract import BLOCK_MARKER
from mlestar.engineers.base import Candidate
from mlestar.engineers.builtin.media import render
from mlestar.engineers.builtin.media.outputs import saved_outputs
from mlestar.engineers.builtin.media.source import defined_names, snippet
from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.engineers.builtin.pysrc import literal

MODELS = {
    "volume_lightgbm": (
        "Gradient-boosted trees (LightGBM) say whether each pixel is marked, from the layer values "
        "at it, their statistics across the layers and its neighbourhood.",
        "from lightgbm import LGBMClassifier",
        "LGBMClassifier(n_estimators=150, learning_rate=0.1, num_leaves=31, min_child_samples=40, "
        "subsample=0.8, subsample_freq=1, colsample_bytree=0.8, random_state=SEED, n_jobs=THREADS, verbose=-1)",
    ),
    "volume_logistic": (
        "Logistic regression on the same standardised pixel features: fast and smooth.",
        "from sklearn.linear_model import LogisticRegression\nfrom sklearn.pipeline import make_pipeline\n"
        "from sklearn.preprocessing import StandardScaler",
        "make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=300))",
    ),
}
FILES_NAMES = frozenset({"ID_COLUMN", "THREADS", "SEED", "INPUT", "FILES", "VOLUMES", "WINDOWS", "MAX_LAYERS",
                         "WORKING_SIDE"})  # fmt: skip
"""Names the header or the files block's constants define (never copied from the kit)."""
OPENING = "# Files: each folder's stack of layers, its object mask, and every pixel's features."
_FILE_ROOTS = ("read_volume", "volume_planes")
_MASK_ROOTS = ("owners", "full_size", "balanced_sample", "fbeta_cut", "predicted_map", "decode_runs",
               "encode_runs")  # fmt: skip


def volume_entry(profile: ProfileView) -> dict[str, object] | None:
    """The task's folders of layers, when intake found them (one entry, `per: folder`)."""
    entries = [e for e in profile.files if e.get("per") == "folder" and e.get("layers")]
    return dict(entries[0]) if len(entries) == 1 else None


def is_volume_task(profile: ProfileView) -> bool:
    """One run-length mask per row scored by F-beta, drawn on a folder of layers per row."""
    return (
        profile.problem_type == "text"
        and str(profile.metric).split(":")[0] == "mask_fbeta"
        and profile.n_outputs == 1
        and bool(profile.id_column)
        and volume_entry(profile) is not None
    )


def candidates() -> list[Candidate]:
    return render.model_candidates(MODELS)


def script(profile: ProfileView, name: str, seed: int) -> str:
    """The whole volume script for one of MODELS."""
    summary, imports, expression = MODELS[name]
    code = snippet(_FILE_ROOTS, FILES_NAMES)
    masks = snippet(_MASK_ROOTS, FILES_NAMES | defined_names(code.code))
    new_imports = tuple(line for line in masks.imports if line not in code.imports)
    blocks = {
        "load": _LOAD,
        "files": _files_block(profile, code.imports, code.code),
        "masks": "\n\n\n".join([render.import_lines(new_imports), masks.code.strip("\n")]).strip() + "\n",
        "model": imports + "\n\n\n" + _MAKE_MODEL.strip("\n").replace("EXPRESSION", expression) + "\n",
        "train": _TRAIN,
        "predict": _PREDICT,
        "main": _MAIN,
    }
    parts = [_header(profile, name, summary, seed)] + [
        f"{BLOCK_MARKER}{b}\n{text}" for b, text in blocks.items()
    ]
    return "\n\n".join(part.rstrip("\n") + "\n" for part in parts)


def _files_block(profile: ProfileView, imports: tuple[str, ...], code: str) -> str:
    entry = volume_entry(profile) or {}
    volumes = {k: entry[k] for k in ("layers", "mask", "order") if k in entry}
    constants = "\n".join(
        [
            f"ID_COLUMN = {literal(profile.id_column)}",
            f'FILES = INPUT / "{contract.FILES_LINK}"',
            f"VOLUMES = {literal(volumes)}",
            '"""Each row\'s folder (its "folder" column) holds the layers\' subfolder and the object\'s mask;\n'
            'masks number their pixels along the rows ("C") or down the columns ("F")."""',
            "MAX_LAYERS = 16",
            '"""At most this many layers, evenly spread over the stack."""',
            "WORKING_SIDE = 1024",
            '"""Larger volumes are shrunk (block means) to about this side before any feature is computed."""',
            "WINDOWS = (3, 7, 15)",
            '"""Neighbourhood sizes (pixels) of the local statistics."""',
        ]
    )
    features = '''def folder_features(folder: str) -> tuple[np.ndarray, np.ndarray, int]:
    """(height, width, features) of one folder's shrunk volume, its object mask, the shrink."""
    stack, inside, factor = read_volume(FILES / folder, VOLUMES["layers"], VOLUMES["mask"], MAX_LAYERS, WORKING_SIDE)
    return volume_planes(stack, WINDOWS), inside, factor
'''
    return "\n\n\n".join(
        [OPENING + "\n" + render.import_lines(imports), constants, code.strip("\n"), features]
    )


_LOAD = f'''def load_inputs() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """The harness's tables (a folder and a rectangle per row), the masks as text, the folds."""
    train, test = pd.read_parquet(INPUT / "{contract.TRAIN_FILE}"), pd.read_parquet(INPUT / "{contract.TEST_FILE}")
    answers = np.load(INPUT / "{contract.TARGET_FILE}", allow_pickle=False).reshape(len(train), -1)[:, 0]
    return train, test, answers.astype(str), np.load(INPUT / "{contract.FOLDS_FILE}")
'''

_MAKE_MODEL = """

def make_model() -> Any:
    return EXPRESSION
"""

_TRAIN = '''def rectangles(rows: pd.DataFrame) -> list[tuple[int, int, int, int]]:
    """(top, left, height, width) of each row's part of its folder's picture, at full size."""
    return [(int(r.top), int(r.left), int(r.height), int(r.width)) for r in rows.itertuples()]


class Volume:
    """One folder: its pixels' features, its object mask, its used rows (tiles), their labels."""

    def __init__(self, folder: str, rows: pd.DataFrame, answers: np.ndarray) -> None:
        self.planes, self.inside, self.factor = folder_features(folder)
        self.rows = rows.index.to_numpy()
        self.rects = rectangles(rows)
        shape = self.planes.shape[:2]
        self.owner = owners(shape, self.factor, self.rects)  # which row each shrunk pixel is in
        self.labels = np.zeros(self.inside.shape, dtype=bool)
        for (top, left, height, width), text in zip(self.rects, answers, strict=True):
            self.labels[top : top + height, left : left + width] = decode_runs(text, (height, width), VOLUMES["order"])
        self.inside_small = shrunk(self.inside, self.factor)[: shape[0], : shape[1]] >= 0.5
        self.labels_small = shrunk(self.labels, self.factor)[: shape[0], : shape[1]] >= 0.5


def read_volumes(train: pd.DataFrame, answers: np.ndarray, used: np.ndarray) -> list[Volume]:
    """The folders of the used rows, each read once."""
    rows = train.reset_index(drop=True).iloc[used]
    return [Volume(folder, part, answers[part.index.to_numpy()]) for folder, part in rows.groupby("folder", sort=True)]


def training_pixels(volumes: list[Volume]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A class-balanced sample of the pixels inside each object: features, marked or not, row."""
    quota = max(16, TRAIN_PIXELS // max(len(volumes), 1))
    rng = np.random.default_rng(SEED)
    xs, ys, rows = [], [], []
    for v in volumes:
        where = np.flatnonzero(v.inside_small.ravel() & (v.owner.ravel() >= 0))
        at = where[balanced_sample(v.labels_small.ravel()[where], quota, rng)]
        xs.append(v.planes.reshape(-1, v.planes.shape[2])[at])
        ys.append(v.labels_small.ravel()[at])
        rows.append(v.rows[v.owner.ravel()[at]])
    y = np.concatenate(ys).astype(int)
    if y.min() == y.max():
        raise ValueError("expected training labels with marked and unmarked pixels inside the objects, found one kind")
    return np.concatenate(xs), y, np.concatenate(rows)


def cross_fit(volumes: list[Volume], folds: np.ndarray) -> tuple[list[np.ndarray], Any]:
    """Each volume's out-of-fold probabilities (full size; a tile predicted by the model that did
    not see it), and one model fitted on every sampled pixel."""
    x, y, row = training_pixels(volumes)
    maps = [np.zeros(v.inside_small.shape, dtype=np.float32) for v in volumes]
    for k in range(int(folds.max()) + 1):
        fit = folds[row] != k
        if len(np.unique(y[fit])) < 2:
            continue
        model = make_model().fit(x[fit], y[fit])
        for v, probability in zip(volumes, maps, strict=True):
            held = v.inside_small & (v.owner >= 0) & (folds[v.rows[np.maximum(v.owner, 0)]] == k)
            probability[held] = predicted_map(model, v.planes, held)[held]
        print(f"fold {k}: fitted on {int(fit.sum())} pixels", flush=True)
    full = [full_size(p, v.factor, v.inside.shape) for v, p in zip(volumes, maps, strict=True)]
    return full, make_model().fit(x, y)
'''

_PREDICT = '''class Predictor:
    """Rows in, masks out: each row's folder, the model's probabilities inside the object, the
    tuned cut-off; the mask of the row's rectangle as run-length text."""

    def __init__(self, model: Any, cut: float) -> None:
        self.model, self.cut = model, cut

    def predict(self, frame: pd.DataFrame, split: str = "test") -> np.ndarray:
        out = []
        for row in frame.itertuples():
            planes, inside, factor = folder_features(str(row.folder))
            probability = full_size(predicted_map(self.model, planes, shrunk(inside, factor) >= 0.5), factor, inside.shape)
            rect = (int(row.top), int(row.left), int(row.height), int(row.width))
            out.append(self.mask_text(probability, inside, rect) or self.likeliest(probability, inside, rect))
        return np.asarray(out, dtype=str).reshape(-1, 1)

    def likeliest(self, probability: np.ndarray, inside: np.ndarray, rect: tuple[int, int, int, int]) -> str:
        """The one likeliest pixel inside the object: where nothing passes the cut, a test answer
        still marks a pixel (some graders read no empty answer; F-beta scores both the same)."""
        top, left, height, width = rect
        part = np.where(inside, probability, -1.0)[top : top + height, left : left + width]
        mask = np.zeros(part.shape, dtype=bool)
        mask.flat[int(np.argmax(part))] = True
        return encode_runs(mask, VOLUMES["order"])

    def mask_text(self, probability: np.ndarray, inside: np.ndarray, rect: tuple[int, int, int, int]) -> str:
        top, left, height, width = rect
        mask = (probability >= self.cut) & inside
        return encode_runs(mask[top : top + height, left : left + width], VOLUMES["order"])
'''

_SAVED_OUTPUTS = saved_outputs("np.asarray(oof, dtype=str).reshape(-1, 1)")
_MAIN = f"""def main() -> None:
    start = time.time()
    train, test, answers, folds = load_inputs()
    used = np.flatnonzero(folds >= 0)
    volumes = read_volumes(train, answers, used)
    probabilities, model = cross_fit(volumes, folds)
    scored = [v.inside & full_size(v.owner >= 0, v.factor, v.inside.shape) for v in volumes]
    parts = list(zip(probabilities, [v.labels for v in volumes], scored, strict=True))
    cut, score = fbeta_cut(parts, BETA)
    print(f"cut-off {{cut}}: F{{BETA:g}} {{score:.4f}} over {{len(volumes)}} volumes out of fold", flush=True)
    predictor = Predictor(model, cut)
    oof = [""] * len(train)
    for v, probability in zip(volumes, probabilities, strict=True):
        for i, rect in zip(v.rows, v.rects, strict=True):
            oof[i] = predictor.mask_text(probability, v.inside, rect)
{_SAVED_OUTPUTS}"""


def _named_beta(metric: str) -> float:
    for part in metric.split(":")[1:]:
        key, _, value = part.partition("=")
        if key == "beta":
            return float(value)
    return 0.5


def _header(profile: ProfileView, name: str, summary: str, seed: int) -> str:
    plan = (
        f"Plan: a first volume mask solution ({name}). {summary} Training tiles' labels are decoded "
        "from their run-length text; at most TRAIN_PIXELS pixels inside the objects are sampled, as "
        "many marked as not; the cut-off is tuned on the out-of-fold tiles (spatial blocks) for the "
        "task's F-beta; test folders are predicted by one model fitted on every sampled pixel."
    )
    doc = "\n".join(textwrap.wrap(plan, 100))
    return f'''"""A folder of layers in, a run-length mask out: answered pixel by pixel.

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
BETA = {_named_beta(str(profile.metric))}
"""The F-beta the cut-off is tuned for (the task's metric)."""
TRAIN_PIXELS = 200_000
"""At most this many training pixels per fit, spread over the volumes."""
'''
