"""Scores of rankings: ROC AUC and its weighted and bias-aware variants, MAP@k, lwlrap.

An AUC needs both classes among the answers; where a subset holds only one class the AUC is taken
as 0.5 (no ranking can be judged) instead of failing as scikit-learn does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from mlestar.metrics.base import Context, PlainFn, ScoreFn, one_hot, positive_proba, skm


def auc_1d(y: np.ndarray, score: np.ndarray) -> float:
    """The AUC of one column of two classes (the greater label is the positive one), as the
    Mann-Whitney statistic on average ranks: the same value as scikit-learn's trapezoids, ties
    included, without its input checks (the ensemble search scores thousands of blends)."""
    y, score = np.asarray(y).ravel(), np.asarray(score, dtype=float).ravel()
    labels = _two_labels(y)
    if labels is not None and labels[0] == labels[1]:
        return 0.5
    if labels is None or not np.isfinite(score).all():
        return float(skm().roc_auc_score(y, score))  # scikit-learn's own message for what is no AUC
    positive = y == labels[1]
    n_pos = int(positive.sum())
    n_neg = len(y) - n_pos
    return (positive_rank_sum(score, positive) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def positive_rank_sum(score: np.ndarray, positive: np.ndarray) -> float:
    """The sum of the positive rows' ranks of `score` (1 for the lowest; tied scores share the mean
    of their ranks). One unstable sort and O(n) passes over runs of ties: ties are averaged, so the
    sort's order among them does not matter. Ranks are halves and their sums exact in floats: the
    value is scipy's rankdata(score)[positive].sum() to the bit."""
    order, starts = _runs_of_ties(score)
    ends = np.append(starts[1:], len(order))
    positives_in_run = np.add.reduceat(positive[order].astype(np.int64), starts)
    return float((positives_in_run * ((starts + ends + 1) / 2)).sum())  # ranks start+1..end: mean


def _runs_of_ties(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows in score order, and where in that order each run of tied scores starts. One unstable
    sort: what is computed from it sums over whole runs, so the order among ties does not matter."""
    order = np.argsort(score)
    ordered = score[order]
    return order, np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))


def _two_labels(y: np.ndarray) -> tuple[object, object] | None:
    """The lower and the greater label (the same one twice: a single class); None for more than two.
    Integer answers without a sort (greedy weights score thousands of blends of the same answers)."""
    if y.dtype.kind in "biu" and len(y):
        low, high = y.min(), y.max()
        return (low, high) if ((y == low) | (y == high)).all() else None
    labels = np.unique(y)
    if len(labels) > 2:
        return None
    return (labels[0], labels[-1]) if len(labels) else (0, 0)


def _two_classes(y: np.ndarray) -> bool:
    labels = _two_labels(y)
    return labels is not None and labels[0] != labels[1]


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Binary: the probability of class 1. Multi-class (a column per class): one-vs-rest, macro
    average. A 0/1 matrix of answers: one AUC over all cells pooled (rows x columns flattened)."""
    if y.ndim == 2 and y.shape[1] > 1:
        return auc_1d(y.astype(int).ravel(), p.ravel())
    if p.shape[1] > 2:
        return mean_columnwise_roc_auc(y, p)
    return auc_1d(y.astype(int).ravel(), positive_proba(p))


def mean_columnwise_roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """The AUC of each column, averaged. Rows with a negative answer are skipped (some datasets mark
    unscored rows with -1); columns holding one class only are left out of the mean."""
    truth = one_hot(y, p.shape[1])
    keep = (truth >= 0).all(axis=1)
    if not keep.all():  # no copy of every row in the common case (greedy weights score many blends)
        truth, p = truth[keep], p[keep]
    scores = [auc_1d(truth[:, j], p[:, j]) for j in range(p.shape[1]) if _two_classes(truth[:, j])]
    return float(np.mean(scores)) if scores else 0.5


# ---------------------------------------------------------------- one sort for many resamples
# A bootstrap interval scores about thirty resamples of the validation rows (rows drawn with
# replacement). An AUC of rows drawn so is the AUC of the rows weighted by how often each was drawn,
# so the rows are sorted once and each resample is two O(n) passes, not a sort of its own.


class _SortedColumn:
    """One column's rows in score order, cut into runs of tied scores."""

    def __init__(self, positive: np.ndarray, score: np.ndarray) -> None:
        order, self.starts = _runs_of_ties(score)  # counts of drawn rows summed by run: exact in floats
        self.position = np.empty(len(order), dtype=np.int64)
        self.position[order] = np.arange(len(order))
        self.positive = positive[order]

    def auc(self, rows: np.ndarray) -> float | None:
        """The AUC of the rows drawn (None: one class only among them)."""
        drawn = np.bincount(self.position[rows], minlength=len(self.position)).astype(float)
        pos = np.add.reduceat(drawn * self.positive, self.starts)
        neg = np.add.reduceat(drawn * ~self.positive, self.starts)
        n_pos, n_neg = pos.sum(), neg.sum()
        if n_pos == 0 or n_neg == 0:
            return None
        below = np.cumsum(neg) - neg  # negatives scored lower than each run; a tie counts a half
        return float((pos * (below + 0.5 * neg)).sum() / (n_pos * n_neg))


def roc_auc_resampled(y: np.ndarray, p: np.ndarray, draws: Iterable[np.ndarray]) -> list[float] | None:
    """roc_auc of each resample (rows drawn) of a binary or multi-class task; None where it has no
    single-sort form (a 0/1 matrix of answers, scores that are not finite)."""
    if y.ndim == 2 and y.shape[1] > 1:
        return None
    if p.shape[1] > 2:
        return mean_columnwise_roc_auc_resampled(y, p, draws)
    y, score = y.astype(int).ravel(), positive_proba(p)
    labels = _two_labels(y)
    if labels is None or labels[0] == labels[1] or not np.isfinite(score).all():
        return None
    column = _SortedColumn(y == labels[1], score)
    return [0.5 if (v := column.auc(rows)) is None else v for rows in draws]


def mean_columnwise_roc_auc_resampled(
    y: np.ndarray, p: np.ndarray, draws: Iterable[np.ndarray]
) -> list[float] | None:
    """mean_columnwise_roc_auc of each resample: rows with a negative answer are never drawn into a
    column's AUC, and columns holding one class among the rows drawn are left out of that mean."""
    truth = one_hot(y, p.shape[1])
    if not np.isfinite(p).all():
        return None
    kept = np.flatnonzero((truth >= 0).all(axis=1))
    columns = [_SortedColumn(truth[kept, j] == 1, p[kept, j]) for j in range(p.shape[1])]
    index = np.full(len(truth), -1)
    index[kept] = np.arange(len(kept))
    out = []
    for rows in draws:
        at = index[rows]
        aucs = [a for c in columns if (a := c.auc(at[at >= 0])) is not None]
        out.append(float(np.mean(aucs)) if aucs else 0.5)
    return out


def weighted_roc_auc(tpr_bands: Sequence[float], weights: Sequence[float]) -> PlainFn:
    """ROC AUC where each band of true-positive rate [tpr_bands[i], tpr_bands[i+1]] counts with
    weights[i]; normalised so that a perfect ranking scores 1.

    Band edges missing from the ROC curve are inserted by linear interpolation of the FPR; each band
    is the area under the curve of the points inside it, closed by a point at FPR 1 on its top edge.
    """
    if len(weights) != len(tpr_bands) - 1:
        raise ValueError(f"expected {len(tpr_bands) - 1} weights for {len(tpr_bands)} TPR edges")

    def weighted(y: np.ndarray, p: np.ndarray) -> float:
        truth = y.astype(int).ravel()
        if len(np.unique(truth)) < 2:
            return 0.5
        fpr, tpr, _ = skm().roc_curve(truth, positive_proba(p), pos_label=1)
        fpr, tpr = _with_tpr_points(fpr, tpr, tpr_bands)
        total = 0.0
        for lo, hi, w in zip(tpr_bands[:-1], tpr_bands[1:], weights, strict=True):
            inside = (tpr >= lo) & (tpr <= hi)
            if inside.any():
                xs, ys = np.append(fpr[inside], 1.0), np.append(tpr[inside], hi) - lo
                total += w * float(skm().auc(xs, ys))
        norm = sum(w * (hi - lo) for lo, hi, w in zip(tpr_bands[:-1], tpr_bands[1:], weights, strict=True))
        return total / norm

    return weighted


def _with_tpr_points(
    fpr: np.ndarray, tpr: np.ndarray, points: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Insert each TPR value not on the curve before the first point above it, interpolating the FPR."""
    f, t = list(fpr), list(tpr)
    for point in points:
        if point in t:
            continue
        i = next((i for i, v in enumerate(t) if v > point), None)
        if i is None or i == 0:
            continue
        f.insert(i, f[i - 1] + (f[i] - f[i - 1]) * (point - t[i - 1]) / (t[i] - t[i - 1]))
        t.insert(i, point)
    return np.array(f), np.array(t)


SUBGROUPS = "subgroups"


def subgroup_bias_auc(power: float, weight: float) -> ScoreFn:
    """Overall AUC combined with, for each bias AUC (subgroup, BPSN, BNSP), its power mean over the
    identity columns: weight * overall + weight * sum of the three power means.

    Context "subgroups": (n, k) identity values per row. Answers, identities and the predictions
    themselves are turned to 0/1 at 0.5 before any AUC, as the reference grader does.
    """

    def bias(y: np.ndarray, p: np.ndarray, ctx: Context) -> float:
        truth = y.astype(float).ravel() >= 0.5
        pred = (positive_proba(p) >= 0.5).astype(int)
        groups = np.asarray(ctx[SUBGROUPS], dtype=float).reshape(len(truth), -1) >= 0.5
        per_identity = [_bias_aucs(truth, pred, groups[:, j]) for j in range(groups.shape[1])]
        means = [_power_mean([aucs[i] for aucs in per_identity], power) for i in range(3)]
        return weight * auc_1d(truth.astype(int), pred) + weight * sum(means)

    return bias


def _bias_aucs(truth: np.ndarray, pred: np.ndarray, member: np.ndarray) -> tuple[float, float, float]:
    bpsn = (member & ~truth) | (~member & truth)
    bnsp = (member & truth) | (~member & ~truth)
    return tuple(auc_1d(truth[rows].astype(int), pred[rows]) for rows in (member, bpsn, bnsp))  # type: ignore[return-value]


def _power_mean(scores: list[float], power: float) -> float:
    return float(np.mean(np.power(scores, power)) ** (1 / power))


# ---------------------------------------------------------------- ranked labels


def map_at(k: int) -> PlainFn:
    """MAP@k: pred holds a score per class; y_true a class index (or a 0/1 matrix of relevant classes).
    Each relevant class counts once; the sum of precisions is divided by min(#relevant, k)."""

    def map_at_k(y: np.ndarray, p: np.ndarray) -> float:
        top = np.argsort(-p, axis=1, kind="stable")[:, :k]
        truth = one_hot(y, p.shape[1])
        hits = np.take_along_axis(truth, top, axis=1).astype(float)
        precision = np.cumsum(hits, axis=1) / np.arange(1, top.shape[1] + 1)
        n_relevant = np.minimum(truth.sum(axis=1), k)
        ap = np.where(n_relevant > 0, (precision * hits).sum(axis=1) / np.maximum(n_relevant, 1), 0.0)
        return float(ap.mean())

    return map_at_k


def average_precision_at(actual: set[str], predicted: Sequence[str], k: int) -> float:
    """AP@k of one ranked list; a label predicted twice counts once."""
    if not actual:
        return 0.0
    hits, total, seen = 0, 0.0, set()
    for rank, label in enumerate(predicted[:k], start=1):
        if label in actual and label not in seen:
            hits += 1
            total += hits / rank
        seen.add(label)
    return total / min(len(actual), k)


def lwlrap(y: np.ndarray, p: np.ndarray) -> float:
    """Label-weighted label-ranking average precision: LRAP with each row weighted by its number of
    true labels (rows without one are left out), so every true label counts equally."""
    truth = one_hot(y, p.shape[1]) > 0
    weight = truth.sum(axis=1)
    rows = weight > 0
    if not rows.any():
        return 0.0
    return float(
        skm().label_ranking_average_precision_score(truth[rows], p[rows], sample_weight=weight[rows])
    )
