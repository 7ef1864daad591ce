"""What the search scores with when the task's metric needs per-row context the harness does not give.

A metric's `uses` names per-row inputs besides the answers (a volume and slice per row for the 3D
Hausdorff distance of masks stacked by volume, the picture's shape). The harness scores attempts
from the answers and the out-of-fold predictions alone, so such a metric would turn every attempt
invalid and the run would end with the baseline. Its stand-in scores the part of it those two
arrays hold; the submission is still graded by the task's own metric. Metrics without a stand-in
are used as they are (and say what they miss).
"""

from __future__ import annotations

import math

import numpy as np

from mlestar.metrics.base import Context, Metric, one_column
from mlestar.metrics.rle import overlap, parse_runs


def dice_part(y: np.ndarray, p: np.ndarray, ctx: Context) -> float:
    """The Dice part of dice_hausdorff: the mean 2D Dice of the rows where the answer or the
    prediction holds a pixel (1 when no row does)."""
    scores = []
    for t, q in zip(one_column(y, "dice_hausdorff"), one_column(p, "dice_hausdorff"), strict=True):
        truth, pred = parse_runs(t), parse_runs(q)
        total = truth.area + pred.area
        scores.append(2 * overlap(truth, pred) / total if total else math.nan)
    return 1.0 if np.isnan(scores).all() else float(np.nanmean(scores))


STAND_INS = {
    "dice_hausdorff": Metric(
        "dice_hausdorff", False, "text", None, "the Dice part of 0.4 Dice + 0.6 (1 - 3D Hausdorff)", dice_part
    ),
}


def for_search(metric: Metric) -> Metric:
    """The metric itself, or its stand-in when it needs per-row context."""
    return STAND_INS.get(metric.name, metric) if metric.uses else metric
