"""Ensembles computed by the harness on stored predictions: no member is retrained.

Every method is scored honestly: whatever is fitted (weights, a meta-model) is fitted on the other
folds and evaluated on the held-out fold, so an ensemble cannot win by overfitting the validation
folds it is judged on. The final weights or meta-model are then fitted on all folds for the test set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge

from mlestar.folds import Predictions
from mlestar.metrics.score import Score
from mlestar.task.spec import ProblemType

MetricFn = Callable[[np.ndarray, np.ndarray], float]
_EPS = 1e-6


@dataclass(frozen=True)
class EnsembleResult:
    preds: Predictions
    score: float
    """The honest score (nested over folds)."""
    detail: dict[str, object]
    """Weights, or the meta-model's kind, for the journal and the standalone solution."""


def _normalise(p: np.ndarray, problem: ProblemType) -> np.ndarray:
    if problem is ProblemType.MULTICLASS:
        p = np.clip(p, _EPS, 1.0)
        return p / p.sum(axis=1, keepdims=True)
    return p


def average(members: Sequence[Predictions], problem: ProblemType) -> Predictions:
    oof = np.mean([m.oof for m in members], axis=0)
    test = np.mean([m.test for m in members], axis=0)
    return Predictions(_normalise(oof, problem), _normalise(test, problem))


def _weighted(arrays: Sequence[np.ndarray], weights: np.ndarray) -> np.ndarray:
    return np.tensordot(weights / weights.sum(), np.stack(arrays), axes=1)


def greedy_weights(
    oofs: Sequence[np.ndarray], y: np.ndarray, metric: MetricFn, lower: bool, rounds: int = 25
) -> np.ndarray:
    """Caruana's forward selection with replacement: counts per member, starting from the best one."""
    counts = np.zeros(len(oofs))
    best_score: float | None = None
    for _ in range(rounds):
        trial_scores = []
        for i in range(len(oofs)):
            trial = counts.copy()
            trial[i] += 1
            trial_scores.append(metric(y, _weighted(oofs, trial)))
        i = int(np.argmin(trial_scores) if lower else np.argmax(trial_scores))
        if best_score is not None and not Score(trial_scores[i], lower).beats(best_score):
            break
        counts[i] += 1
        best_score = trial_scores[i]
    return counts


def greedy(
    members: Sequence[Predictions],
    y: np.ndarray,
    folds: np.ndarray,
    metric: MetricFn,
    lower: bool,
    problem: ProblemType,
) -> EnsembleResult:
    used = folds >= 0
    honest = np.full_like(members[0].oof, np.nan)
    for k in np.unique(folds[used]):
        fit = used & (folds != k)
        w = greedy_weights([m.oof[fit] for m in members], y[fit], metric, lower)
        rows = folds == k
        honest[rows] = _weighted([m.oof[rows] for m in members], w)
    weights = greedy_weights([m.oof[used] for m in members], y[used], metric, lower)
    oof = _normalise(honest, problem)
    test = _normalise(_weighted([m.test for m in members], weights), problem)
    score = metric(y[used], oof[used])
    return EnsembleResult(Predictions(oof, test), score, {"weights": (weights / weights.sum()).tolist()})


def _meta_features(arrays: Sequence[np.ndarray], problem: ProblemType, column: int | None) -> np.ndarray:
    cols = [a if column is None else a[:, [column]] for a in arrays]
    x = np.hstack(cols)
    if problem.is_classification:
        x = np.clip(x, _EPS, 1 - _EPS)
        x = np.log(x / (1 - x))
    return x


def _meta_model(x: np.ndarray, y: np.ndarray, problem: ProblemType) -> LogisticRegression | Ridge:
    if problem.is_classification:
        return LogisticRegression(C=1.0, max_iter=300, tol=1e-4).fit(x, y)
    return Ridge(alpha=1.0).fit(x, y)


def _meta_predict(model: LogisticRegression | Ridge, x: np.ndarray, problem: ProblemType) -> np.ndarray:
    if isinstance(model, LogisticRegression):
        proba = model.predict_proba(x)
        return proba if problem is ProblemType.MULTICLASS else proba[:, [1]]
    return model.predict(x).reshape(-1, 1)


def _stack_columns(
    members: Sequence[Predictions], y: np.ndarray, fit: np.ndarray, rows_oof: np.ndarray, problem: ProblemType
) -> tuple[np.ndarray, np.ndarray]:
    """Meta-model predictions for rows_oof and for the test set, fitted once on rows `fit`."""
    if problem is ProblemType.MULTICLASS or members[0].oof.shape[1] == 1:
        groups: list[int | None] = [None]
    else:
        groups = list(range(members[0].oof.shape[1]))
    oof_parts, test_parts = [], []
    for col in groups:
        x_oof = _meta_features([m.oof for m in members], problem, col)
        x_test = _meta_features([m.test for m in members], problem, col)
        target = y if col is None or y.ndim == 1 else y[:, col]
        model = _meta_model(x_oof[fit], target[fit], problem)
        oof_parts.append(_meta_predict(model, x_oof[rows_oof], problem))
        test_parts.append(_meta_predict(model, x_test, problem))
    return np.hstack(oof_parts), np.hstack(test_parts)


def stacking(
    members: Sequence[Predictions],
    y: np.ndarray,
    folds: np.ndarray,
    metric: MetricFn,
    problem: ProblemType,
) -> EnsembleResult:
    used = folds >= 0
    honest = np.full_like(members[0].oof, np.nan)
    for k in np.unique(folds[used]):
        rows = folds == k
        honest[rows], _ = _stack_columns(members, y, used & ~rows, rows, problem)
    _, test = _stack_columns(members, y, used, used, problem)
    oof = _normalise(honest, problem)
    test = _normalise(test, problem)
    return EnsembleResult(Predictions(oof, test), metric(y[used], oof[used]), {"meta_model": "linear"})
