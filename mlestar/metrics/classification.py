"""Scores of hard labels and of probabilities: accuracy, F-scores, kappa, correlation of labels,
and the log-loss family.

Log-loss clipping follows the graders: scikit-learn (>= 1.5) clips probabilities to the float64
machine epsilon; the weighted multi-label log loss and the KL divergence clip to 1e-15 as their
reference code does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from mlestar.metrics.base import PlainFn, labels, one_hot, positive_proba, resample_means, skm

MACHINE_EPS = float(np.finfo(np.float64).eps)
EPS = 1e-15


def accuracy(y: np.ndarray, p: np.ndarray) -> float:
    """The share of rows labelled right (every label of the row, for several labels per row), as
    scikit-learn's accuracy_score computes it, without its input checks: the ensemble search
    scores thousands of blends."""
    return float(np.mean(_right_rows(y, p)))


def _right_rows(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    right = y.astype(int) == labels(y, p)
    return right if right.ndim == 1 else right.all(axis=1)


def accuracy_resampled(y: np.ndarray, p: np.ndarray, draws: Iterable[np.ndarray]) -> list[float] | None:
    """accuracy of each resample: the share of right rows among those drawn. None where the hard
    labels depend on the rows (one column of numbers rounded into the answers' own range)."""
    if y.ndim == 1 and p.shape[1] == 1 and not np.isin(np.unique(y), (0, 1)).all():
        return None
    return resample_means(_right_rows(y, p).astype(float), draws)


def top1_error(y: np.ndarray, p: np.ndarray) -> float:
    """1 - accuracy: the share of rows whose (first) predicted label is wrong."""
    return 1.0 - accuracy(y, p)


def balanced_accuracy(y: np.ndarray, p: np.ndarray) -> float:
    return float(skm().balanced_accuracy_score(y.astype(int), labels(y, p)))


def f1(average: str) -> PlainFn:
    def f1_score(y: np.ndarray, p: np.ndarray) -> float:
        return float(skm().f1_score(y.astype(int), labels(y, p), average=average, zero_division=0))

    return f1_score


def mcc(y: np.ndarray, p: np.ndarray) -> float:
    """Matthews correlation coefficient of hard labels."""
    return float(skm().matthews_corrcoef(y.astype(int), labels(y, p)))


def qwk(y: np.ndarray, p: np.ndarray) -> float:
    """Quadratic weighted kappa of integer grades (one column of numbers is rounded into range)."""
    truth = y.astype(float).round().astype(int)
    return float(skm().cohen_kappa_score(truth, labels(truth, p), weights="quadratic"))


def probabilistic_f1(y: np.ndarray, p: np.ndarray, beta: float = 1.0) -> float:
    """F-beta with probabilities as soft counts: pTP = sum of p on positives, pFP on negatives.

    Predictions are clipped to [0, 1]. Where the reference divides by zero (no positive answer, or
    every prediction 0) the score is 0.
    """
    truth = y.ravel() > 0
    prob = np.clip(positive_proba(p), 0.0, 1.0)
    ctp, cfp, n_pos = prob[truth].sum(), prob[~truth].sum(), truth.sum()
    if ctp + cfp == 0 or n_pos == 0:
        return 0.0
    precision, recall = ctp / (ctp + cfp), ctp / n_pos
    if precision <= 0 or recall <= 0:
        return 0.0
    b2 = beta * beta
    return float((1 + b2) * precision * recall / (b2 * precision + recall))


# ---------------------------------------------------------------- log losses


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Binary log loss of the probability of class 1."""
    return float(np.mean(_log_losses(y, p)))


def _log_losses(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    q = np.clip(positive_proba(p), MACHINE_EPS, 1 - MACHINE_EPS)
    t = y.astype(float).ravel()
    return -(t * np.log(q) + (1 - t) * np.log(1 - q))


def log_loss_resampled(y: np.ndarray, p: np.ndarray, draws: Iterable[np.ndarray]) -> list[float]:
    return resample_means(_log_losses(y, p), draws)


def multiclass_logloss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean of -log(p of the true class). Rows are rescaled to sum to one first (a valid submission
    already does; Kaggle rescales), then clipped to [eps, 1 - eps] as scikit-learn does."""
    return float(np.mean(_multiclass_log_losses(y, p)))


def _multiclass_log_losses(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    if p.shape[1] == 1:  # one column: the probability of class 1
        p = np.column_stack([1 - p[:, 0], p[:, 0]])
    q = rows_summing_to_one(p)
    q = np.clip(q, MACHINE_EPS, 1 - MACHINE_EPS)
    truth = one_hot(y, q.shape[1]).astype(float)
    return -(truth * np.log(q)).sum(axis=1)


def multiclass_logloss_resampled(y: np.ndarray, p: np.ndarray, draws: Iterable[np.ndarray]) -> list[float]:
    return resample_means(_multiclass_log_losses(y, p), draws)


def rows_summing_to_one(p: np.ndarray) -> np.ndarray:
    """Each row divided by its sum; a row of zeros (or below) becomes uniform."""
    q = np.clip(p, 0, None)
    total = q.sum(axis=1, keepdims=True)
    return np.divide(q, total, out=np.full_like(q, 1 / q.shape[1]), where=total > 0)


def weighted_multilabel_logloss(neg: Sequence[float], pos: Sequence[float]) -> PlainFn:
    """Binary log loss per cell, weighted by the column and by whether the answer is 1; each row's
    weighted sum is divided by the row's total weight, then rows are averaged. No weights: all 1."""

    def weighted(y: np.ndarray, p: np.ndarray) -> float:
        truth = y.astype(float).reshape(len(y), -1)
        if truth.shape[1] != p.shape[1]:
            raise ValueError(f"expected {truth.shape[1]} prediction columns, found {p.shape[1]}")
        w_neg, w_pos = _weights(neg, truth.shape[1]), _weights(pos, truth.shape[1])
        q = np.clip(p, EPS, 1 - EPS)
        loss = -(truth * np.log(q) + (1 - truth) * np.log(1 - q))
        weights = truth * w_pos + (1 - truth) * w_neg
        return float(np.mean((loss * weights).sum(axis=1) / weights.sum(axis=1)))

    return weighted


def _weights(given: Sequence[float], k: int) -> np.ndarray:
    if not given:
        return np.ones(k)
    if len(given) != k:
        raise ValueError(f"expected {k} column weights for the weighted log loss, found {len(given)}")
    return np.asarray(given, dtype=float)


def kl_divergence(y: np.ndarray, p: np.ndarray) -> float:
    """Mean over rows of sum_j t_j log(t_j / p_j), where t is the row of answers divided by its sum
    (vote counts become a distribution) and p is clipped to [1e-15, 1 - 1e-15]. Cells with t = 0
    add nothing. Prediction rows are rescaled to sum to one first (the graders require it)."""
    truth = one_hot(y, p.shape[1]).astype(float) if y.ndim == 1 else y.astype(float)
    total = truth.sum(axis=1, keepdims=True)
    keep = total[:, 0] > 0
    t = truth[keep] / total[keep]
    q = np.clip(rows_summing_to_one(p)[keep], EPS, 1 - EPS)
    safe_t = np.where(t > 0, t, 1.0)
    return float(np.mean(np.where(t > 0, t * np.log(safe_t / q), 0.0).sum(axis=1)))
