"""Bounding boxes per picture as prediction strings: a lean script of their own.

Each training row names a picture and holds its boxes ("class confidence x_min y_min x_max y_max
..."; intake groups one-row-per-box tables so). The script describes every picture by the media
kit's features (the files block every picture script carries), learns one presence classifier per
class over those features, and answers a picture with each likely class's typical boxes (k-means
centres of that class's training boxes, scaled to the picture) at the class's probability, then
"nothing found" as the training answers spell it, at one minus the largest probability. Out of
fold, both the classifiers and the typical boxes are fitted on the other folds only.
"""

from __future__ import annotations

import textwrap

from mlestar import contract
from mlestar.contract import BLOCK_MARKER
from mlestar.engineers.base import Candidate
from mlestar.engineers.builtin.media import level_boxes, render
from mlestar.engineers.builtin.media.outputs import saved_outputs
from mlestar.engineers.builtin.media.source import defined_names, snippet
from mlestar.engineers.builtin.profile_view import ProfileView

MODELS = {
    "box_logistic": (
        "Logistic regression per class (standardised picture features, missing values filled by the "
        "median) says whether the picture holds that class.",
        "from sklearn.impute import SimpleImputer\nfrom sklearn.linear_model import LogisticRegression\n"
        "from sklearn.pipeline import make_pipeline\nfrom sklearn.preprocessing import StandardScaler",
        'make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(C=0.1, max_iter=500))',
    ),
    "box_lightgbm": (
        "Gradient-boosted trees (LightGBM) per class say whether the picture holds that class.",
        "from lightgbm import LGBMClassifier",
        "LGBMClassifier(n_estimators=100, learning_rate=0.05, num_leaves=15, min_child_samples=10, "
        "subsample=0.8, subsample_freq=1, colsample_bytree=0.5, random_state=SEED, n_jobs=THREADS, verbose=-1)",
    ),
}
BOX_METRICS = frozenset({"box_map_coco", "box_map_voc"})
"""Metrics over "label confidence x_min y_min x_max y_max" prediction strings, one per picture row."""
PICTURE_KINDS = frozenset({"image", "volume"})
"""Per-row files a box is drawn on: pictures, or scans the kit reads as bytes."""
HEADER_NAMES = frozenset(
    {"INPUT", "OUTPUT", "SEED", "THREADS", "SAVE_MODEL", "BOXES_PER_CLASS", "LEAST", "PLACE", "PLACE_MIN"}
)
"""Names the header defines (never copied from the kit)."""


def is_box_task(profile: ProfileView) -> bool:
    """One prediction string of boxes per row, scored as boxes, and a picture per row."""
    pictures = [
        e for e in render.media_entries(profile) if e.get("kind") in PICTURE_KINDS and not e.get("per")
    ]
    return (
        profile.problem_type == "text"
        and profile.metric.split(":")[0].strip() in BOX_METRICS  # "box_map_voc:iou=0.5"
        and profile.n_outputs == 1
        and bool(profile.id_column)
        and bool(pictures)
    )


def candidates() -> list[Candidate]:
    return render.model_candidates(MODELS)


def script(profile: ProfileView, name: str, seed: int) -> str:
    """The whole box script for one of MODELS."""
    summary, imports, expression = MODELS[name]
    by_level = level_boxes.level_column(profile)  # answers at several levels, a model each
    files = render.render_media_files(profile, render.default_options(profile)).strip() + "\n"
    code = snippet(_BOX_ROOTS, HEADER_NAMES | defined_names(files))
    imported = {line for line in files.splitlines() if line.startswith(("import ", "from "))}
    new_imports = tuple(line for line in code.imports if line not in imported)
    earlier = imported | set(new_imports)  # the model block imports only what the others have not
    model_imports = "".join(line + "\n" for line in imports.splitlines() if line not in earlier) + "\n\n"
    blocks = {
        "load": _LOAD,
        "files": files,
        "boxes": "\n\n\n".join([render.import_lines(new_imports), code.code.strip("\n")]).strip() + "\n",
        "model": model_imports + _MAKE_MODEL.strip("\n").replace("EXPRESSION", expression) + "\n",
        "train": _TRAIN + level_boxes.TRAIN if by_level else _TRAIN,
        "predict": level_boxes.PREDICT if by_level else _PREDICT,
        "main": level_boxes.MAIN if by_level else _MAIN,
    }
    header = _header(name, summary, seed) + (level_boxes.constants(profile) if by_level else "")
    parts = [header] + [f"{BLOCK_MARKER}{b}\n{text}" for b, text in blocks.items()]
    return "\n\n".join(part.rstrip("\n") + "\n" for part in parts)


_BOX_ROOTS = ("read_boxes", "nothing_box", "presence", "scaled_boxes", "typical_boxes", "placed_boxes",
              "fit_placer", "placed_where", "placing_helps", "picture_sizes", "box_string")  # fmt: skip


_LOAD = f'''def load_inputs() -> tuple[pd.DataFrame, pd.DataFrame, list, np.ndarray]:
    """The harness's tables (keys to the pictures), each training picture's boxes, the folds."""
    train, test = pd.read_parquet(INPUT / "{contract.TRAIN_FILE}"), pd.read_parquet(INPUT / "{contract.TEST_FILE}")
    texts = np.load(INPUT / "{contract.TARGET_FILE}", allow_pickle=False).reshape(len(train), -1)[:, 0]
    return train, test, [read_boxes(str(t)) for t in texts], np.load(INPUT / "{contract.FOLDS_FILE}")
'''

_MAKE_MODEL = """

def make_model() -> Any:
    return EXPRESSION
"""

_TRAIN = '''class BoxModel:
    """One presence classifier per class and each class's typical boxes, fitted on some pictures."""

    def __init__(self, x: np.ndarray, answers: list, sizes: np.ndarray, classes: list, nothing: Any) -> None:
        self.classes, self.nothing = classes, nothing
        present = presence(answers, classes)
        self.models = [fit_presence(x, present[:, j]) for j in range(len(classes))]
        self.typical, self.placers = {}, {}
        for j, label in enumerate(classes):
            shares = np.concatenate([scaled_boxes(a, s, label) for a, s in zip(answers, sizes, strict=True)])
            if not len(shares):
                self.models[j] = 0.0  # no box of the class in these pictures: never predicted
                continue
            self.typical[label] = typical_boxes(shares, BOXES_PER_CLASS)
            rows, places = placed_boxes(answers, sizes, label)
            main = self.typical[label][0][0]
            if PLACE and len(rows) >= PLACE_MIN and placing_helps(x[rows], places, main):
                self.placers[label] = fit_placer(x[rows], places)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """(pictures, classes): how likely each picture holds each class."""
        columns = [
            np.full(len(x), model) if isinstance(model, float) else model.predict_proba(x)[:, 1]
            for model in self.models
        ]
        return np.column_stack(columns) if columns else np.zeros((len(x), 0))

    def strings(self, x: np.ndarray, sizes: np.ndarray) -> list:
        found = self.probabilities(x)
        places = {label: placed_where(placer, x) for label, placer in self.placers.items()}
        out = []
        for i, (p, size) in enumerate(zip(found, sizes, strict=True)):
            here = {label: where[i] for label, where in places.items()}
            out.append(box_string(p, self.classes, self.typical, size, self.nothing, LEAST, here))
        return out


def fit_presence(x: np.ndarray, present: np.ndarray) -> Any:
    """A classifier of one class's presence; its share when the pictures hold one answer only."""
    if present.min() == present.max():
        return float(present[0])
    return make_model().fit(x, present)


def cross_fit(x: np.ndarray, answers: list, sizes: np.ndarray, folds: np.ndarray, classes: list, nothing: Any) -> list:
    """Out-of-fold prediction strings of every used picture ("" on unused rows)."""
    oof = [""] * len(answers)
    for k in range(int(folds.max()) + 1):
        fit = np.flatnonzero((folds >= 0) & (folds != k))
        valid = np.flatnonzero(folds == k)
        model = BoxModel(x[fit], [answers[i] for i in fit], sizes[fit], classes, nothing)
        for i, text in zip(valid, model.strings(x[valid], sizes[valid]), strict=True):
            oof[i] = text
        print(f"fold {k}: fitted on {len(fit)} pictures, {len(valid)} predicted", flush=True)
    return oof
'''

_PREDICT = '''class Predictor:
    """Rows in, prediction strings out: each row's picture features, the fitted BoxModel."""

    def __init__(self, model: BoxModel, known_sizes: np.ndarray) -> None:
        self.model, self.known_sizes = model, known_sizes

    def predict(self, frame: pd.DataFrame, split: str = "test") -> np.ndarray:
        features = file_features(frame, split)
        sizes = picture_sizes(features, self.known_sizes)
        texts = self.model.strings(features.to_numpy(dtype=np.float32), sizes)
        return np.asarray(texts, dtype=str).reshape(-1, 1)
'''

_SAVED_OUTPUTS = saved_outputs("np.asarray(oof, dtype=str).reshape(-1, 1)")
_MAIN = f"""def main() -> None:
    start = time.time()
    train, test, answers, folds = load_inputs()
    used = np.flatnonzero(folds >= 0)
    features = file_features(train.iloc[used], "train")
    x, sizes = features.to_numpy(dtype=np.float32), picture_sizes(features)
    kept = [answers[i] for i in used]
    nothing = nothing_box(kept)
    classes = sorted({{b[0] for boxes in kept for b in boxes}} - {{nothing[0] if nothing else None}})
    print(f"{{len(classes)}} classes, nothing found: {{nothing}}", flush=True)
    oof_used = cross_fit(x, kept, sizes, folds[used], classes, nothing)
    oof = [""] * len(train)
    for i, text in zip(used, oof_used, strict=True):
        oof[i] = text
    predictor = Predictor(BoxModel(x, kept, sizes, classes, nothing), sizes)
{_SAVED_OUTPUTS}"""


def _header(name: str, summary: str, seed: int) -> str:
    plan = (
        f"Plan: a first box solution ({name}). {summary} Each picture is a row of the media kit's "
        "features. A class found likely present is answered with a box placed for the picture (a "
        "ridge regression from the features, where that beats the typical box on the training "
        "pictures), then its typical boxes (k-means centres of its training boxes, as shares of the "
        "picture's width and height), confidence its probability; nothing found is written as the training answers spell it, confidence one "
        "minus the largest probability. Test pictures are answered by models fitted on every used "
        "training picture."
    )
    doc = "\n".join(textwrap.wrap(plan, 100))
    return f'''"""A picture in, its boxes out: a prediction string per picture.

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
BOXES_PER_CLASS = 3
"""Typical boxes written for a class found present (k-means centres of its training boxes)."""
LEAST = 0.05
"""Classes less likely than this are left out of a picture's answer."""
PLACE = True
"""Also place each class's box per picture (a ridge regression from the picture's features to
where the class's box lies), written before its typical boxes, for classes whose placed boxes hit
at least as often as their main typical box on these pictures."""
PLACE_MIN = 20
"""Training pictures holding a class that a placement needs."""
'''
