"""The metric registry: every score the harness computes, with its direction.

Calling convention (the harness's, see mlestar.contract.CONTRACT):
    metric.score(y_true, pred, context=None) -> float
y_true is the ENCODED answer: 0/1 for binary, the class index for multi-class, floats of shape
(n,) or (n, k) for regression, a 0/1 matrix for multi-label. pred is the prediction array of shape
(n, n_outputs): the probability of class 1 for binary, one probability column per class for
multi-class, one column per target for regression and multi-label. A 1-D pred is taken as one column.

Text answers (spans, label lists, run-length masks, prediction strings) are numpy unicode arrays of
shape (n, n_outputs), for answers and predictions alike; metrics with needs="text" read only those,
and a few numeric metrics also read text (accuracy, F1, MAP@k, top-1 error).

`context` holds per-row arrays some metrics need (Metric.uses: "group", "subgroups", "volume",
"slice", "image_shape"); every metric understands "mask", a boolean per row, True where scored.

Each metric turns pred into what it needs:
    labels        binary: p >= 0.5; multi-class: argmax; regression-coded ordinal targets: rounding
    probabilities clipped to [eps, 1 - eps] with eps the float64 machine epsilon (scikit-learn's,
                  so the graders'); multi-class rows are first rescaled to sum to one
Decisions where the textbook formula is undefined:
    pearson / spearman with a constant column     -> 0.0 (no linear / rank association)
    roc_auc when y_true holds a single class      -> 0.5 (no ranking can be judged)
    rmsle predictions below 0                     -> clipped to 0: with non-negative answers this
                                                     never raises the error (log1p is monotone), and
                                                     it keeps predictions below -1 finite
    rmsle with negative true values               -> ValueError (the metric is not defined there)
A malformed prediction (a bad run-length string, a box with a missing value) raises ValueError
saying what was expected and what was found; the harness records the attempt as invalid.
docs/metrics.md lists every metric, the MLE-bench graders they reproduce, and where they differ.
"""

from mlestar.metrics.base import Context, Metric
from mlestar.metrics.classification import EPS, MACHINE_EPS
from mlestar.metrics.registry import ALIASES, FAMILIES, MAP_DEFAULT_K, METRICS, get_metric, names
from mlestar.metrics.score import Score, best_first

__all__ = [
    "ALIASES",
    "EPS",
    "FAMILIES",
    "MACHINE_EPS",
    "MAP_DEFAULT_K",
    "METRICS",
    "Context",
    "Metric",
    "get_metric",
    "Score",
    "best_first",
    "names",
]
