"""Scores of segmentation masks given as run-length strings (one mask per row, see rle.py)."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from mlestar.metrics.base import Context, ScoreFn, one_column
from mlestar.metrics.rle import Runs, overlap, parse_runs, rle_decode

IMAGE_SHAPE = "image_shape"
VOLUME = "volume"
SLICE = "slice"
IOU_THRESHOLDS = np.arange(0.5, 1.0, 0.05)
"""0.50, 0.55, ... 0.95, built the way the reference grader builds them (so float edges agree)."""


def _pairs(y: np.ndarray, p: np.ndarray, metric: str) -> list[tuple[Runs, Runs]]:
    truth, pred = one_column(y, metric), one_column(p, metric)
    return [(parse_runs(t), parse_runs(q)) for t, q in zip(truth, pred, strict=True)]


def mean_dice(y: np.ndarray, p: np.ndarray, ctx: Context) -> float:
    """Mean over rows of 2|A & B| / (|A| + |B|); a row where both masks are empty scores 1."""
    scores = [_dice(a, b, empty=1.0) for a, b in _pairs(y, p, "mean_dice")]
    return float(np.mean(scores)) if scores else 1.0


def _dice(truth: Runs, pred: Runs, empty: float) -> float:
    total = truth.area + pred.area
    return 2 * overlap(truth, pred) / total if total else empty


def global_dice(y: np.ndarray, p: np.ndarray, ctx: Context) -> float:
    """One Dice over all pixels of all rows: 2 sum|A & B| / sum(|A| + |B|). With no mask anywhere
    (which the reference leaves undefined) the score is 1."""
    pairs = _pairs(y, p, "global_dice")
    total = sum(a.area + b.area for a, b in pairs)
    return 2 * sum(overlap(a, b) for a, b in pairs) / total if total else 1.0


def mask_iou_map(y: np.ndarray, p: np.ndarray, ctx: Context) -> float:
    """Mean over rows of the share of IoU thresholds 0.50..0.95 that the mask's IoU exceeds.

    An empty answer scores 1 for an empty prediction and 0 otherwise. Context "image_shape" (height,
    width per row) reproduces the reference grader's binning: there an empty prediction against a
    non-empty answer is compared as if it covered the whole image. Without it, it scores 0.
    """
    shapes = ctx.get(IMAGE_SHAPE)
    scores = []
    for i, (truth, pred) in enumerate(_pairs(y, p, "mask_iou_map")):
        if truth.area == 0:
            scores.append(1.0 if pred.area == 0 else 0.0)
            continue
        if pred.area == 0:
            iou = truth.area / _pixels(shapes, i) if shapes is not None else 0.0
        else:
            inter = overlap(truth, pred)
            iou = inter / (truth.area + pred.area - inter)
        scores.append(float(np.mean(iou > IOU_THRESHOLDS)))
    return float(np.mean(scores)) if scores else 1.0


def _pixels(shapes: np.ndarray, row: int) -> int:
    height, width = np.asarray(shapes[row]).ravel()[:2]
    return int(height) * int(width)


def mask_fbeta(beta: float) -> ScoreFn:
    """Mean over rows of the pixel F-beta of predicted against true mask (0 where precision and
    recall are both undefined or zero, as scikit-learn scores it)."""

    def fbeta(y: np.ndarray, p: np.ndarray, ctx: Context) -> float:
        scores = []
        for truth, pred in _pairs(y, p, "mask_fbeta"):
            tp = overlap(truth, pred)
            precision = tp / pred.area if pred.area else 0.0
            recall = tp / truth.area if truth.area else 0.0
            b2 = beta * beta
            denom = b2 * precision + recall
            scores.append((1 + b2) * precision * recall / denom if denom else 0.0)
        return float(np.mean(scores)) if scores else 0.0

    return fbeta


# ---------------------------------------------------------------- 2D Dice with 3D Hausdorff


def dice_hausdorff(dice_weight: float = 0.4, hausdorff_weight: float = 0.6) -> ScoreFn:
    """dice_weight * mean 2D Dice + hausdorff_weight * (1 - mean 3D Hausdorff distance).

    Dice is per row, rows where both masks are empty left out. For Hausdorff, the rows of a volume
    (context "volume") are stacked into a 3D mask in the order of their slice keys (context "slice";
    rows sharing a slice are joined); each row's mask is decoded column-major at its context
    "image_shape" (height, width). A volume's distance is 0 when the masks are equal, 1 when one is
    empty (or the prediction is ten times the answer), else the symmetric Hausdorff distance of the
    pixel coordinates normalised by the volume's shape, divided by sqrt(3); empty-empty volumes are
    left out.
    """

    def combined(y: np.ndarray, p: np.ndarray, ctx: Context) -> float:
        truth, pred = one_column(y, "dice_hausdorff"), one_column(p, "dice_hausdorff")
        dice = [_dice(parse_runs(t), parse_runs(q), empty=math.nan) for t, q in zip(truth, pred, strict=True)]
        dice_part = float(np.nanmean(dice)) if not np.isnan(dice).all() else 1.0
        distances = [_hausdorff(*_volumes(truth, pred, ctx, rows)) for rows in _volume_rows(ctx)]
        distance = float(np.nanmean(distances)) if not np.isnan(distances).all() else 0.0
        return dice_weight * dice_part + hausdorff_weight * (1 - distance)

    return combined


def _volume_rows(ctx: Context) -> list[list[int]]:
    """Row numbers of each volume, ordered by slice key."""
    by_volume: dict[str, list[int]] = defaultdict(list)
    for row, key in enumerate(np.asarray(ctx[VOLUME]).ravel()):
        by_volume[str(key)].append(row)
    slices = np.asarray(ctx[SLICE]).ravel()
    return [sorted(rows, key=lambda r: str(slices[r])) for rows in by_volume.values()]


def _volumes(
    truth: np.ndarray, pred: np.ndarray, ctx: Context, rows: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """The true and predicted 3D masks of one volume: one plane per slice key."""
    slices, shapes = np.asarray(ctx[SLICE]).ravel(), np.asarray(ctx[IMAGE_SHAPE]).reshape(len(truth), -1)
    planes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for row in rows:
        shape = (int(shapes[row][0]), int(shapes[row][1]))
        t, q = rle_decode(truth[row], shape), rle_decode(pred[row], shape)
        key = str(slices[row])
        if key in planes:
            t, q = t | planes[key][0], q | planes[key][1]
        planes[key] = (t, q)
    return np.stack([t for t, _ in planes.values()]), np.stack([q for _, q in planes.values()])


def _hausdorff(truth: np.ndarray, pred: np.ndarray) -> float:
    n_true, n_pred = int(truth.sum()), int(pred.sum())
    if n_true == 0 and n_pred == 0:
        return math.nan
    if np.array_equal(truth, pred):
        return 0.0
    if n_true == 0 or n_pred == 0 or n_pred > 10 * n_true:
        return 1.0
    from scipy.spatial.distance import directed_hausdorff

    scale = np.asarray(truth.shape, dtype=float)
    a, b = np.argwhere(truth) / scale, np.argwhere(pred) / scale
    return max(directed_hausdorff(a, b)[0], directed_hausdorff(b, a)[0]) / math.sqrt(3)
