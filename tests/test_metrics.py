"""Every registered metric against scikit-learn / scipy on seeded random data, plus edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from mlestar.errors import ConfigError
from mlestar.metrics import METRICS, Score, best_first, get_metric

N = 200
K = 4


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def _binary(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(0, 2, N)
    p = np.clip(0.3 * y + 0.7 * rng.random(N), 0.01, 0.99)
    return y, p.reshape(-1, 1)


def _multiclass(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(0, K, N)
    p = rng.random((N, K)) + np.eye(K)[y]
    return y, p / p.sum(axis=1, keepdims=True)


def _regression(rng: np.random.Generator, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    y = rng.gamma(2.0, 1.5, (N, k))
    p = np.clip(y + rng.normal(0, 0.5, (N, k)), 0, None)
    return (y[:, 0], p) if k == 1 else (y, p)


def _multilabel(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(0, 2, (N, K))
    p = np.clip(0.4 * y + 0.6 * rng.random((N, K)), 0, 1)
    return y, p


def test_registry_has_every_canonical_name_with_its_direction() -> None:
    lower = {
        "log_loss", "multiclass_logloss", "rmse", "mse", "rmsle", "mae", "mean_rmsle", "top1_error",
        "kl_divergence", "grouped_log_mae", "mean_angular_error", "haversine_p50_p95", "mean_levenshtein",
        "levenshtein_rate",
    }  # fmt: skip
    names = {
        "accuracy", "balanced_accuracy", "roc_auc", "mean_columnwise_roc_auc", "log_loss",
        "multiclass_logloss", "rmse", "rmsle", "mae", "mean_rmsle", "r2", "f1", "f1_macro",
        "f1_micro", "pearson", "spearman", "qwk", "map_at_k",
    }  # fmt: skip
    assert names <= set(METRICS)
    for name, metric in METRICS.items():
        assert metric.name == name
        assert metric.lower_is_better == (name in lower), name
        assert metric.needs in ("probability", "label", "value", "text")


def test_binary_metrics_match_sklearn(rng: np.random.Generator) -> None:
    y, p = _binary(rng)
    labels = (p[:, 0] >= 0.5).astype(int)
    assert get_metric("accuracy").score(y, p) == pytest.approx(skm.accuracy_score(y, labels))
    assert get_metric("balanced_accuracy").score(y, p) == pytest.approx(
        skm.balanced_accuracy_score(y, labels)
    )
    assert get_metric("roc_auc").score(y, p) == pytest.approx(skm.roc_auc_score(y, p[:, 0]))
    assert get_metric("log_loss").score(y, p) == pytest.approx(skm.log_loss(y, p[:, 0]))
    assert get_metric("f1").score(y, p) == pytest.approx(skm.f1_score(y, labels))


def test_auc_by_ranks_matches_sklearn_with_ties_and_any_two_labels(rng: np.random.Generator) -> None:
    """The rank-sum AUC equals scikit-learn's to rounding: tied scores, labels other than 0/1 (the
    greater is the positive), tiny and lopsided columns."""
    from mlestar.metrics.ranking import auc_1d

    for _ in range(200):
        n = int(rng.integers(2, 400))
        y = np.where(rng.random(n) < rng.uniform(0.02, 0.98), 3, -1)
        if len(np.unique(y)) < 2:
            continue
        score = np.round(rng.random(n), int(rng.integers(0, 4)))  # 0 decimals: nearly all tied
        assert auc_1d(y, score) == pytest.approx(skm.roc_auc_score(y, score), abs=1e-12)
    with pytest.raises(ValueError):
        auc_1d(np.array([0, 1, 0]), np.array([0.1, np.nan, 0.3]))  # no AUC of a missing score


def test_positive_rank_sum_is_scipys_to_the_bit(rng: np.random.Generator) -> None:
    """The greedy ensemble compares AUCs of blends: the rank sum must be exactly rankdata's."""
    from scipy.stats import rankdata

    from mlestar.metrics.ranking import positive_rank_sum

    for n in (1, 2, 3, 50, 1000, 20_000):
        for decimals in (0, 1, 3, 12):
            score = np.round(rng.normal(size=n), decimals)
            positive = rng.random(n) < 0.3
            assert positive_rank_sum(score, positive) == rankdata(score)[positive].sum()


def test_multiclass_metrics_match_sklearn(rng: np.random.Generator) -> None:
    y, p = _multiclass(rng)
    labels = p.argmax(axis=1)
    assert get_metric("accuracy").score(y, p) == pytest.approx(skm.accuracy_score(y, labels))
    assert get_metric("multiclass_logloss").score(y, p) == pytest.approx(skm.log_loss(y, p, labels=range(K)))
    assert get_metric("f1_macro").score(y, p) == pytest.approx(skm.f1_score(y, labels, average="macro"))
    assert get_metric("f1_micro").score(y, p) == pytest.approx(skm.f1_score(y, labels, average="micro"))
    assert get_metric("balanced_accuracy").score(y, p) == pytest.approx(
        skm.balanced_accuracy_score(y, labels)
    )
    assert get_metric("qwk").score(y, p) == pytest.approx(
        skm.cohen_kappa_score(y, labels, weights="quadratic")
    )
    ovr = skm.roc_auc_score(y, p, multi_class="ovr", average="macro")
    assert get_metric("roc_auc").score(y, p) == pytest.approx(ovr)


def test_regression_metrics_match_sklearn_and_scipy(rng: np.random.Generator) -> None:
    y, p = _regression(rng)
    q = p[:, 0]
    assert get_metric("rmse").score(y, p) == pytest.approx(math.sqrt(skm.mean_squared_error(y, q)))
    assert get_metric("mse").score(y, p) == pytest.approx(skm.mean_squared_error(y, q))
    assert get_metric("mae").score(y, p) == pytest.approx(skm.mean_absolute_error(y, q))
    assert get_metric("rmsle").score(y, p) == pytest.approx(math.sqrt(skm.mean_squared_log_error(y, q)))
    assert get_metric("r2").score(y, p) == pytest.approx(skm.r2_score(y, q))
    assert get_metric("pearson").score(y, p) == pytest.approx(stats.pearsonr(y, q)[0])
    assert get_metric("spearman").score(y, p) == pytest.approx(stats.spearmanr(y, q)[0])


def test_multi_target_regression_is_the_mean_over_columns(rng: np.random.Generator) -> None:
    y, p = _regression(rng, k=3)
    per_col = [math.sqrt(skm.mean_squared_log_error(y[:, j], p[:, j])) for j in range(3)]
    assert get_metric("mean_rmsle").score(y, p) == pytest.approx(np.mean(per_col))
    rmse = skm.root_mean_squared_error(y, p, multioutput="uniform_average")
    assert get_metric("rmse").score(y, p) == pytest.approx(rmse)
    assert get_metric("r2").score(y, p) == pytest.approx(skm.r2_score(y, p))
    # mean_rmsle of one column is plain rmsle
    assert get_metric("mean_rmsle").score(y[:, 0], p[:, :1]) == pytest.approx(per_col[0])


def test_multilabel_metrics_match_sklearn(rng: np.random.Generator) -> None:
    y, p = _multilabel(rng)
    want = np.mean([skm.roc_auc_score(y[:, j], p[:, j]) for j in range(K)])
    assert get_metric("mean_columnwise_roc_auc").score(y, p) == pytest.approx(want)
    assert get_metric("mean_columnwise_roc_auc").score(y, p) == pytest.approx(
        skm.roc_auc_score(y, p, average="macro")
    )
    labels = (p >= 0.5).astype(int)
    assert get_metric("f1_macro").score(y, p) == pytest.approx(skm.f1_score(y, labels, average="macro"))
    assert get_metric("accuracy").score(y, p) == pytest.approx(skm.accuracy_score(y, labels))


def test_qwk_rounds_regression_coded_ordinal_targets(rng: np.random.Generator) -> None:
    y = rng.integers(0, 6, N)
    p = (y + rng.normal(0, 0.8, N)).reshape(-1, 1)
    rounded = np.clip(np.rint(p[:, 0]), 0, 5).astype(int)
    want = skm.cohen_kappa_score(y, rounded, weights="quadratic")
    assert get_metric("qwk").score(y, p) == pytest.approx(want)
    assert get_metric("qwk").score(y, y.reshape(-1, 1).astype(float)) == pytest.approx(1.0)


def _apk(actual: list[int], predicted: list[int], k: int) -> float:
    """The reference average precision at k (Kaggle's ml_metrics.apk)."""
    predicted = predicted[:k]
    score, hits = 0.0, 0.0
    for i, p in enumerate(predicted):
        if p in actual and p not in predicted[:i]:
            hits += 1.0
            score += hits / (i + 1.0)
    return score / min(len(actual), k) if actual else 0.0


@pytest.mark.parametrize("name,k", [("map_at_k", 3), ("map_at_5", 5), ("MAP@2", 2)])
def test_map_at_k_matches_the_reference(rng: np.random.Generator, name: str, k: int) -> None:
    n_classes = 8
    y = rng.integers(0, n_classes, N)
    scores = rng.random((N, n_classes)) + 0.5 * np.eye(n_classes)[y]
    ranked = np.argsort(-scores, axis=1, kind="stable")
    want = np.mean([_apk([int(t)], list(r), k) for t, r in zip(y, ranked, strict=True)])
    assert get_metric(name).score(y, scores) == pytest.approx(want)
    # multi-label relevance: 0/1 matrix of relevant classes
    truth = (rng.random((N, n_classes)) < 0.2).astype(int)
    want_ml = np.mean([_apk(list(np.flatnonzero(t)), list(r), k) for t, r in zip(truth, ranked, strict=True)])
    assert get_metric(name).score(truth, scores) == pytest.approx(want_ml)


def test_log_losses_stay_finite_on_hard_zero_and_one_predictions() -> None:
    y = np.array([0, 1, 1, 0])
    wrong = np.array([[1.0], [0.0], [0.0], [1.0]])
    loss = get_metric("log_loss").score(y, wrong)
    assert math.isfinite(loss)
    # clipped at the float64 machine epsilon, as scikit-learn (and so the graders) clip
    assert loss == pytest.approx(-math.log(np.finfo(np.float64).eps), rel=1e-9)
    assert loss == pytest.approx(skm.log_loss(y, wrong[:, 0]), rel=1e-9)
    multi = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    mloss = get_metric("multiclass_logloss").score(np.array([1, 2]), multi)
    assert math.isfinite(mloss) and mloss > 10


def test_multiclass_logloss_renormalises_rows() -> None:
    y = np.array([0, 1, 2])
    p = np.array([[2.0, 1.0, 1.0], [1.0, 3.0, 0.0], [0.2, 0.2, 0.6]])
    want = skm.log_loss(y, p / p.sum(axis=1, keepdims=True))
    assert get_metric("multiclass_logloss").score(y, p) == pytest.approx(want)
    # one column is the probability of class 1 (binary log loss)
    yb, pb = np.array([0, 1, 1]), np.array([0.2, 0.7, 0.9])
    assert get_metric("multiclass_logloss").score(yb, pb) == pytest.approx(skm.log_loss(yb, pb))


def test_constant_predictions_are_defined(rng: np.random.Generator) -> None:
    y, _ = _regression(rng)
    const = np.full((N, 1), 3.0)
    assert get_metric("pearson").score(y, const) == 0.0
    assert get_metric("spearman").score(y, const) == 0.0
    assert get_metric("pearson").score(np.ones(N), rng.random(N)) == 0.0
    yb, _ = _binary(rng)
    assert get_metric("roc_auc").score(yb, np.full(N, 0.3)) == pytest.approx(0.5)
    assert get_metric("roc_auc").score(np.ones(N), rng.random(N)) == 0.5  # one class only
    assert math.isfinite(get_metric("r2").score(y, const))


def test_rmsle_clips_predictions_below_zero_and_refuses_negative_truth() -> None:
    y = np.array([0.5, 1.0, 2.0])
    below = np.array([-3.0, -1.0, -0.5])
    got = get_metric("rmsle").score(y, below)
    assert math.isfinite(got)
    assert got == pytest.approx(get_metric("rmsle").score(y, np.zeros(3)))
    assert math.isfinite(get_metric("mean_rmsle").score(np.column_stack([y, y]), np.column_stack([below, y])))
    with pytest.raises(ValueError, match="non-negative"):
        get_metric("rmsle").score(np.array([-2.0, 1.0]), np.array([1.0, 1.0]))


def test_accepts_one_dimensional_predictions_and_lists() -> None:
    assert get_metric("accuracy").score([0, 1, 1], [0.2, 0.8, 0.4]) == pytest.approx(2 / 3)
    assert get_metric("rmse").score([1.0, 2.0], [1.0, 4.0]) == pytest.approx(math.sqrt(2.0))


def test_get_metric_aliases_and_unknown_names() -> None:
    assert get_metric("AUC").name == "roc_auc"
    assert get_metric("multi-logloss").name == "multiclass_logloss"
    assert get_metric("map_at_3").name == "map_at_k"
    assert get_metric("map@10").name == "map_at_10"
    with pytest.raises(ConfigError, match="expected a metric name.*accuracy.*found 'bogus'"):
        get_metric("bogus")


def test_a_score_knows_its_direction() -> None:
    assert Score(0.1, lower_is_better=True).beats(Score(0.2, lower_is_better=True))
    assert not Score(0.1, lower_is_better=False).beats(0.2)
    assert not Score(0.2, lower_is_better=False).beats(0.2)  # strictly better
    assert Score(0.0, lower_is_better=True).beats(None)
    assert Score(0.0, lower_is_better=False).beats(float("nan"))
    assert not Score(float("nan"), lower_is_better=False).beats(0.5)
    assert not Score(None, lower_is_better=True).beats(0.5)
    assert Score(1e9, lower_is_better=True).beats(get_metric("rmse").worst)
    assert Score(-1e9, lower_is_better=False).beats(get_metric("r2").worst)


@pytest.mark.parametrize("lower", [True, False])
def test_best_first_puts_missing_scores_last_and_breaks_ties_in_order(lower: bool) -> None:
    values = {"a": 0.5, "b": None, "c": 0.2, "d": 0.5, "e": float("nan")}
    ranked = best_first(values, lambda k: Score(values[k], lower), tie=lambda k: k)
    assert ranked == (["c", "a", "d", "b", "e"] if lower else ["a", "d", "c", "b", "e"])


# ---------------------------------------------------------------- registry, parameters, context


def test_every_name_in_the_docs_table_is_in_the_registry() -> None:
    from pathlib import Path

    text = (Path(__file__).parent.parent / "docs" / "metrics.md").read_text()
    competitions = text.split("| Competition |")[1].split("\n\n")[0]  # the first table
    rows = [line for line in competitions.splitlines() if line.startswith("| ") and "`" in line]
    named = {line.split("|")[3].split("`")[1] for line in rows}
    assert len(rows) >= 80 and len(named) >= 40
    for name in named:
        assert get_metric(name).name.split(":")[0] == name.split(":")[0], name
    for listed in {
        line.split("`")[1] for line in text.split("## Every metric")[1].splitlines() if line.startswith("| `")
    }:
        get_metric(listed.replace("<k>", "5"))


def test_families_take_parameters_and_spell_them_back() -> None:
    assert get_metric("mask_fbeta").name == "mask_fbeta"
    assert get_metric("mask_fbeta:beta=1").name == "mask_fbeta:beta=1"
    assert get_metric("box_map_voc:iou=0.5").name == "box_map_voc"  # the default is not spelled out
    assert get_metric("Weighted-ROC-AUC : tpr=0,0.4,1 : weights=2,1").name == "weighted_roc_auc"
    assert get_metric("subgroup_bias_auc:p=-3").name == "subgroup_bias_auc:p=-3"
    with pytest.raises(ConfigError, match="expected parameters beta for the metric mask_fbeta, found 'k'"):
        get_metric("mask_fbeta:k=2")
    with pytest.raises(ConfigError, match="expected numbers"):
        get_metric("mask_fbeta:beta=high")
    with pytest.raises(ConfigError, match="expected 2 weights for 3 TPR edges"):
        get_metric("weighted_roc_auc:weights=1")
    with pytest.raises(ConfigError, match="expected no parameters for the metric rmse"):
        get_metric("rmse:k=1")


def test_the_mask_context_scores_only_marked_rows(rng: np.random.Generator) -> None:
    y, p = _regression(rng)
    keep = rng.random(N) < 0.4
    assert get_metric("mae").score(y, p, {"mask": keep}) == pytest.approx(
        skm.mean_absolute_error(y[keep], p[keep, 0])
    )
    groups = rng.integers(0, 3, N)
    full = get_metric("grouped_log_mae").score(y[keep], p[keep], {"group": groups[keep]})
    assert get_metric("grouped_log_mae").score(y, p, {"group": groups, "mask": keep}) == pytest.approx(full)
    with pytest.raises(ValueError, match=f"expected a mask of {N} rows, found 3"):
        get_metric("mae").score(y, p, {"mask": np.ones(3, dtype=bool)})


def test_text_and_numbers_reach_the_right_function() -> None:
    texts = np.array([["a b"], ["c"]])
    assert get_metric("accuracy").score(texts, np.array([["a b"], ["d"]])) == pytest.approx(0.5)
    assert get_metric("accuracy").score([0, 1], [0.2, 0.9]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="expected numbers for the metric rmse, found text"):
        get_metric("rmse").score(texts, texts)
    with pytest.raises(ValueError, match="expected text answers for the metric word_jaccard, found numbers"):
        get_metric("word_jaccard").score([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(
        ValueError, match="expected text predictions like the answers for accuracy, found float64"
    ):
        get_metric("accuracy").score(texts, np.array([0.3, 0.9]))
    with pytest.raises(
        ValueError, match="expected numeric predictions like the answers for accuracy, found text"
    ):
        get_metric("accuracy").score([0, 1], texts)
    with pytest.raises(ValueError, match="expected one prediction per answer"):
        get_metric("rmse").score([1.0, 2.0], [1.0])
    # missing cells of object arrays read as empty strings, as graders read them
    objects = np.array([["x y"], [None]], dtype=object)
    assert get_metric("word_jaccard").score(objects, np.array([["x y"], [""]])) == pytest.approx(0.5)


NUMERIC_FORM_OF_TEXT = {"f1_micro_sets"}
"""Text metrics the harness also scores in numeric form (see metrics.text.f1_micro_indicators)."""


def test_every_metric_has_a_title_and_a_way_to_score() -> None:
    from mlestar.metrics import FAMILIES, names

    for name in names():
        metric = get_metric(name)
        assert metric.title and (metric.fn is not None or metric.text_fn is not None), name
        # Text metrics score text; label lists also have the harness's numeric form (0/1 columns).
        assert (metric.needs == "text") == (metric.fn is None or name in NUMERIC_FORM_OF_TEXT), name
    assert set(FAMILIES) <= set(names())


def test_accuracy_is_scikit_learns_accuracy_score_of_the_hard_labels() -> None:
    from sklearn.metrics import accuracy_score

    from mlestar.metrics.base import labels

    rng = np.random.default_rng(0)
    cases = [
        (rng.integers(0, 2, 500), rng.random((500, 1))),
        (rng.integers(0, 5, 500), rng.random((500, 5))),
        (rng.integers(0, 2, (500, 3)), rng.random((500, 3))),  # several labels: the whole row must be right
    ]
    for y, p in cases:
        assert get_metric("accuracy").score(y, p) == accuracy_score(y, labels(y, p))


def test_auc_labels_found_without_a_sort_are_the_sorted_ones() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(2)
    score = np.round(rng.random(400), 2)
    for y in (
        rng.integers(0, 2, 400),
        rng.integers(0, 2, 400) * 3 + 2,
        rng.integers(0, 2, 400).astype(float),
    ):
        assert get_metric("roc_auc").score(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert get_metric("roc_auc").score(np.ones(9, dtype=int), score[:9]) == 0.5
    truth = rng.integers(0, 2, (400, 3))
    truth[:, 1] = 1  # one class only: left out of the mean
    want = np.mean([roc_auc_score(truth[:, j], score) for j in (0, 2)])
    got = get_metric("mean_columnwise_roc_auc").score(truth, np.column_stack([score] * 3))
    assert got == pytest.approx(want, abs=1e-12)
