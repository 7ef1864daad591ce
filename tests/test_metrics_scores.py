"""The numeric metrics graders use beyond the textbook ones, each against scikit-learn / scipy where
they hold a reference, otherwise against a small independent re-computation and hand-worked cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from mlestar.metrics import get_metric

N = 300


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(11)


def test_mcc_and_top1_error_match_sklearn(rng: np.random.Generator) -> None:
    y = rng.integers(0, 2, N)
    p = np.clip(0.3 * y + 0.7 * rng.random(N), 0, 1)
    assert get_metric("mcc").score(y, p) == pytest.approx(skm.matthews_corrcoef(y, (p >= 0.5).astype(int)))
    yk = rng.integers(0, 5, N)
    pk = rng.random((N, 5)) + 0.4 * np.eye(5)[yk]
    assert get_metric("top1_error").score(yk, pk) == pytest.approx(1 - skm.accuracy_score(yk, pk.argmax(1)))
    assert get_metric("top1_error").lower_is_better


def test_probabilistic_f1_counts_probabilities_as_soft_hits() -> None:
    y = np.array([1, 1, 0, 0, 0])
    p = np.array([0.9, 0.5, 0.2, 0.0, 1.3])  # 1.3 is clipped to 1
    ctp, cfp = 0.9 + 0.5, 0.2 + 0.0 + 1.0
    precision, recall = ctp / (ctp + cfp), ctp / 2
    want = 2 * precision * recall / (precision + recall)
    assert get_metric("probabilistic_f1").score(y, p) == pytest.approx(want)
    assert get_metric("probabilistic_f1").score(y, np.array([1.0, 1, 0, 0, 0])) == pytest.approx(1.0)
    # the reference divides by zero here; the registry scores it 0
    assert get_metric("probabilistic_f1").score(y, np.zeros(5)) == 0.0
    assert get_metric("probabilistic_f1").score(np.zeros(5), p) == 0.0


def test_kl_divergence_normalises_votes_and_matches_scipy(rng: np.random.Generator) -> None:
    from scipy.special import rel_entr

    votes = rng.integers(0, 6, (N, 4))
    votes[votes.sum(1) == 0, 0] = 1
    p = rng.random((N, 4))
    p /= p.sum(1, keepdims=True)
    target = votes / votes.sum(1, keepdims=True)
    want = rel_entr(target, p).sum(1).mean()
    assert get_metric("kl_divergence").score(votes, p) == pytest.approx(want)
    # a class index is a one-hot distribution: KL is then the log loss of the true class
    y = rng.integers(0, 4, N)
    assert get_metric("kl_divergence").score(y, p) == pytest.approx(skm.log_loss(y, p))
    assert get_metric("kl_divergence").score(votes, target) == pytest.approx(0.0, abs=1e-12)


def test_weighted_multilabel_logloss_weights_columns_and_positives(rng: np.random.Generator) -> None:
    y = rng.integers(0, 2, (N, 3))
    p = np.clip(rng.random((N, 3)), 0.01, 0.99)
    metric = get_metric("weighted_multilabel_logloss:neg=4,1,1:pos=8,2,2")
    cell = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    w = np.where(y == 1, [8, 2, 2], [4, 1, 1])
    assert metric.score(y, p) == pytest.approx(((cell * w).sum(1) / w.sum(1)).mean())
    # no weights: the mean binary log loss over every cell
    plain = get_metric("weighted_multilabel_logloss")
    assert plain.score(y, p) == pytest.approx(skm.log_loss(y.ravel(), p.ravel()))
    assert metric.name == "weighted_multilabel_logloss:neg=4,1,1:pos=8,2,2" and metric.lower_is_better


def _banded_auc_by_integration(
    y: np.ndarray, score: np.ndarray, bands: list[float], weights: list[float]
) -> float:
    """Weighted AUC as an integral over FPR of the ROC curve clipped into each TPR band."""
    fpr, tpr, _ = skm.roc_curve(y, score)
    grid = np.linspace(0, 1, 200_001)
    curve = np.interp(grid, fpr, tpr)  # vertical steps have no width, so interp is exact elsewhere
    total = sum(
        w * np.trapezoid(np.clip(curve - lo, 0, hi - lo), grid)
        for lo, hi, w in zip(bands[:-1], bands[1:], weights, strict=True)
    )
    return total / sum(w * (hi - lo) for lo, hi, w in zip(bands[:-1], bands[1:], weights, strict=True))


def test_weighted_roc_auc_hand_case_and_integral(rng: np.random.Generator) -> None:
    # ROC through (0, .5), (.5, .5), (.5, 1): band [0, .4] is full (area .4), band [.4, 1] has
    # .1 * .5 + .6 * .5 = .35; weights 2 and 1 over a total of 2 * .4 + .6
    y, s = np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])
    assert get_metric("weighted_roc_auc").score(y, s) == pytest.approx((2 * 0.4 + 0.35) / 1.4)
    assert skm.roc_auc_score(y, s) == pytest.approx(0.75)
    y = rng.integers(0, 2, N)
    s = rng.normal(size=N) + y
    want = _banded_auc_by_integration(y, s, [0.0, 0.4, 1.0], [2.0, 1.0])
    assert get_metric("weighted_roc_auc").score(y, s) == pytest.approx(want, abs=1e-6)
    other = get_metric("weighted_roc_auc:tpr=0,0.5,0.8,1:weights=3,2,1")
    want = _banded_auc_by_integration(y, s, [0.0, 0.5, 0.8, 1.0], [3.0, 2.0, 1.0])
    assert other.score(y, s) == pytest.approx(want, abs=1e-6)
    # one band of weight 1 is the plain AUC
    assert get_metric("weighted_roc_auc:tpr=0,1:weights=1").score(y, s) == pytest.approx(
        skm.roc_auc_score(y, s)
    )


def test_subgroup_bias_auc_follows_its_definition(rng: np.random.Generator) -> None:
    n = 1500
    toxicity = rng.random(n)
    identity = rng.random((n, 3)) * (rng.random((n, 3)) < 0.4)
    identity[rng.random((n, 3)) < 0.3] = np.nan
    pred = np.clip(toxicity + rng.normal(0, 0.3, n), 0, 1)
    frame = pd.DataFrame({"truth": toxicity >= 0.5, "pred": (pred >= 0.5).astype(int)})
    subs, bpsns, bnsps = [], [], []
    for j in range(3):
        member = pd.Series(identity[:, j] >= 0.5)
        t = frame["truth"]
        for out, rows in (
            (subs, member),
            (bpsns, (member & ~t) | (~member & t)),
            (bnsps, (member & t) | (~member & ~t)),
        ):
            out.append(skm.roc_auc_score(frame["truth"][rows], frame["pred"][rows]))
    means = [np.mean(np.power(v, -5.0)) ** (1 / -5.0) for v in (subs, bpsns, bnsps)]
    want = 0.25 * skm.roc_auc_score(frame["truth"], frame["pred"]) + 0.25 * sum(means)
    metric = get_metric("subgroup_bias_auc")
    assert metric.score(toxicity, pred, {"subgroups": identity}) == pytest.approx(want)
    assert metric.uses == ("subgroups",)
    with pytest.raises(ValueError, match="expected the per-row context subgroups"):
        metric.score(toxicity, pred)


def test_lwlrap_weights_every_true_label_equally(rng: np.random.Generator) -> None:
    y = (rng.random((N, 6)) < 0.25).astype(int)
    y[:3] = 0
    p = rng.random((N, 6))
    # per true label: precision of the ranked list down to that label; averaged over all true labels
    precisions = []
    for truth, scores in zip(y, p, strict=True):
        for j in np.flatnonzero(truth):
            above = scores >= scores[j]
            precisions.append(truth[above].sum() / above.sum())
    assert get_metric("lwlrap").score(y, p) == pytest.approx(np.mean(precisions))


def test_roc_auc_pools_cells_of_a_label_matrix_and_columnwise_skips_negative_rows(
    rng: np.random.Generator,
) -> None:
    y = rng.integers(0, 2, (N, 4))
    p = rng.random((N, 4)) + 0.3 * y
    assert get_metric("roc_auc").score(y, p) == pytest.approx(skm.roc_auc_score(y.ravel(), p.ravel()))
    marked = y.copy()
    marked[:40] = -1
    want = skm.roc_auc_score(y[40:], p[40:], average="macro")
    assert get_metric("mean_columnwise_roc_auc").score(marked, p) == pytest.approx(want)


def test_grouped_log_mae_averages_the_log_mae_of_each_group(rng: np.random.Generator) -> None:
    groups = rng.choice(["a", "b", "c"], N)
    y = rng.normal(0, 5, N)
    p = y + rng.normal(0, 1, N) * np.where(groups == "a", 3, 1)
    frame = pd.DataFrame({"g": groups, "err": np.abs(y - p)})
    want = np.log(frame.groupby("g")["err"].mean()).mean()
    metric = get_metric("grouped_log_mae")
    assert metric.score(y, p, {"group": groups}) == pytest.approx(want)
    assert metric.score(y, p) == pytest.approx(math.log(np.mean(np.abs(y - p))))  # one group
    assert metric.score(y, y) == pytest.approx(math.log(1e-9))  # the floor, never minus infinity


def test_mean_angular_error_is_the_angle_between_unit_vectors(rng: np.random.Generator) -> None:
    def unit(az: np.ndarray, zen: np.ndarray) -> np.ndarray:
        return np.column_stack([np.sin(zen) * np.cos(az), np.sin(zen) * np.sin(az), np.cos(zen)])

    a = np.column_stack([rng.random(N) * 2 * np.pi, rng.random(N) * np.pi])
    b = np.column_stack([rng.random(N) * 2 * np.pi, rng.random(N) * np.pi])
    want = np.mean([math.acos(np.clip(u @ v, -1, 1)) for u, v in zip(unit(*a.T), unit(*b.T), strict=True)])
    assert get_metric("mean_angular_error").score(a, b) == pytest.approx(want)
    x_axis, y_axis, pole = [0.0, math.pi / 2], [math.pi / 2, math.pi / 2], [1.0, 0.0]
    hand = get_metric("mean_angular_error").score(np.array([x_axis, x_axis]), np.array([y_axis, pole]))
    assert hand == pytest.approx(math.pi / 2)  # both at a right angle
    assert get_metric("mean_angular_error").score(a, a) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="expected two prediction columns"):
        get_metric("mean_angular_error").score(a, b[:, :1])


def test_haversine_p50_p95_per_group() -> None:
    # one degree of latitude is R * pi / 180 metres, whatever the longitude
    metre_per_degree = 6_371_000 * math.pi / 180
    truth = np.zeros((20, 2))
    pred = np.column_stack([np.arange(20) * 1e-5, np.zeros(20)])
    groups = np.array(["a"] * 10 + ["b"] * 10)
    dist = np.arange(20) * 1e-5 * metre_per_degree
    want = np.mean([np.mean(np.quantile(dist[groups == g], [0.5, 0.95])) for g in ("a", "b")])
    got = get_metric("haversine_p50_p95").score(truth, pred, {"group": groups})
    assert got == pytest.approx(want, rel=1e-6)
    assert get_metric("haversine_p50_p95").score(truth, pred) == pytest.approx(
        np.mean(np.quantile(dist, [0.5, 0.95])), rel=1e-6
    )


def test_laplace_log_likelihood_clips_sigma_and_error() -> None:
    y = np.array([2000.0, 2000.0, 2000.0])
    pred = np.array([[2100.0, 100.0], [5000.0, 200.0], [2000.0, np.nan]])
    sigma = np.array([100.0, 200.0, 70.0])  # a missing confidence is 0, floored at 70
    delta = np.array([100.0, 1000.0, 0.0])  # errors are capped at 1000
    want = np.mean(-math.sqrt(2) * delta / sigma - np.log(math.sqrt(2) * sigma))
    metric = get_metric("laplace_log_likelihood")
    assert metric.score(y, pred) == pytest.approx(want)
    assert not metric.lower_is_better
