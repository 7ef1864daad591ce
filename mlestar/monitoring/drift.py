"""Per-column drift against a schema's reference: a significance test and an effect size.

Continuous columns (numbers with many values, text lengths) are tested with the two-sample
Kolmogorov-Smirnov test against the reference quantiles; discrete ones (categories, booleans,
numbers with few values) with a chi-square test on a 2 x k table of reference and new counts.
The population stability index (PSI) on the reference bins measures how large the shift is.

A column drifts when both say so: the test's p-value is below alpha / m (Bonferroni over the m
columns tested at once, so that a report with many columns does not cry wolf) and the PSI is at
least `psi_min` (so that a huge window does not flag shifts too small to matter).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlestar.monitoring.schema import ColumnSchema, category_key

ALPHA = 0.05
PSI_MIN = 0.1
"""PSI below 0.1 is conventionally read as no significant population change."""
MIN_ROWS = 20
"""Fewer values than this in a column are too few to test."""
_EPS = 1e-4
_MIN_EXPECTED = 5.0


@dataclass(frozen=True)
class ColumnDrift:
    column: str
    test: str
    """"ks" or "chi2"."""
    statistic: float
    p_value: float
    psi: float
    drifted: bool
    n: int
    labels: tuple[str, ...]
    """The bins (or categories) of the reference and current shares, for plots."""
    reference: tuple[float, ...]
    current: tuple[float, ...]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def drift_of(
    columns: list[tuple[ColumnSchema, pd.Series]], alpha: float = ALPHA, psi_min: float = PSI_MIN
) -> list[ColumnDrift]:
    """Drift of each column that can be tested, with the Bonferroni threshold over all of them."""
    tested = [(col, values) for col, values in columns if testable(col) and values.notna().sum() >= MIN_ROWS]
    threshold = alpha / max(len(tested), 1)
    return [column_drift(col, values, threshold, psi_min) for col, values in tested]


def testable(col: ColumnSchema) -> bool:
    if col.kind in ("id", "datetime"):
        return False
    return col.discrete or bool(col.quantiles)


def column_drift(col: ColumnSchema, values: pd.Series, threshold: float, psi_min: float) -> ColumnDrift:
    present = values.dropna()
    if col.discrete:
        return _discrete(col, present, threshold, psi_min)
    x = present.astype(str).str.len() if col.kind == "text" else present
    return _continuous(col, x.to_numpy(dtype=float), threshold, psi_min)


def _continuous(col: ColumnSchema, x: np.ndarray, threshold: float, psi_min: float) -> ColumnDrift:
    quantiles = np.asarray(col.quantiles, dtype=float)
    d = ks_distance(quantiles, x)
    p = ks_p_value(d, len(x), col_rows(col))
    edges = np.asarray(col.bins, dtype=float)
    current = np.bincount(np.searchsorted(edges, x, side="right"), minlength=len(edges) + 1) / len(x)
    reference = np.asarray(col.bin_shares, dtype=float)
    score = psi(reference, current)
    labels = _bin_labels(edges)
    return ColumnDrift(
        col.name, "ks", d, p, score, p < threshold and score >= psi_min, len(x), labels,
        tuple(float(r) for r in reference), tuple(float(c) for c in current),
    )  # fmt: skip


def _discrete(col: ColumnSchema, present: pd.Series, threshold: float, psi_min: float) -> ColumnDrift:
    from scipy.stats import chi2_contingency

    keys = present.map(category_key)
    cats = list(col.categories)
    counts = keys.value_counts()
    current = np.array(
        [counts.get(c, 0) for c in cats] + [len(keys) - counts.reindex(cats).fillna(0).sum()], float
    )
    reference = np.array([*col.shares, 0.0], dtype=float)
    ref_counts = reference * max(col_rows(col), 1)
    table = _pooled(np.vstack([ref_counts, current]))
    if table.shape[1] < 2:
        stat, p = 0.0, 1.0
    else:
        stat, p, _, _ = chi2_contingency(table, correction=False)
    ref_share, cur_share = reference, current / max(current.sum(), 1.0)
    score = psi(ref_share, cur_share)
    labels = (*cats, "(other)")
    return ColumnDrift(
        col.name, "chi2", float(stat), float(p), score, bool(p < threshold and score >= psi_min), int(len(keys)),
        tuple(labels), tuple(float(r) for r in ref_share), tuple(float(c) for c in cur_share),
    )  # fmt: skip


def col_rows(col: ColumnSchema) -> int:
    """The reference sample size behind a column's statistics."""
    return col.count or len(col.quantiles) or 1


def _pooled(table: np.ndarray) -> np.ndarray:
    """Categories with small expected counts pooled into one column (chi-square needs >= 5)."""
    total = table.sum()
    if total == 0:
        return table[:, :0]
    expected = table.sum(axis=0, keepdims=True) * table.sum(axis=1, keepdims=True) / total
    small = (expected < _MIN_EXPECTED).any(axis=0)
    kept = table[:, ~small]
    if small.any():
        kept = np.hstack([kept, table[:, small].sum(axis=1, keepdims=True)])
    return kept[:, kept.sum(axis=0) > 0]


def ks_distance(reference_quantiles: np.ndarray, x: np.ndarray) -> float:
    """sup |F_new - F_ref|, F_ref linear between the reference quantiles.

    Ties are honoured on both sides (text lengths and rounded numbers repeat values): F_ref is
    right-continuous at a repeated quantile, and its left limit is used against the new sample's.
    """
    if len(x) == 0:
        return 0.0
    q = np.asarray(reference_quantiles, dtype=float)
    xs = np.sort(x)
    n = len(xs)
    above = np.arange(1, n + 1) / n - reference_cdf(q, xs, side="right")
    below = reference_cdf(q, xs, side="left") - np.arange(0, n) / n
    return float(max(above.max(), below.max(), 0.0))


def reference_cdf(q: np.ndarray, x: np.ndarray, side: str) -> np.ndarray:
    """F_ref(x) (side "right") or its left limit F_ref(x-) (side "left"), from sorted quantiles q."""
    levels = np.linspace(0.0, 1.0, len(q))
    i = np.searchsorted(q, x, side=side)  # type: ignore[call-overload]
    lo = np.clip(i - 1, 0, len(q) - 1)
    hi = np.clip(i, 0, len(q) - 1)
    gap = q[hi] - q[lo]
    frac = np.where(gap > 0, (x - q[lo]) / np.where(gap > 0, gap, 1.0), 0.0)
    cdf = levels[lo] + np.clip(frac, 0.0, 1.0) * (levels[hi] - levels[lo])
    if side == "left":  # just below a quantile value: the level where that value starts
        cdf = np.where((hi < len(q)) & (q[hi] == x), levels[hi], cdf)
    cdf = np.where(i == 0, 0.0, cdf)
    return np.where(i >= len(q), 1.0, cdf)


def ks_p_value(d: float, n: int, m: int) -> float:
    """Asymptotic two-sample KS p-value (with Stephens' small-sample correction)."""
    from scipy.special import kolmogorov

    en = math.sqrt(n * m / (n + m))
    return float(min(1.0, max(0.0, kolmogorov((en + 0.12 + 0.11 / en) * d))))


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index: sum((c - r) * ln(c / r)) over bins, shares smoothed by 1e-4."""
    r = np.clip(np.asarray(reference, dtype=float), _EPS, None)
    c = np.clip(np.asarray(current, dtype=float), _EPS, None)
    r, c = r / r.sum(), c / c.sum()
    return float(np.sum((c - r) * np.log(c / r)))


def _bin_labels(edges: np.ndarray) -> tuple[str, ...]:
    if len(edges) == 0:
        return ("all",)
    inner = [f"{a:.3g} to {b:.3g}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    return (f"< {edges[0]:.3g}", *inner, f">= {edges[-1]:.3g}")
