"""Scores of object detections given as prediction strings (one string per image row).

A prediction string repeats "label confidence x_min y_min x_max y_max" once per box. Answers use
the same format (their confidence is ignored), so a task's answers can be written like its
submission.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlestar.metrics.base import Context, ScoreFn, one_column, skm

RECALL_POINTS = np.linspace(0.0, 1.0, 101)
MAX_DETECTIONS = 100


@dataclass(frozen=True)
class Box:
    label: str
    confidence: float
    x1: float
    y1: float
    x2: float
    y2: float


def parse_boxes(text: str) -> list[Box]:
    """The boxes of a prediction string ("" is no box)."""
    tokens = text.split()
    if len(tokens) % 6:
        raise ValueError(
            f"expected 6 values per box (label confidence x_min y_min x_max y_max), found {len(tokens)}"
        )
    try:
        return [Box(tokens[i], *(float(v) for v in tokens[i + 1 : i + 6])) for i in range(0, len(tokens), 6)]
    except ValueError:
        raise ValueError(f"expected numbers after each box label, found {text[:60]!r}") from None


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two corner boxes (0 when the union has no area)."""
    w = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    h = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    inter = w * h
    union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter
    return inter / union if union > 0 else 0.0


def _rows(y: np.ndarray, p: np.ndarray, metric: str) -> list[tuple[list[Box], list[Box]]]:
    truth, pred = one_column(y, metric), one_column(p, metric)
    return [(parse_boxes(t), parse_boxes(q)) for t, q in zip(truth, pred, strict=True)]


# ---------------------------------------------------------------- PASCAL VOC style


def box_map_voc(threshold: float) -> ScoreFn:
    """Mean over the answers' labels of scikit-learn's average precision of (hit, confidence) pairs.

    Per image and label, predictions in falling confidence take the unmatched true box of highest
    IoU above the threshold: a hit (1, confidence) or a false alarm (0, confidence). Each missed true
    box adds (1, 0); an image with neither boxes nor predictions of the label adds (0, 0). Where a
    label's pairs are all hits (the reference grader fails there) its AP is the share of its true
    boxes found.
    """

    def voc(y: np.ndarray, p: np.ndarray, ctx: Context) -> float:
        rows = _rows(y, p, "box_map_voc")
        labels = sorted({b.label for truth, _ in rows for b in truth})
        return float(np.mean([_voc_ap(rows, label, threshold) for label in labels])) if labels else 0.0

    return voc


def _voc_ap(rows: list[tuple[list[Box], list[Box]]], label: str, threshold: float) -> float:
    pairs: list[tuple[int, float]] = []
    missed = 0
    for truth, pred in rows:
        found, n_missed = _voc_pairs(truth, pred, label, threshold)
        pairs.extend(found)
        missed += n_missed
    hits, scores = zip(*pairs, strict=True)
    if all(hits):
        return 1 - missed / len(pairs)
    return float(skm().average_precision_score(hits, scores))


def _voc_pairs(
    truth: list[Box], pred: list[Box], label: str, threshold: float
) -> tuple[list[tuple[int, float]], int]:
    """The image's (hit, confidence) pairs for one label, and how many of its true boxes were missed."""
    gts = [b for b in truth if b.label == label]
    used = [False] * len(gts)
    pairs: list[tuple[int, float]] = []
    for box in sorted(pred, key=lambda b: b.confidence, reverse=True):
        if box.label != label:
            continue
        best, best_iou = -1, 0.0
        for i, gt in enumerate(gts):
            overlap = iou(box, gt)
            if not used[i] and overlap > best_iou and overlap > threshold:
                best, best_iou = i, overlap
        if best >= 0:
            used[best] = True
        pairs.append((1 if best >= 0 else 0, box.confidence))
    missed = used.count(False)
    pairs.extend([(1, 0.0)] * missed)
    return pairs or [(0, 0.0)], missed


# ---------------------------------------------------------------- COCO style


def box_map_coco(threshold: float) -> ScoreFn:
    """COCO-style mAP at one IoU threshold: per label, detections of every image (best 100 per
    image) are ranked by confidence; each takes the unmatched true box of highest IoU >= threshold
    (the later box on a tie). Precision, made non-increasing, is read at 101 recall points and
    averaged; labels without a true box are left out.

    As the reference grader feeds corner coordinates to an evaluator that reads (x, y, width,
    height), boxes are compared as [x_min, x_min + x_max] by [y_min, y_min + y_max], and a box whose
    stated area (x_max - x_min)(y_max - y_min) is negative is ignored (a true box is not counted, a
    detection only counts when it matches); this does the same.
    """

    def coco(y: np.ndarray, p: np.ndarray, ctx: Context) -> float:
        rows = [(_as_read(t), _as_read(q)) for t, q in _rows(y, p, "box_map_coco")]
        labels = sorted({b.label for truth, _ in rows for b, _ in truth}, key=_label_key)
        aps = [ap for label in labels if (ap := _coco_ap(rows, label, threshold)) is not None]
        return float(np.mean(aps)) if aps else 0.0

    return coco


Read = tuple[Box, bool]
"""A box as the evaluator reads it, and whether the evaluator ignores it."""


def _as_read(boxes: list[Box]) -> list[Read]:
    """Boxes as the reference evaluator reads them; numeric labels as integers ("14.0" is "14")."""
    return [
        (
            Box(_class_id(b.label), b.confidence, b.x1, b.y1, b.x1 + b.x2, b.y1 + b.y2),
            not 0 <= (b.x2 - b.x1) * (b.y2 - b.y1) <= 1e10,
        )
        for b in boxes
    ]


def _class_id(label: str) -> str:
    try:
        return str(int(float(label)))
    except ValueError:
        return label


def _label_key(label: str) -> tuple[int, float | str]:
    try:
        return (0, float(label))
    except ValueError:
        return (1, label)


def _coco_ap(rows: list[tuple[list[Read], list[Read]]], label: str, threshold: float) -> float | None:
    scores: list[float] = []
    hits: list[bool] = []
    n_true = 0
    for truth, pred in rows:
        gts = sorted((r for r in truth if r[0].label == label), key=lambda r: r[1])  # ignored last
        dets = sorted((r for r in pred if r[0].label == label), key=lambda r: -r[0].confidence)
        n_true += sum(not ignored for _, ignored in gts)
        used = [False] * len(gts)
        for det, det_ignored in dets[:MAX_DETECTIONS]:
            best = _coco_match(det, gts, used, threshold)
            if best >= 0:
                used[best] = True
            if det_ignored if best < 0 else gts[best][1]:
                continue
            scores.append(det.confidence)
            hits.append(best >= 0)
    if n_true == 0:
        return None
    return _interpolated_ap(np.array(scores), np.array(hits, dtype=bool), n_true)


def _coco_match(det: Box, gts: list[Read], used: list[bool], threshold: float) -> int:
    """The true box a detection takes: the unmatched one of highest IoU >= threshold (the later on a
    tie), looking at ignored boxes only when no counted box matches; -1 when none."""
    best, best_iou = -1, min(threshold, 1 - 1e-10)
    for i, (gt, ignored) in enumerate(gts):
        if used[i]:
            continue
        if best >= 0 and not gts[best][1] and ignored:
            break
        overlap = iou(det, gt)
        if overlap >= best_iou:
            best, best_iou = i, overlap
    return best


def _interpolated_ap(scores: np.ndarray, hits: np.ndarray, n_true: int) -> float:
    if not len(scores):
        return 0.0
    order = np.argsort(-scores, kind="mergesort")
    tp = np.cumsum(hits[order]).astype(float)
    fp = np.cumsum(~hits[order]).astype(float)
    recall = tp / n_true
    precision = np.maximum.accumulate((tp / (tp + fp + np.spacing(1)))[::-1])[::-1]
    at = np.searchsorted(recall, RECALL_POINTS, side="left")
    return float(np.mean(np.where(at < len(precision), precision[np.minimum(at, len(precision) - 1)], 0.0)))


# ---------------------------------------------------------------- labelled points in boxes


def point_in_box_f1(y: np.ndarray, p: np.ndarray, ctx: Context) -> float:
    """F1 over all rows of labelled points ("label x y" triples) against true boxes ("label x y width
    height" quintuples): a true box is found by the first unused point of its label strictly inside
    it; unused points are false positives."""
    tp = fp = fn = 0
    for truth, pred in zip(one_column(y, "point_in_box_f1"), one_column(p, "point_in_box_f1"), strict=True):
        hit, extra, missed = _points_in_boxes(_groups(truth, 5), _groups(pred, 3))
        tp, fp, fn = tp + hit, fp + extra, fn + missed
    if tp == 0:
        return 0.0
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    return 2 * precision * recall / (precision + recall)


def _groups(text: str, size: int) -> list[tuple[str, list[float]]]:
    tokens = text.split()
    if len(tokens) % size:
        raise ValueError(
            f"expected groups of {size} values (a label and {size - 1} numbers), found {len(tokens)} values"
        )
    return [(tokens[i], [float(v) for v in tokens[i + 1 : i + size]]) for i in range(0, len(tokens), size)]


def _points_in_boxes(
    boxes: list[tuple[str, list[float]]], points: list[tuple[str, list[float]]]
) -> tuple[int, int, int]:
    used = [False] * len(points)
    hit = 0
    for label, box in boxes:
        found = next(
            (i for i, point in enumerate(points) if not used[i] and _inside(point, label, box)), None
        )
        if found is not None:
            used[found] = True
            hit += 1
    return hit, used.count(False), len(boxes) - hit


def _inside(point: tuple[str, list[float]], label: str, box: list[float]) -> bool:
    (name, (px, py)), (x, y, w, h) = point, box
    return name == label and x < px < x + w and y < py < y + h
