"""The task metric on newly labelled rows, with a bootstrap interval, against the validation score."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mlestar.metrics import Metric

BOOTSTRAP = 200


@dataclass(frozen=True)
class LiveMetric:
    metric: str
    value: float
    low: float
    high: float
    """The 95% bootstrap interval of the live value."""
    n: int
    validation: float | None
    degraded: bool
    """True when the validation score lies beyond the interval on the better side: worse beyond noise."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def live_metric(
    metric: Metric, y: np.ndarray, pred: np.ndarray, validation: float | None, seed: int = 0
) -> LiveMetric:
    value = metric.score(y, pred)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(BOOTSTRAP):
        rows = rng.integers(0, len(y), len(y))
        try:
            draws.append(metric.score(y[rows], pred[rows]))
        except ValueError:  # a resample with one class has no AUC: skip it
            continue
    low, high = (
        (float(np.quantile(draws, 0.025)), float(np.quantile(draws, 0.975))) if draws else (value, value)
    )
    degraded = False
    if validation is not None:
        degraded = validation < low if metric.lower_is_better else validation > high
    return LiveMetric(metric.name, value, low, high, len(y), validation, bool(degraded))
