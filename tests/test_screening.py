"""Screening, splits and intervals as pure functions: the choice, the splits, the combination."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlestar.engineers.base import Candidate, ScreenResult, screening_table
from mlestar.folds import Predictions
from mlestar.search import screening, validation
from mlestar.search.widen import seed_variant
from mlestar.splits import SplitRules, fitted_rows, make_splits
from mlestar.task.spec import ProblemType


def _r(name: str, family: str, score: float | None, prior: int, status: str = "ok") -> ScreenResult:
    return ScreenResult(name, family, score, 1.0, status, prior)


def test_the_best_of_each_family_is_drafted_first_then_the_next_best() -> None:
    results = [
        _r("lgbm", "boosting", 0.30, 0),
        _r("xgb", "boosting", 0.29, 1),
        _r("rf", "bagging", 0.35, 2),
        _r("logreg", "linear", 0.20, 3),
        _r("knn", "knn", 0.50, 4),
    ]
    # Lower is better: logistic leads although the prior put it fourth; one booster, not two.
    assert screening.choose(results, 3, lower_is_better=True) == ["logreg", "xgb", "rf"]
    # With more slots than families, the next best of any family fills them.
    assert screening.choose(results, 5, lower_is_better=True) == ["logreg", "xgb", "rf", "knn", "lgbm"]
    # Higher is better turns the ranking around.
    assert screening.choose(results, 2, lower_is_better=False) == ["knn", "rf"]


def test_a_family_clearly_worse_than_the_leader_gets_no_draft_for_diversity() -> None:
    """Intervals from the screening split: a family whose best does not reach the leader's interval
    is left for the next best of the leading families; overlapping ones still bring diversity."""

    def r(name: str, family: str, score: float, low: float, high: float, prior: int) -> ScreenResult:
        return ScreenResult(name, family, score, 1.0, "ok", prior, interval=(low, high))

    results = [
        r("nb_chars", "naive_bayes", 0.54, 0.52, 0.56, 0),
        r("nb_words", "naive_bayes", 0.55, 0.53, 0.57, 1),
        r("svm_chars", "linear_text", 0.555, 0.535, 0.575, 2),  # overlaps the leader: diverse and close
        r("logreg", "linear", 0.74, 0.72, 0.76, 3),  # clearly worse
        r("lda", "discriminant", 0.83, 0.81, 0.85, 4),  # clearly worse
    ]
    assert screening.choose(results, 3, lower_is_better=True) == ["nb_chars", "svm_chars", "nb_words"]
    assert screening.choose(results, 4, lower_is_better=True)[3] == "logreg"  # filled by rank at last
    # Higher is better: the same rule, mirrored.
    up = [
        r("a", "f1", 0.80, 0.79, 0.81, 0),
        r("b", "f1", 0.79, 0.78, 0.80, 1),
        r("c", "f2", 0.70, 0.69, 0.71, 2),
    ]
    assert screening.choose(up, 2, lower_is_better=False) == ["a", "b"]
    # Without intervals nothing is clearly worse: one per family first, as before.
    assert screening.choose(
        [_r("a", "f1", 0.8, 0), _r("b", "f1", 0.79, 1), _r("c", "f2", 0.7, 2)], 2, False
    ) == [
        "a",
        "c",
    ]


def test_ties_go_to_the_engineers_order_and_failures_fill_last() -> None:
    results = [
        _r("b", "f1", 0.4, 1),
        _r("a", "f2", 0.4, 0),
        _r("broken", "f3", None, 2, status="failed"),
        _r("slow", "f4", None, 3, status="timeout"),
    ]
    assert screening.choose(results, 2, lower_is_better=True) == ["a", "b"]
    assert screening.choose(results, 4, lower_is_better=True) == ["a", "b", "broken", "slow"]
    ranked = screening.ranked_results(results, lower_is_better=True)
    assert [r.name for r in ranked] == ["a", "b", "broken", "slow"]


def test_a_familys_second_candidate_waits_a_few_places() -> None:
    def cand(name: str, family: str) -> Candidate:
        return Candidate(name, "", "", family=family)

    tabular = [
        cand("lgbm", "boosting"),
        cand("catboost", "boosting"),
        cand("xgb", "boosting"),
        cand("rf", "bagging"),
        cand("linear", "linear"),
        cand("tfidf", "linear_text"),
    ]
    # A screening cut short after five scripts has seen trees, bagging, a linear model and text
    # models, not three boosters.
    assert screening.screening_order(tabular, gap=2) == [0, 1, 3, 4, 5, 2]
    text = [
        cand("nb_words", "naive_bayes"),
        cand("svm_chars", "linear_text"),
        cand("nb_chars", "naive_bayes"),
        cand("svm_words", "linear_text"),
        cand("lgbm", "boosting"),
        cand("rf", "bagging"),
        cand("linear", "linear"),
        cand("lda", "discriminant"),
    ]
    # Families the engineer ranks low do not crowd out a strong family's second candidate.
    assert screening.screening_order(text, gap=2)[:5] == [0, 1, 2, 4, 3]


def test_the_table_shows_every_candidate_its_score_time_and_the_choice() -> None:
    rows = [
        ScreenResult("logreg", "linear", 0.2, 1.5, "ok", 0, chosen=True),
        _r("slow", "boosting", None, 1, "timeout"),
    ]
    text = screening_table(rows, "300 rows in 2 folds")
    assert "300 rows in 2 folds" in text
    assert "logreg" in text and "0.20000" in text and "1.5s" in text and "<- drafted" in text
    assert "timeout" in text.splitlines()[-1] and "<- drafted" not in text.splitlines()[-1]
    assert screening.leaders(rows) == "logreg 0.2"


def _labels(n: int, classes: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, classes, n)


def test_large_tables_screen_on_a_two_fold_subsample_of_the_search_rows() -> None:
    y = _labels(9000, 2)
    s = make_splits(y, ProblemType.BINARY, 7, SplitRules(screen_rows=2000))
    used = s.screen >= 0
    assert used.sum() == pytest.approx(2000, abs=5)
    assert set(s.screen[used]) == {0, 1}
    assert (s.search[used] >= 0).all()  # screening rows are search rows
    assert s.repeats == ()  # 9000 rows, 4500 a class: one split is enough
    assert "one split" in s.reason


def test_small_tables_screen_on_the_search_folds_and_repeat_their_splits() -> None:
    y = _labels(400, 2)
    s = make_splits(y, ProblemType.BINARY, 7, SplitRules(screen_rows=2000, repeats=3))
    assert np.array_equal(s.screen, s.search)
    assert len(s.repeats) == 2 and "400 rows" in s.reason
    for other in s.repeats:
        assert np.array_equal(other >= 0, s.search >= 0)  # the same rows, split again
        assert not np.array_equal(other, s.search)
        for k in range(5):  # still stratified: each fold holds about a fifth of each class
            assert abs((y[other == k] == 1).mean() - (y == 1).mean()) < 0.08


def test_few_rows_per_class_repeat_even_when_the_table_is_not_small() -> None:
    y = _labels(5000, 200)  # 25 rows a class
    s = make_splits(y, ProblemType.MULTICLASS, 1, SplitRules(small_rows=3000, small_rows_per_class=40))
    assert len(s.repeats) == 2 and "rows per class" in s.reason
    s = make_splits(y, ProblemType.MULTICLASS, 1, SplitRules(repeats=1))
    assert s.repeats == ()


def test_splits_are_the_same_for_the_same_seed_and_keep_groups_whole() -> None:
    y = _labels(600, 2)
    groups = np.arange(600) // 4
    rules = SplitRules(screen_rows=200, repeats=3)
    a = make_splits(y, ProblemType.BINARY, 3, rules, groups)
    b = make_splits(y, ProblemType.BINARY, 3, rules, groups)
    for x, z in zip(
        [a.full, a.search, a.screen, *a.repeats], [b.full, b.search, b.screen, *b.repeats], strict=True
    ):
        assert np.array_equal(x, z)
    for folds in (a.screen, *a.repeats):
        for g in range(150):
            assert len(set(folds[groups == g])) == 1 or -1 in set(folds[groups == g])


def test_a_split_costs_the_rows_its_fold_models_are_fitted_on() -> None:
    y = _labels(9000, 2)
    s = make_splits(y, ProblemType.BINARY, 7, SplitRules(screen_rows=2000))
    assert fitted_rows(s.full) == 4 * 9000  # five models, each on four fifths
    assert fitted_rows(s.screen) == pytest.approx(2000, abs=5)  # two models, each on one half
    assert fitted_rows(np.array([-1, -1])) == 0


def test_repeated_runs_average_their_out_of_fold_predictions_and_keep_the_first_test() -> None:
    runs = [Predictions(np.full((4, 1), v), np.full((2, 1), v)) for v in (0.2, 0.4, 0.9)]
    combined = validation.combine(runs)
    assert np.allclose(combined.oof, 0.5) and np.allclose(combined.test, 0.2)
    text = [Predictions(np.array([["a"], ["b"]]), np.array([["c"]])) for _ in range(2)]
    assert validation.combine(text) is text[0]  # answers that are words cannot be averaged


def test_the_interval_holds_the_score_narrows_with_rows_and_is_seeded() -> None:
    def rmse(y: np.ndarray, p: np.ndarray) -> float:
        return float(np.sqrt(np.mean((y - p) ** 2)))

    rng = np.random.default_rng(0)
    widths = []
    for n in (50, 5000):
        y = rng.normal(size=n)
        p = y + rng.normal(size=n)
        lo, hi = validation.interval(rmse, y, p, seed=3)  # type: ignore[misc]
        assert lo < rmse(y, p) < hi
        assert validation.interval(rmse, y, p, seed=3) == (lo, hi)
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 4


def test_an_interval_the_metric_cannot_give_is_none() -> None:
    def refuses(y: np.ndarray, p: np.ndarray) -> float:
        raise ValueError("only one class present")

    assert validation.interval(refuses, np.zeros(10), np.zeros(10), seed=0) is None


def test_describe_shows_the_interval_and_the_splits() -> None:
    assert validation.describe(None, {}) == "-"
    assert (
        validation.describe(0.5, {"interval": [0.4, 0.6], "repeats": 3})
        == "0.50000 [0.4000, 0.6000] x3 splits"
    )


def test_a_seed_variant_changes_only_the_seed_line() -> None:
    script = 'import os\nSEED = int(os.environ.get("MLESTAR_SEED", "42"))\nX = 1\n'
    variant = seed_variant(script, 45)
    assert variant is not None and variant.splitlines()[1].startswith("SEED = 45")
    assert variant.splitlines()[0] == "import os" and variant.splitlines()[2] == "X = 1"
    assert seed_variant("RANDOM_SEED = 1\n", 3) is None


def test_a_run_from_before_screening_is_resumed_without_it(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from mlestar.journal import Journal

    old, new = Journal(tmp_path / "old"), Journal(tmp_path / "new")
    for journal, stages in ((old, ("draft", "merge", "screen")), (new, ("screen", "draft"))):
        journal.path.parent.mkdir(parents=True)
        for stage in stages:
            journal.event("stage_started", stage=stage)
    assert screening._began_unscreened(SimpleNamespace(journal=old))  # type: ignore[arg-type]
    assert not screening._began_unscreened(SimpleNamespace(journal=new))  # type: ignore[arg-type]
