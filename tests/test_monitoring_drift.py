"""Drift tests: shifted synthetic data is found, same-distribution data rarely is (measured)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from mlestar.monitoring.drift import ALPHA, drift_of, ks_distance, psi
from mlestar.monitoring.schema import ColumnSchema, describe_column


def _frame(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    mix = [0.5, 0.3, 0.2] if shift == 0 else [0.2, 0.3, 0.5]
    return pd.DataFrame(
        {
            "x1": rng.normal(shift, 1.0, n),
            "x2": rng.integers(0, 5, n),
            "colour": rng.choice(["a", "b", "c"], n, p=mix),
            "note": [" ".join(["w"] * int(k)) for k in rng.poisson(8, n)],
            "skewed": rng.exponential(1.0 + shift, n),
        }
    )


@pytest.fixture(scope="module")
def reference() -> dict[str, ColumnSchema]:
    ref = _frame(np.random.default_rng(0), 2000)
    return {c: describe_column(c, ref[c]) for c in ref.columns}


def _drifted(reference: dict[str, ColumnSchema], frame: pd.DataFrame) -> list[str]:
    return [d.column for d in drift_of([(reference[c], frame[c]) for c in frame.columns]) if d.drifted]


def test_psi_is_zero_for_equal_shares_and_grows_with_the_shift() -> None:
    base = np.array([0.25, 0.25, 0.25, 0.25])
    assert psi(base, base) == pytest.approx(0.0)
    assert 0 < psi(base, np.array([0.3, 0.25, 0.25, 0.2])) < psi(base, np.array([0.7, 0.1, 0.1, 0.1]))


def test_ks_distance_against_quantiles_matches_scipy_on_a_large_reference() -> None:
    rng = np.random.default_rng(1)
    ref, new = rng.normal(size=20_000), rng.normal(0.3, 1.0, 500)
    quantiles = np.quantile(ref, np.linspace(0, 1, 201))
    assert ks_distance(quantiles, new) == pytest.approx(ks_2samp(ref, new).statistic, abs=0.01)


def test_ties_do_not_inflate_the_distance() -> None:
    values = np.repeat(np.arange(10.0), 100)
    quantiles = np.quantile(values, np.linspace(0, 1, 201))
    assert ks_distance(quantiles, np.arange(10.0).repeat(7)) < 0.02


def test_shifted_columns_are_found(reference: dict[str, ColumnSchema]) -> None:
    shifted = _frame(np.random.default_rng(5), 300, shift=1.0)
    assert set(_drifted(reference, shifted)) == {"x1", "colour", "skewed"}


@pytest.mark.parametrize("rows", [50, 500])
def test_false_positive_rate_on_same_distribution_data(reference: dict[str, ColumnSchema], rows: int) -> None:
    """Any column flagged in a window of same-distribution rows is a false alarm; Bonferroni
    keeps the rate per report near alpha (bench/drift_false_positives.py measures more sizes)."""
    rng = np.random.default_rng(rows)
    trials = 60
    alarms = sum(bool(_drifted(reference, _frame(rng, rows))) for _ in range(trials))
    assert alarms / trials <= 2 * ALPHA


def test_too_few_rows_are_not_tested(reference: dict[str, ColumnSchema]) -> None:
    small = _frame(np.random.default_rng(2), 10, shift=3.0)
    assert drift_of([(reference[c], small[c]) for c in small.columns]) == []
