"""Bounding boxes per picture as prediction strings: the training boxes read, each class's typical
boxes (k-means centres of boxes scaled to their picture), and a picture's answer written from how
likely each class is present. Copied into box scripts like the rest of the kit."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

SEED = 0
"""The script's header sets it; the value here serves the tests."""

Box = tuple[str, float, float, float, float, float]
"""label, confidence, x_min, y_min, x_max, y_max"""


def read_boxes(text: str) -> list[Box]:
    """The boxes of a prediction string ("label confidence x_min y_min x_max y_max" repeated)."""
    words = str(text).split()
    if len(words) % 6:
        raise ValueError(f"expected 6 values per box, found {len(words)} in {str(text)[:60]!r}")
    boxes: list[Box] = []
    for i in range(0, len(words), 6):
        c, x1, y1, x2, y2 = (float(v) for v in words[i + 1 : i + 6])
        boxes.append((words[i], c, x1, y1, x2, y2))
    return boxes


def nothing_box(answers: list[list[Box]]) -> Box | None:
    """How the answers spell "nothing found": a label whose boxes all sit at the same place and
    never share a picture with another label (e.g. "14 1 0 0 1 1"); None when no label does."""
    places: dict[str, set[tuple[float, float, float, float]]] = {}
    alone: dict[str, bool] = {}
    for boxes in answers:
        labels = {b[0] for b in boxes}
        for b in boxes:
            places.setdefault(b[0], set()).add(b[2:])
            alone[b[0]] = alone.get(b[0], True) and len(labels) == 1
    found = [label for label, where in places.items() if len(where) == 1 and alone[label]]
    if len(found) != 1 or len(places) < 2:
        return None
    x1, y1, x2, y2 = next(iter(places[found[0]]))
    return (found[0], 1.0, x1, y1, x2, y2)


def presence(answers: list[list[Box]], classes: list[str]) -> np.ndarray:
    """(pictures, classes) 0/1: whether each picture has a box of each class."""
    out = np.zeros((len(answers), len(classes)), dtype=np.int8)
    at = {c: j for j, c in enumerate(classes)}
    for i, boxes in enumerate(answers):
        for b in boxes:
            if b[0] in at:
                out[i, at[b[0]]] = 1
    return out


def scaled_boxes(boxes: list[Box], size: np.ndarray, label: str) -> np.ndarray:
    """(m, 4) the label's boxes as shares of the picture's width and height."""
    corners = np.array([b[2:] for b in boxes if b[0] == label], dtype=float).reshape(-1, 4)
    return corners / np.tile(size, 2)


def typical_boxes(shares: np.ndarray, most: int) -> tuple[np.ndarray, np.ndarray]:
    """(centres, weights): at most `most` k-means centres of a class's scaled boxes, and the share
    of its boxes each centre stands for (largest first)."""
    distinct = np.unique(shares, axis=0)
    k = min(most, len(distinct))
    if k <= 1:
        return shares.mean(axis=0, keepdims=True), np.ones(1)
    found = KMeans(n_clusters=k, n_init=4, random_state=SEED).fit(shares)
    weights = np.bincount(found.labels_, minlength=k) / len(shares)
    order = np.argsort(-weights, kind="stable")
    return found.cluster_centers_[order], weights[order]


def placed_boxes(answers: list[list[Box]], sizes: np.ndarray, label: str) -> tuple[np.ndarray, np.ndarray]:
    """(pictures, shares): the pictures holding the label, and the mean of its boxes in each, as
    shares of the picture (readers drawing the same thing give one box)."""
    rows, shares = [], []
    for i, (boxes, size) in enumerate(zip(answers, sizes, strict=True)):
        found = scaled_boxes(boxes, size, label)
        if len(found):
            rows.append(i)
            shares.append(found.mean(axis=0))
    return np.array(rows, dtype=int), np.array(shares, dtype=float).reshape(-1, 4)


def fit_placer(x: np.ndarray, shares: np.ndarray) -> Any:
    """A ridge regression from picture features to where the class's box lies (shares)."""
    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), Ridge(alpha=10.0)).fit(x, shares)


def placed_where(placer: Any, x: np.ndarray) -> np.ndarray:
    """(n, 4) the placed boxes as shares, inside the picture and with their corners in order."""
    found = np.clip(placer.predict(x), 0, 1)
    return np.hstack([np.minimum(found[:, :2], found[:, 2:]), np.maximum(found[:, :2], found[:, 2:])])


def placing_helps(x: np.ndarray, shares: np.ndarray, centre: np.ndarray, folds: int = 3) -> bool:
    """Whether boxes placed per picture (each predicted by a placer fitted on the other thirds of
    these pictures) hit the picture's own box at least as often as the class's main typical box
    does, averaged over IoU thresholds 0.5 to 0.9: where the features do not tell where a box
    lies, a placed box is noise."""
    part = np.arange(len(shares)) % folds
    placed = np.zeros_like(shares)
    for k in range(folds):
        placed[part == k] = placed_where(fit_placer(x[part != k], shares[part != k]), x[part == k])
    typical = np.tile(centre, (len(shares), 1))
    steps = np.arange(0.5, 0.95, 0.1)[:, None]
    return bool((overlaps(placed, shares) >= steps).mean() >= (overlaps(typical, shares) >= steps).mean())


def overlaps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row by row intersection over union of two (n, 4) arrays of corner boxes."""
    w = np.clip(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    union = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - w * h
    return np.divide(w * h, union, out=np.zeros(len(a)), where=union > 0)


def picture_sizes(features: pd.DataFrame, known: np.ndarray | None = None) -> np.ndarray:
    """(n, 2) each picture's width and height from the files block's shape columns; a picture
    without them gets the median of `known` (the training pictures'); (1, 1) when no picture has
    a size (scans the kit does not decode): boxes are then used as they are given."""
    widths = [c for c in features.columns if str(c).endswith("shape_0")]
    heights = [c for c in features.columns if str(c).endswith("shape_1")]
    if not widths or not heights:
        return np.ones((len(features), 2))
    sizes = features[[widths[0], heights[0]]].to_numpy(dtype=float)
    reference = sizes if known is None else known
    fill = np.nanmedian(reference, axis=0) if np.isfinite(reference).any() else np.ones(2)
    return np.where(np.isfinite(sizes) & (sizes > 0), sizes, fill)


def box_string(
    probabilities: np.ndarray, classes: list[str], typical: dict[str, Any], size: np.ndarray,
    nothing: Box | None, least: float, placed: dict[str, np.ndarray] | None = None,
) -> str:  # fmt: skip
    """One picture's prediction string: for each class at least `least` likely, the box placed for
    this picture (when `placed` has one: confidence the class's probability), then its typical
    boxes (confidence its probability times the centre's weight relative to the class's main
    centre, halved after a placed box); all scaled to the picture. Then nothing found, confidence
    1 - the largest probability."""
    words = []
    for j in np.argsort(-probabilities, kind="stable"):
        p, label = float(probabilities[j]), classes[j]
        if p < least:
            break
        centres, weights = typical[label]
        scores = p * weights / weights[0]
        if placed and label in placed:
            centres, scores = np.vstack([placed[label], centres]), np.concatenate([[p], scores / 2])
        for centre, score in zip(centres, scores, strict=True):
            x1, y1, x2, y2 = centre * np.tile(size, 2)
            words.append(f"{label} {score:.4f} {x1:.1f} {y1:.1f} {x2:.1f} {y2:.1f}")
    if nothing is not None:
        top = float(probabilities.max()) if len(probabilities) else 0.0
        name, _, *box = nothing
        words.append(f"{name} {1 - top:.4f} " + " ".join(f"{v:g}" for v in box))
    return " ".join(words)
