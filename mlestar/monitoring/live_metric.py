"""The task metric on newly labelled rows, against the run's validation score, beyond noise.

Both scores are uncertain: the live one from its few labelled rows, the validation one from the
run's out-of-fold rows. Each is bootstrapped over its own rows (when the run's out-of-fold
predictions are at hand); the live metric is "worse beyond noise" when the difference
validation - live, in the worse direction, is above zero in at least 95% of paired draws (a
one-sided test at 5%). Without the out-of-fold predictions the validation score is taken as exact.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlestar.metrics import Metric

BOOTSTRAP = 400
LEVEL = 0.05


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
    """True when the live value is worse than the validation score beyond noise."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def bootstrap(metric: Metric, y: np.ndarray, pred: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(BOOTSTRAP):
        rows = rng.integers(0, len(y), len(y))
        try:
            draws.append(metric.score(y[rows], pred[rows]))
        except ValueError:  # a resample with one class has no AUC: skip it
            continue
    return np.asarray(draws, dtype=float)


def live_metric(
    metric: Metric,
    y: np.ndarray,
    pred: np.ndarray,
    validation: float | None,
    validation_draws: np.ndarray | None = None,
    seed: int = 0,
) -> LiveMetric:
    value = metric.score(y, pred)
    draws = bootstrap(metric, y, pred, seed)
    low, high = (
        (float(np.quantile(draws, 0.025)), float(np.quantile(draws, 0.975))) if len(draws) else (value, value)
    )
    degraded = False
    if validation is not None and len(draws):
        reference = (
            validation_draws
            if validation_draws is not None and len(validation_draws)
            else np.full(1, validation)
        )
        n = min(len(draws), len(reference)) if len(reference) > 1 else len(draws)
        worse = (draws[:n] - reference[:n]) if metric.lower_is_better else (reference[:n] - draws[:n])
        degraded = float(np.quantile(worse, LEVEL)) > 0
    return LiveMetric(metric.name, value, low, high, len(y), validation, bool(degraded))


def validation_draws(run_dir: Path, metric: Metric, node: str | None, seed: int = 1) -> np.ndarray | None:
    """Bootstrap draws of the run's validation score from its stored out-of-fold predictions."""
    if not node:
        return None
    oof_path = run_dir / "attempts" / node / "output" / "oof.npy"
    if not oof_path.is_file():
        return None
    oof = np.load(oof_path)
    oof = oof.reshape(len(oof), -1)
    y = np.load(run_dir / "data" / "target.npy", allow_pickle=False)
    folds = np.load(run_dir / "data" / "folds.npy", allow_pickle=False)
    used = (folds >= 0) & np.isfinite(oof).all(axis=1)
    if len(y) != len(oof) or used.sum() < 10:
        return None
    return bootstrap(metric, y[used], oof[used], seed)
