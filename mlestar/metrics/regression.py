"""Scores of numeric predictions: errors, correlations, and the domain scores some graders use
(log MAE per group, angular error, haversine percentiles, Laplace log likelihood).

Over several target columns the error metrics are the mean of the per-column values (so RMSE over
k columns is the MCRMSE).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from mlestar.metrics.base import Context, PlainFn, columns, resample_means, skm, values

GROUP = "group"
LOG_MAE_FLOOR = 1e-9
"""The MAE of a group never goes below this before the log (the published metric's floor; a
perfect group would otherwise score minus infinity)."""
EARTH_RADIUS_M = 6_371_000


def rmse(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean([math.sqrt(np.mean((a - b) ** 2)) for a, b in columns(y, p)]))


def mse(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean([np.mean((a - b) ** 2) for a, b in columns(y, p)]))


def mae(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean([np.mean(np.abs(a - b)) for a, b in columns(y, p)]))


def _squared_errors(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    a, b = values(y, p)
    return (a - b) ** 2


def rmse_resampled(y: np.ndarray, p: np.ndarray, draws: Iterable[np.ndarray]) -> list[float]:
    return resample_means(_squared_errors(y, p), draws, lambda m: float(np.mean(np.sqrt(m))))


def mse_resampled(y: np.ndarray, p: np.ndarray, draws: Iterable[np.ndarray]) -> list[float]:
    return resample_means(_squared_errors(y, p), draws)


def mae_resampled(y: np.ndarray, p: np.ndarray, draws: Iterable[np.ndarray]) -> list[float]:
    a, b = values(y, p)
    return resample_means(np.abs(a - b), draws)


def _rmsle_1d(y: np.ndarray, p: np.ndarray) -> float:
    if (y < 0).any():
        raise ValueError(f"expected non-negative true values for RMSLE, found minimum {y.min():g}")
    return math.sqrt(np.mean((np.log1p(np.clip(p, 0, None)) - np.log1p(y)) ** 2))


def rmsle(y: np.ndarray, p: np.ndarray) -> float:
    a, b = values(y, p)
    return _rmsle_1d(a.ravel(), b.ravel())


def rmsle_resampled(y: np.ndarray, p: np.ndarray, draws: Iterable[np.ndarray]) -> list[float] | None:
    a, b = values(y, p)
    if (a < 0).any():
        return None  # no RMSLE: each resample refuses it as the metric does
    cells = (np.log1p(np.clip(b, 0, None)) - np.log1p(a)) ** 2
    per_row = cells if cells.ndim == 1 else cells.mean(axis=1)  # rows hold the same number of cells
    return resample_means(per_row, draws, lambda m: math.sqrt(float(m)))


def mean_rmsle(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean([_rmsle_1d(a, b) for a, b in columns(y, p)]))


def r2(y: np.ndarray, p: np.ndarray) -> float:
    a, b = values(y, p)
    return float(skm().r2_score(a, b))


def correlation(rank: bool) -> PlainFn:
    """Pearson (or Spearman) correlation per column, averaged; a constant column counts 0."""

    def corr(y: np.ndarray, p: np.ndarray) -> float:
        found = []
        for a, b in columns(y, p):
            if np.ptp(a) == 0 or np.ptp(b) == 0:
                found.append(0.0)
                continue
            if rank:  # Spearman: Pearson on average ranks
                a, b = _ranks(a), _ranks(b)
            found.append(float(np.corrcoef(a, b)[0, 1]))
        return float(np.mean(found))

    return corr


def _ranks(x: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return np.asarray(rankdata(x), dtype=float)


# ---------------------------------------------------------------- domain scores


def grouped_log_mae(y: np.ndarray, p: np.ndarray, ctx: Context) -> float:
    """log(MAE) within each group (context "group"; all rows one group without it), averaged over
    groups, so a 1% better MAE in any group improves the score equally."""
    truth, pred = values(y, p)
    groups = np.asarray(ctx[GROUP]).ravel() if GROUP in ctx else np.zeros(len(truth))
    logs = []
    for g in np.unique(groups):
        rows = groups == g
        logs.append(math.log(max(float(np.mean(np.abs(truth[rows] - pred[rows]))), LOG_MAE_FLOOR)))
    return float(np.mean(logs))


def mean_angular_error(y: np.ndarray, p: np.ndarray) -> float:
    """Mean angle (radians) between true and predicted directions given as (azimuth, zenith)."""
    _two_columns(y, p, "mean_angular_error", "azimuth, zenith")
    az1, zen1, az2, zen2 = y[:, 0].astype(float), y[:, 1].astype(float), p[:, 0], p[:, 1]
    cos_angle = np.sin(zen1) * np.sin(zen2) * np.cos(az1 - az2) + np.cos(zen1) * np.cos(zen2)
    return float(np.mean(np.abs(np.arccos(np.clip(cos_angle, -1, 1)))))


def haversine_p50_p95(y: np.ndarray, p: np.ndarray, ctx: Context) -> float:
    """Per group (context "group", e.g. one trip; one group without it): the mean of the 50th and 95th
    percentile great-circle distance in metres between true and predicted (latitude, longitude)
    degrees; then the mean over groups."""
    _two_columns(y, p, "haversine_p50_p95", "latitude, longitude")
    lat1, lon1 = np.radians(y[:, 0].astype(float)), np.radians(y[:, 1].astype(float))
    lat2, lon2 = np.radians(p[:, 0]), np.radians(p[:, 1])
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    dist = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(a))
    groups = np.asarray(ctx[GROUP]).ravel() if GROUP in ctx else np.zeros(len(dist))
    per_group = [np.mean(np.quantile(dist[groups == g], [0.5, 0.95])) for g in np.unique(groups)]
    return float(np.mean(per_group))


def _two_columns(y: np.ndarray, p: np.ndarray, metric: str, meaning: str) -> None:
    for what, a in (("answer", y), ("prediction", p)):
        if a.ndim != 2 or a.shape[1] != 2:
            found = a.shape[1] if a.ndim == 2 else 1
            raise ValueError(f"expected two {what} columns ({meaning}) for {metric}, found {found}")


def laplace_log_likelihood(y: np.ndarray, p: np.ndarray) -> float:
    """Mean of -sqrt(2) * delta / sigma - ln(sqrt(2) * sigma), with delta = |true - predicted| capped at
    1000 and sigma = the predicted confidence (second column; missing = 0) floored at 70."""
    if p.shape[1] != 2:
        raise ValueError(
            f"expected two prediction columns (value, confidence) for laplace_log_likelihood, found {p.shape[1]}"
        )
    truth = y.astype(float).ravel()
    sigma = np.maximum(np.nan_to_num(p[:, 1], nan=0.0), 70.0)
    delta = np.minimum(np.abs(truth - p[:, 0]), 1000.0)
    return float(np.mean(-math.sqrt(2) * delta / sigma - np.log(math.sqrt(2) * sigma)))
