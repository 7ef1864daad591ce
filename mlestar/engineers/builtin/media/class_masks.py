"""Masks per picture and class: the mask script's predict and main blocks when several rows share
one picture, each row asking for the mask of its class (a layout like organs on a scan slice, one
row per slice and organ; intake's row-files entry names the class column, mlestar/task/class_rows.py).

One mask model per class, fitted on that class's rows only (the same pictures, its own masks), with
its own cut-off and smallest part tuned on its out-of-fold pictures; a class no training mask
covers is answered empty. Every picture is read once however many class rows share it, and each
row's answer is written back to that row.
"""

from __future__ import annotations

from mlestar.engineers.builtin.media.outputs import saved_outputs
from mlestar.engineers.builtin.profile_view import ProfileView


def class_column(profile: ProfileView) -> str | None:
    """The column naming each row's class, when intake found rows per (picture, class)."""
    found = [f.get("class") for f in profile.files if f.get("kind") == "image" and f.get("class")]
    return str(found[0]) if len(found) == 1 else None


def constants(column: str) -> str:
    return f'CLASS_COLUMN = "{column}"\n"""Each row asks for the mask of the class in this column; a model per class."""'


SHARED = '''def shared_greys(frame: pd.DataFrame, split: str) -> list:
    """Each row's picture in grey; a picture that several class rows share is read once."""
    paths = row_paths(PICTURES, frame, split, ID_COLUMN)
    first: dict[str, int] = {}
    for j, path in enumerate(paths):
        first.setdefault(path, j)
    picks = sorted(first.values())
    greys = dict(zip(picks, read_greys(PICTURES, frame.iloc[picks], split), strict=True))
    return [greys[first[path]] for path in paths]
'''

PREDICT = '''class Predictor:
    """Rows in, masks out: each row's picture, its class's model and tuned cut-off (a class no
    training mask covers, or none seen in training, is answered with the empty mask)."""

    def __init__(self, models: dict[str, tuple[Any, float, float]], order: str) -> None:
        self.models, self.order = models, order

    def predict(self, frame: pd.DataFrame, split: str = "test") -> np.ndarray:
        out = [""] * len(frame)
        labels = frame[CLASS_COLUMN].astype(str).to_numpy()
        for start in range(0, len(frame), CHUNK):
            greys = shared_greys(frame.iloc[start : start + CHUNK], split)
            for label, (model, threshold, min_share) in self.models.items():
                rows = [j for j, g in enumerate(greys) if g is not None and labels[start + j] == label]
                if model is None or not rows:
                    continue
                found = coarse_probabilities(model, [greys[j] for j in rows], STRIDE, SHRINK, pixel_features)
                for j, probability in zip(rows, found, strict=True):
                    out[start + j] = self.mask_text(probability, threshold, min_share)
        return np.asarray(out, dtype=str).reshape(-1, 1)

    def mask_text(self, probability: np.ndarray, threshold: float, min_share: float) -> str:
        return encode_runs(cleaned(probability, threshold, min_share), self.order)
'''

_FIT = '''def class_fits(greys: list, masks: list, folds: np.ndarray, labels: np.ndarray, order: str) -> tuple[dict, list]:
    """Each class's model, cut-off and smallest part, fitted and tuned on its own rows; the
    out-of-fold answers of every row."""
    models: dict[str, tuple[Any, float, float]] = {}
    oof = [""] * len(labels)
    for label in sorted(set(labels[folds >= 0])):
        mine = np.where(labels == label, folds, -1)  # the other classes' rows take no part
        if not any(masks[i] is not None and masks[i].any() for i in np.flatnonzero(mine >= 0)):
            models[label] = (None, 1.01, 0.0)
            print(f"class {label}: no training mask holds a pixel, answered empty", flush=True)
            continue
        probabilities, model = cross_fit(greys, masks, mine)
        rows = sorted(probabilities)
        threshold, min_share, score = tuned_cut([probabilities[i] for i in rows], [masks[i] for i in rows], METRIC)
        print(f"class {label}: cut-off {threshold}, smallest part {min_share}: {METRIC} {score:.4f}", flush=True)
        models[label] = (model, threshold, min_share)
        for i in rows:
            oof[i] = encode_runs(cleaned(probabilities[i], threshold, min_share), order)
    return models, oof
'''

MAIN = (
    _FIT
    + """

def main() -> None:
    start = time.time()
    train, test, answers, folds = load_inputs()
    used = np.flatnonzero(folds >= 0)
    greys: list = [None] * len(train)
    for i, grey in zip(used, shared_greys(train.iloc[used], "train"), strict=True):
        greys[i] = grey
    order, masks = decoded(greys, answers, used)
    print(f"pixels numbered {order}", flush=True)
    models, oof = class_fits(greys, masks, folds, train[CLASS_COLUMN].astype(str).to_numpy(), order)
    predictor = Predictor(models, order)
"""
    + saved_outputs("np.asarray(oof, dtype=str).reshape(-1, 1)")
)
