"""The metric registry: every score the harness computes, with its direction.

Calling convention (the harness's, see mlestar.contract.CONTRACT):
    metric.score(y_true, pred) -> float
y_true is the ENCODED answer: 0/1 for binary, the class index for multi-class, floats of shape
(n,) or (n, k) for regression, a 0/1 matrix for multi-label. pred is the prediction array of shape
(n, n_outputs): the probability of class 1 for binary, one probability column per class for
multi-class, one column per target for regression and multi-label. A 1-D pred is taken as one column.

Each metric turns pred into what it needs:
    labels        binary: p >= 0.5; multi-class: argmax; regression-coded ordinal targets: rounding
    probabilities clipped to [1e-15, 1 - 1e-15]; for multi-class log loss rows are first rescaled
                  to sum to one (as Kaggle does), then clipped and renormalised
Decisions where the textbook formula is undefined:
    pearson / spearman with a constant column     -> 0.0 (no linear / rank association)
    roc_auc when y_true holds a single class      -> 0.5 (no ranking can be judged)
    rmsle predictions below 0                     -> clipped to 0: with non-negative answers this
                                                     never raises the error (log1p is monotone), and
                                                     it keeps predictions below -1 finite
    rmsle with negative true values               -> ValueError (the metric is not defined there)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType

import numpy as np

from mlestar.errors import ConfigError

EPS = 1e-15
MAP_DEFAULT_K = 3

ScoreFn = Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class Metric:
    """One metric: its canonical name, direction, what it needs from pred, and how to compute it."""

    name: str
    lower_is_better: bool
    needs: str
    """"probability" | "label" | "value": what the metric reads from the prediction array."""
    fn: ScoreFn = field(repr=False)
    title: str = ""

    def score(self, y_true: np.ndarray | list[float], pred: np.ndarray | list[float]) -> float:
        return float(self.fn(np.asarray(y_true), _as_2d(np.asarray(pred, dtype=float))))

    @property
    def worst(self) -> float:
        """A value every real score beats (for 'no score yet')."""
        return math.inf if self.lower_is_better else -math.inf


def is_better(a: float | None, b: float | None, lower_is_better: bool) -> bool:
    """True when score a is strictly better than b. A missing or NaN score is never better."""
    if a is None or math.isnan(a):
        return False
    if b is None or math.isnan(b):
        return True
    return a < b if lower_is_better else a > b


def _skm() -> ModuleType:
    """scikit-learn's metrics, imported on first use: `mlestar inspect` should not pay for it."""
    from sklearn import metrics

    return metrics


# ---------------------------------------------------------------- conversions


def _as_2d(pred: np.ndarray) -> np.ndarray:
    return pred.reshape(-1, 1) if pred.ndim == 1 else pred


def _positive_proba(pred: np.ndarray) -> np.ndarray:
    """Probability of class 1: the single column, or the last of two."""
    return pred[:, -1]


def _labels(y_true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Hard predictions comparable with y_true."""
    if y_true.ndim == 2:  # multi-label: one 0/1 decision per column
        return (pred >= 0.5).astype(int)
    if pred.shape[1] > 1:  # one probability column per class
        return pred.argmax(axis=1)
    col = pred[:, 0]
    if np.isin(np.unique(y_true), (0, 1)).all():
        return (col >= 0.5).astype(int)
    # regression-coded ordinal target: round into the range of the answers
    return np.clip(np.rint(col), y_true.min(), y_true.max()).astype(int)


def _values(y_true: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Regression arrays with matching shapes: (n,) for one target, (n, k) for k targets."""
    y = y_true.astype(float)
    if y.ndim == 1:
        return y, pred[:, 0]
    return y, pred


def _columns(y_true: np.ndarray, pred: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    y, p = _values(y_true, pred)
    if y.ndim == 1:
        return [(y, p)]
    return [(y[:, j], p[:, j]) for j in range(y.shape[1])]


def _one_hot(y_true: np.ndarray, k: int) -> np.ndarray:
    if y_true.ndim == 2:
        return y_true.astype(int)
    out = np.zeros((len(y_true), k), dtype=int)
    out[np.arange(len(y_true)), y_true.astype(int)] = 1
    return out


# ---------------------------------------------------------------- metric functions


def _accuracy(y: np.ndarray, p: np.ndarray) -> float:
    return float(_skm().accuracy_score(y.astype(int), _labels(y, p)))


def _balanced_accuracy(y: np.ndarray, p: np.ndarray) -> float:
    return float(_skm().balanced_accuracy_score(y.astype(int), _labels(y, p)))


def _auc_1d(y: np.ndarray, score: np.ndarray) -> float:
    if len(np.unique(y)) < 2:
        return 0.5
    return float(_skm().roc_auc_score(y, score))


def _roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    if y.ndim == 1 and p.shape[1] > 2:  # multi-class: one-vs-rest, macro average
        return _mean_columnwise_roc_auc(y, p)
    return _auc_1d(y.astype(int), _positive_proba(p))


def _mean_columnwise_roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    truth = _one_hot(y, p.shape[1])
    scores = [_auc_1d(truth[:, j], p[:, j]) for j in range(p.shape[1]) if len(np.unique(truth[:, j])) == 2]
    return float(np.mean(scores)) if scores else 0.5


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    q = np.clip(_positive_proba(p), EPS, 1 - EPS)
    t = y.astype(float)
    return float(-np.mean(t * np.log(q) + (1 - t) * np.log(1 - q)))


def _multiclass_logloss(y: np.ndarray, p: np.ndarray) -> float:
    if p.shape[1] == 1:  # one column: the probability of class 1
        p = np.column_stack([1 - p[:, 0], p[:, 0]])
    # rows are rescaled to sum to one first (scores need not be normalised), then clipped
    q = np.clip(p, 0, None)
    total = q.sum(axis=1, keepdims=True)
    q = np.divide(q, total, out=np.full_like(q, 1 / q.shape[1]), where=total > 0)
    q = np.clip(q, EPS, 1 - EPS)
    q = q / q.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(q[np.arange(len(y)), y.astype(int)])))


def _rmse(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean([math.sqrt(np.mean((a - b) ** 2)) for a, b in _columns(y, p)]))


def _mse(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean([np.mean((a - b) ** 2) for a, b in _columns(y, p)]))


def _mae(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean([np.mean(np.abs(a - b)) for a, b in _columns(y, p)]))


def _rmsle_1d(y: np.ndarray, p: np.ndarray) -> float:
    if (y < 0).any():
        raise ValueError(f"expected non-negative true values for RMSLE, found minimum {y.min():g}")
    return math.sqrt(np.mean((np.log1p(np.clip(p, 0, None)) - np.log1p(y)) ** 2))


def _rmsle(y: np.ndarray, p: np.ndarray) -> float:
    y, q = _values(y, p)
    return _rmsle_1d(y.ravel(), q.ravel())


def _mean_rmsle(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean([_rmsle_1d(a, b) for a, b in _columns(y, p)]))


def _r2(y: np.ndarray, p: np.ndarray) -> float:
    a, b = _values(y, p)
    return float(_skm().r2_score(a, b))


def _f1(average: str) -> ScoreFn:
    def f1(y: np.ndarray, p: np.ndarray) -> float:
        return float(_skm().f1_score(y.astype(int), _labels(y, p), average=average, zero_division=0))

    return f1


def _correlation(rank: bool) -> ScoreFn:
    def corr(y: np.ndarray, p: np.ndarray) -> float:
        values = []
        for a, b in _columns(y, p):
            if np.ptp(a) == 0 or np.ptp(b) == 0:
                values.append(0.0)  # constant column: correlation undefined, call it none
                continue
            if rank:  # Spearman: Pearson on average ranks
                a, b = _ranks(a), _ranks(b)
            values.append(float(np.corrcoef(a, b)[0, 1]))
        return float(np.mean(values))

    return corr


def _ranks(x: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return np.asarray(rankdata(x), dtype=float)


def _qwk(y: np.ndarray, p: np.ndarray) -> float:
    truth = y.astype(float).round().astype(int)
    return float(_skm().cohen_kappa_score(truth, _labels(truth, p), weights="quadratic"))


def _map_at(k: int) -> ScoreFn:
    """MAP@k: pred holds a score per class; y_true a class index (or a 0/1 matrix of relevant classes)."""

    def map_at_k(y: np.ndarray, p: np.ndarray) -> float:
        top = np.argsort(-p, axis=1, kind="stable")[:, :k]
        truth = _one_hot(y, p.shape[1])
        hits = np.take_along_axis(truth, top, axis=1).astype(float)
        precision = np.cumsum(hits, axis=1) / np.arange(1, top.shape[1] + 1)
        n_relevant = np.minimum(truth.sum(axis=1), k)
        ap = np.where(n_relevant > 0, (precision * hits).sum(axis=1) / np.maximum(n_relevant, 1), 0.0)
        return float(ap.mean())

    return map_at_k


# ---------------------------------------------------------------- the registry


def _m(name: str, lower: bool, needs: str, fn: ScoreFn, title: str) -> Metric:
    return Metric(name=name, lower_is_better=lower, needs=needs, fn=fn, title=title)


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        _m("accuracy", False, "label", _accuracy, "accuracy"),
        _m("balanced_accuracy", False, "label", _balanced_accuracy, "balanced accuracy"),
        _m("roc_auc", False, "probability", _roc_auc, "area under the ROC curve"),
        _m(
            "mean_columnwise_roc_auc",
            False,
            "probability",
            _mean_columnwise_roc_auc,
            "mean column-wise ROC AUC",
        ),
        _m("log_loss", True, "probability", _log_loss, "binary log loss"),
        _m("multiclass_logloss", True, "probability", _multiclass_logloss, "multi-class log loss"),
        _m("rmse", True, "value", _rmse, "root mean squared error"),
        _m("mse", True, "value", _mse, "mean squared error"),
        _m("rmsle", True, "value", _rmsle, "root mean squared logarithmic error"),
        _m("mae", True, "value", _mae, "mean absolute error"),
        _m("mean_rmsle", True, "value", _mean_rmsle, "mean column-wise RMSLE"),
        _m("r2", False, "value", _r2, "coefficient of determination (R^2)"),
        _m("f1", False, "label", _f1("binary"), "F1 score (binary)"),
        _m("f1_macro", False, "label", _f1("macro"), "F1 score (macro average)"),
        _m("f1_micro", False, "label", _f1("micro"), "F1 score (micro average)"),
        _m("pearson", False, "value", _correlation(rank=False), "Pearson correlation"),
        _m("spearman", False, "value", _correlation(rank=True), "Spearman rank correlation"),
        _m("qwk", False, "label", _qwk, "quadratic weighted kappa"),
        _m("map_at_k", False, "probability", _map_at(MAP_DEFAULT_K), f"MAP@{MAP_DEFAULT_K}"),
    )
}

ALIASES: dict[str, str] = {
    "auc": "roc_auc",
    "rocauc": "roc_auc",
    "logloss": "log_loss",
    "binary_logloss": "log_loss",
    "multi_logloss": "multiclass_logloss",
    "multiclass_log_loss": "multiclass_logloss",
    "mcrmsle": "mean_rmsle",
    "columnwise_rmsle": "mean_rmsle",
    "kappa": "qwk",
    "quadratic_weighted_kappa": "qwk",
    "r_squared": "r2",
    "map": "map_at_k",
    f"map_at_{MAP_DEFAULT_K}": "map_at_k",
}

_MAP_AT = re.compile(r"^map_?(?:at_?|@)(\d+)$")


def get_metric(name: str) -> Metric:
    """The metric called name (canonical name or alias; "map_at_5" builds MAP@5)."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    key = ALIASES.get(key, key)
    if key in METRICS:
        return METRICS[key]
    m = _MAP_AT.match(key)
    if m and int(m.group(1)) > 0:
        k = int(m.group(1))
        return (
            METRICS["map_at_k"]
            if k == MAP_DEFAULT_K
            else _m(f"map_at_{k}", False, "probability", _map_at(k), f"MAP@{k}")
        )
    known = ", ".join(sorted(METRICS))
    raise ConfigError(f"expected a metric name, one of {known} (or map_at_<k>); found {name!r}")
