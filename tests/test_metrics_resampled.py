"""A bootstrap interval scores about thirty resamples of the validation rows. The AUCs score them
all from one sort, and metrics that are means over rows from one pass over per-row values: the same
scores, and so the same interval, as scoring each resample on its own."""

from __future__ import annotations

import numpy as np
import pytest

from mlestar.metrics import get_metric
from mlestar.search import validation


def draws(n: int, seed: int = 0, count: int = 30) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, n, n) for _ in range(count)]


def one_by_one(name: str, y: np.ndarray, p: np.ndarray, rows: list[np.ndarray]) -> list[float]:
    metric = get_metric(name)
    return [metric.score(y[r], p[r]) for r in rows]


def binary(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.round(0.3 * y + 0.7 * rng.random(n), 2)  # rounded: many tied scores
    return y, p


@pytest.mark.parametrize("columns", [1, 2])
def test_binary_auc_of_each_resample_is_the_auc_of_its_rows(columns: int) -> None:
    y, p = binary(400)
    pred = p.reshape(-1, 1) if columns == 1 else np.column_stack([1 - p, p])
    rows = draws(len(y))
    got = get_metric("roc_auc").resample_scores(y, pred, iter(rows))
    assert got == pytest.approx(one_by_one("roc_auc", y, pred, rows), abs=1e-12)


def test_a_resample_of_one_class_scores_one_half_as_the_metric_does() -> None:
    y, p = np.array([0, 1, 1, 1, 1]), np.array([0.2, 0.4, 0.6, 0.8, 0.9])
    rows = [np.array([1, 2, 3, 4, 1]), np.array([0, 1, 2, 0, 4])]
    got = get_metric("roc_auc").resample_scores(y, p, iter(rows))
    assert got == pytest.approx(one_by_one("roc_auc", y, p, rows)) and got[0] == 0.5


def test_multiclass_and_columnwise_aucs_match_scoring_each_resample() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 4, 300)
    p = rng.dirichlet(np.ones(4), 300) + 0.2 * np.eye(4)[y]
    rows = draws(len(y), seed=5)
    for name in ("roc_auc", "mean_columnwise_roc_auc"):
        got = get_metric(name).resample_scores(y, p, iter(rows))
        assert got == pytest.approx(one_by_one(name, y, p, rows), abs=1e-12)


def test_columnwise_auc_skips_unscored_rows_and_one_class_columns_in_each_resample() -> None:
    rng = np.random.default_rng(4)
    truth = rng.integers(0, 2, (200, 3))
    truth[:, 2] = (rng.random(200) < 0.03).astype(int)  # a rare column: some resamples hold no positive
    truth[rng.random(200) < 0.1] = -1  # rows marked unscored
    p = np.round(rng.random((200, 3)), 1)
    rows = draws(len(truth), seed=9, count=60)
    got = get_metric("mean_columnwise_roc_auc").resample_scores(truth, p, iter(rows))
    assert got == pytest.approx(one_by_one("mean_columnwise_roc_auc", truth, p, rows), abs=1e-12)


def test_inputs_without_a_one_sort_form_fall_back_before_any_draw_is_read() -> None:
    y, p = binary(50)
    p = p.astype(float)
    p[3] = np.nan
    untouched = iter(draws(50))
    assert get_metric("roc_auc").resample_scores(y, p, untouched) is None
    assert len(list(untouched)) == 30
    assert get_metric("balanced_accuracy").resample_scores(y, (p > 0.5).astype(int), iter(draws(50))) is None


def test_the_interval_is_the_same_with_and_without_the_one_sort_path() -> None:
    y, p = binary(2000, seed=8)
    metric = get_metric("roc_auc")
    plain = validation.interval(metric.score, y, p, seed=11)
    fast = validation.interval(metric.score, y, p, seed=11, resampled=metric.resample_scores)
    assert plain is not None and fast == pytest.approx(plain, abs=1e-12)


def _cases() -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(21)
    n = 300
    yb = rng.integers(0, 2, n)
    pb = np.clip(0.35 * yb + 0.65 * rng.random(n), 0, 1)
    yc = rng.integers(0, 3, n)
    pc = rng.dirichlet(np.ones(3), n)
    ym = rng.integers(0, 2, (n, 4))
    yr, yr2 = rng.gamma(2.0, 3.0, n), rng.normal(size=(n, 3))
    return [
        ("accuracy", yb, pb),
        ("accuracy", yc, pc),
        ("accuracy", ym, rng.random((n, 4))),  # several labels per row: a row is right when all are
        ("log_loss", yb, pb),
        ("multiclass_logloss", yc, pc),
        ("multiclass_logloss", yb, pb),
        ("rmse", yr, yr + rng.normal(size=n)),
        ("rmse", yr2, yr2 + rng.normal(size=(n, 3))),  # the mean of the columns' RMSEs
        ("mse", yr2, yr2 + rng.normal(size=(n, 3))),
        ("mae", yr, yr + rng.normal(size=n)),
        ("rmsle", yr, np.abs(yr + rng.normal(size=n))),
        ("rmsle", np.abs(yr2), np.abs(yr2 + rng.normal(size=(n, 3)))),
    ]


@pytest.mark.parametrize("case", range(12))
def test_means_over_rows_score_each_resample_as_scoring_it_alone(case: int) -> None:
    name, y, p = _cases()[case]
    rows = draws(len(y), seed=case)
    got = get_metric(name).resample_scores(y, p, iter(rows))
    assert got == pytest.approx(one_by_one(name, y, p, rows), rel=1e-12, abs=1e-12)


def test_rows_that_change_the_labels_or_refuse_the_metric_fall_back() -> None:
    y = np.array([1, 3, 5, 2, 4] * 10)  # labels rounded into the answers' range: the resample's own
    assert get_metric("accuracy").resample_scores(y, y + 0.2, iter(draws(50))) is None
    negative = np.array([-1.0, 2.0, 3.0] * 10)
    assert get_metric("rmsle").resample_scores(negative, np.abs(negative), iter(draws(30))) is None


def test_on_millions_of_rows_a_resample_draws_fewer_and_the_spread_is_scaled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An m-out-of-n bootstrap: the interval is about as wide as drawing every row thirty times."""
    rng = np.random.default_rng(12)
    y = rng.normal(size=600_000)
    p = y + rng.normal(size=600_000)
    metric = get_metric("rmse")
    capped = validation.interval(metric.score, y, p, seed=1, resampled=metric.resample_scores)
    monkeypatch.setattr(validation, "MAX_DRAWN", 10**9)
    full = validation.interval(metric.score, y, p, seed=1, resampled=metric.resample_scores)
    assert capped is not None and full is not None
    assert capped[0] < metric.score(y, p) < capped[1]
    assert 0.6 < (capped[1] - capped[0]) / (full[1] - full[0]) < 1.6
