"""Champion against challenger on rows neither saw: is the challenger better beyond noise?

A paired bootstrap over the holdout rows: both models' predictions are resampled together,
the metric difference is computed on each resample, and the challenger wins only when it is
better in at least 1 - alpha of them (a one-sided test at level alpha). Pairing removes the
noise both models share (hard rows are hard for both); resampling works for any metric,
AUC included.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mlestar.metrics import Metric

RESAMPLES = 1000
ALPHA = 0.05


@dataclass(frozen=True)
class Comparison:
    metric: str
    champion: float
    challenger: float
    improvement: float
    """Challenger minus champion, signed so that positive is better."""
    p_value: float
    """Share of resamples where the challenger is not better."""
    alpha: float
    n: int
    better: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def compare(
    metric: Metric,
    y: np.ndarray,
    champion: np.ndarray,
    challenger: np.ndarray,
    alpha: float = ALPHA,
    seed: int = 0,
    resamples: int = RESAMPLES,
) -> Comparison:
    sign = -1.0 if metric.lower_is_better else 1.0
    a, b = metric.score(y, champion), metric.score(y, challenger)
    rng = np.random.default_rng(seed)
    wins = total = 0
    for _ in range(resamples):
        rows = rng.integers(0, len(y), len(y))
        try:
            diff = sign * (metric.score(y[rows], challenger[rows]) - metric.score(y[rows], champion[rows]))
        except ValueError:  # a resample with one class has no AUC
            continue
        total += 1
        wins += diff > 0
    p = 1.0 - wins / total if total else 1.0
    improvement = sign * (b - a)
    return Comparison(metric.name, a, b, improvement, p, alpha, len(y), bool(improvement > 0 and p < alpha))
