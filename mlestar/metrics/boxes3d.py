"""Mean average precision of 3D boxes that stand on the ground and turn about the vertical axis.

An object is "center_x center_y center_z width length height yaw name", with a confidence before it
in predictions ("confidence center_x ... name"); answers may carry one too (it is ignored). The IoU
of two boxes is the overlap of their ground rectangles times the overlap of their height ranges,
over the union of their volumes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mlestar.metrics.base import Context, one_column

THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
Point = tuple[float, float]


@dataclass(frozen=True)
class Box3D:
    name: str
    confidence: float
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    """width, length, height"""
    yaw: float

    def ground(self) -> list[Point]:
        """The ground rectangle's corners, counter-clockwise."""
        (cx, cy, _), (w, length, _) = self.center, self.size
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        half_l, half_w = (length / 2 * c, length / 2 * s), (w / 2 * s, -w / 2 * c)
        return [
            (cx + half_l[0] + half_w[0], cy + half_l[1] + half_w[1]),
            (cx + half_l[0] - half_w[0], cy + half_l[1] - half_w[1]),
            (cx - half_l[0] - half_w[0], cy - half_l[1] - half_w[1]),
            (cx - half_l[0] + half_w[0], cy - half_l[1] + half_w[1]),
        ]

    @property
    def volume(self) -> float:
        return self.size[0] * self.size[1] * self.size[2]


def parse_objects(text: str, with_confidence: bool | None = None) -> list[Box3D]:
    """The objects of one row. with_confidence None: found from where the names (non-numbers) sit."""
    tokens = text.split()
    if not tokens:
        return []
    stride = 9 if with_confidence else 8 if with_confidence is False else _stride(tokens)
    if len(tokens) % stride:
        raise ValueError(f"expected {stride} values per 3D box, found {len(tokens)} values")
    return [_object(tokens[i : i + stride]) for i in range(0, len(tokens), stride)]


def _stride(tokens: list[str]) -> int:
    for stride in (9, 8):
        if len(tokens) % stride == 0 and all(
            _is_number(tok) != (i % stride == stride - 1) for i, tok in enumerate(tokens)
        ):
            return stride
    raise ValueError(
        f"expected 8 or 9 values per 3D box ending with a class name, found {' '.join(tokens[:10])!r}"
    )


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _object(tok: list[str]) -> Box3D:
    conf, rest = (float(tok[0]), tok[1:]) if len(tok) == 9 else (1.0, tok)
    x, y, z, w, length, h, yaw = (float(v) for v in rest[:7])
    if min(w, length, h) <= 0:
        raise ValueError(f"expected positive box sizes, found {w:g} {length:g} {h:g}")
    return Box3D(rest[7], conf, (x, y, z), (w, length, h), yaw)


def iou_3d(a: Box3D, b: Box3D) -> float:
    za, zb = (a.center[2], a.size[2]), (b.center[2], b.size[2])
    height = max(0.0, min(za[0] + za[1] / 2, zb[0] + zb[1] / 2) - max(za[0] - za[1] / 2, zb[0] - zb[1] / 2))
    if height == 0 or _apart(a, b):
        return 0.0
    inter = polygon_area(clip_convex(a.ground(), b.ground())) * height
    return float(np.clip(inter / (a.volume + b.volume - inter), 0.0, 1.0))


def _apart(a: Box3D, b: Box3D) -> bool:
    """Ground rectangles too far apart to touch: centres further than their half-diagonals."""
    reach = math.hypot(a.size[0], a.size[1]) / 2 + math.hypot(b.size[0], b.size[1]) / 2
    return math.hypot(a.center[0] - b.center[0], a.center[1] - b.center[1]) > reach


def clip_convex(subject: list[Point], clip: list[Point]) -> list[Point]:
    """The intersection of two convex counter-clockwise polygons (Sutherland-Hodgman)."""
    out = subject
    for i in range(len(clip)):
        if not out:
            break
        a, b = clip[i], clip[(i + 1) % len(clip)]
        side = [(b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]) for p in out]
        kept: list[Point] = []
        for j, p in enumerate(out):
            q, sp, sq = out[(j + 1) % len(out)], side[j], side[(j + 1) % len(out)]
            if sp >= 0:
                kept.append(p)
            if (sp >= 0) != (sq >= 0):
                t = sp / (sp - sq)
                kept.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
        out = kept
    return out


def polygon_area(points: list[Point]) -> float:
    if len(points) < 3:
        return 0.0
    xs, ys = np.array(points).T
    return float(abs(np.dot(xs, np.roll(ys, -1)) - np.dot(ys, np.roll(xs, -1))) / 2)


# ---------------------------------------------------------------- the score


def box3d_map(y: np.ndarray, p: np.ndarray, ctx: Context) -> float:
    """Per row: for each IoU threshold 0.50..0.95, the mean over the answer's class names of the AP
    (a class never predicted scores 0); the mean over rows and thresholds. Rows without a true
    object are left out (the reference score is undefined there)."""
    per_row = []
    for truth, pred in zip(one_column(y, "box3d_map"), one_column(p, "box3d_map"), strict=True):
        gts, dets = parse_objects(truth), parse_objects(pred, with_confidence=True)
        if gts:
            per_row.append(_row_map(gts, dets))
    return float(np.mean(per_row)) if per_row else 0.0


def _row_map(gts: list[Box3D], dets: list[Box3D]) -> float:
    names = sorted({g.name for g in gts})
    table = np.zeros((len(THRESHOLDS), len(names)))
    for k, name in enumerate(names):
        g = [b for b in gts if b.name == name]
        d = sorted((b for b in dets if b.name == name), key=lambda b: b.confidence, reverse=True)
        if d:
            ious = np.array([[iou_3d(det, gt) for gt in g] for det in d])
            table[:, k] = [_voc_ap(ious, t) for t in THRESHOLDS]
    return float(table.mean())


def _voc_ap(ious: np.ndarray, threshold: float) -> float:
    """AP of detections (rows, in falling confidence) against true boxes (columns): each detection
    is a hit when its best-overlapping box beats the threshold and was not taken yet."""
    taken = np.zeros(ious.shape[1], dtype=bool)
    hits = np.zeros(len(ious), dtype=bool)
    for i, row in enumerate(ious):
        j = int(np.argmax(row))
        if row[j] > threshold and not taken[j]:
            taken[j] = hits[i] = True
    tp, fp = np.cumsum(hits), np.cumsum(~hits)
    recall = np.concatenate([[0.0], tp / ious.shape[1], [1.0]])
    precision = np.concatenate([[0.0], tp / np.maximum(tp + fp, np.finfo(np.float64).eps), [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1])
    return float(np.sum((recall[steps + 1] - recall[steps]) * precision[steps + 1]))
