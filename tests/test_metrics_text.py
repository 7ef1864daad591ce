"""Metrics over text answers (numpy unicode arrays): each against scikit-learn / scipy where one
applies, otherwise a plain re-computation and hand-worked cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm
from sklearn.preprocessing import MultiLabelBinarizer

from mlestar.metrics import get_metric
from mlestar.metrics.text import count_inversions, levenshtein

WORDS = ["the", "The", "cat", "sat", "on", "a", "mat", "dog", "ran", "far"]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(5)


def _sentences(rng: np.random.Generator, n: int, low: int = 0) -> np.ndarray:
    return np.array([" ".join(rng.choice(WORDS, rng.integers(low, 7))) for _ in range(n)])


def test_word_jaccard_by_hand_and_against_sklearn_sets(rng: np.random.Generator) -> None:
    metric = get_metric("word_jaccard")
    # {the, cat, sat} vs {the, cat}: 2 / 3; case is ignored and repeats count once
    assert metric.score(np.array(["The cat sat"]), np.array(["the CAT cat"])) == pytest.approx(2 / 3)
    assert metric.score(np.array(["", "a"]), np.array(["", "a"])) == pytest.approx(0.5)  # empty-empty is 0
    truth, pred = _sentences(rng, 200, low=1), _sentences(rng, 200)
    sets_t = [set(s.lower().split()) for s in truth]
    sets_p = [set(s.lower().split()) for s in pred]
    mlb = MultiLabelBinarizer(classes=sorted(set().union(*sets_t, *sets_p)))
    want = skm.jaccard_score(mlb.fit_transform(sets_t), mlb.transform(sets_p), average="samples")
    assert metric.score(truth, pred) == pytest.approx(want)
    assert get_metric("jaccard").name == "word_jaccard" and not metric.lower_is_better


def _dp_levenshtein(a: list[str] | str, b: list[str] | str) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, start=1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def test_bit_parallel_levenshtein_matches_the_dynamic_programme(rng: np.random.Generator) -> None:
    alphabet = list("ACGT=/()1")
    for _ in range(400):
        a = "".join(rng.choice(alphabet, rng.integers(0, 90)))
        b = "".join(rng.choice(alphabet, rng.integers(0, 90)))
        assert levenshtein(a, b) == _dp_levenshtein(a, b)
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("", "abc") == 3 and levenshtein("same", "same") == 0
    assert levenshtein(["10", "2", "3"], ["10", "3"]) == 1  # tokens, not characters


def test_mean_levenshtein_and_levenshtein_rate(rng: np.random.Generator) -> None:
    truth = np.array(["InChI=1S/H2O", "abc", ""])
    pred = np.array(["InChI=1S/H2O2", "", "xy"])
    assert get_metric("mean_levenshtein").score(truth, pred) == pytest.approx((1 + 3 + 2) / 3)
    # token sequences: 1 5 3 vs 1 3 (one deletion), 2 2 vs 2 4 2 (one insertion): 2 edits / 5 tokens
    rate = get_metric("levenshtein_rate").score(np.array(["1 5 3", "2 2"]), np.array(["1 3", "2 4 2"]))
    assert rate == pytest.approx(2 / 5)
    seqs = [" ".join(map(str, rng.integers(1, 21, rng.integers(1, 9)))) for _ in range(100)]
    guesses = [" ".join(map(str, rng.integers(1, 21, rng.integers(0, 9)))) for _ in range(100)]
    want = sum(_dp_levenshtein(t.split(), g.split()) for t, g in zip(seqs, guesses, strict=True)) / sum(
        len(t.split()) for t in seqs
    )
    assert get_metric("levenshtein_rate").score(np.array(seqs), np.array(guesses)) == pytest.approx(want)
    assert get_metric("levenshtein_rate").lower_is_better


def test_kendall_tau_is_scipys_tau_for_one_ordering_and_pools_swaps(rng: np.random.Generator) -> None:
    items = [f"c{i:02d}" for i in range(12)]
    order = list(rng.permutation(items))
    tau = stats.kendalltau(range(12), [items.index(x) for x in order]).statistic
    got = get_metric("kendall_tau").score(np.array([" ".join(items)]), np.array([" ".join(order)]))
    assert got == pytest.approx(tau)
    # pooled: swaps and worst cases are summed before dividing (1 swap of 3 + reversal of 2 items)
    truth, pred = np.array(["a b c", "x y"]), np.array(["b a c", "y x"])
    assert get_metric("kendall_tau").score(truth, pred) == pytest.approx(1 - 4 * (1 + 1) / (6 + 2))
    with pytest.raises(ValueError, match="expected a reordering of the 3 items"):
        get_metric("kendall_tau").score(np.array(["a b c"]), np.array(["a b d"]))


def test_count_inversions_against_every_pair(rng: np.random.Generator) -> None:
    for n in (0, 1, 2, 7, 40):
        seq = list(rng.permutation(n))
        brute = sum(a > b for a, b in itertools.combinations(seq, 2))
        assert count_inversions(seq) == brute


def test_f1_micro_sets_ignores_labels_no_answer_holds(rng: np.random.Generator) -> None:
    # tp: a, c; fp: b (row 1); fn: d, b (row 2); "zz" is in no answer and does not count
    truth, pred = np.array(["a d", "b c"]), np.array(["a b zz", "c"])
    assert get_metric("f1_micro_sets").score(truth, pred) == pytest.approx(2 * 2 / (2 * 2 + 1 + 2))
    tags = [f"t{i}" for i in range(9)]
    truth = [" ".join(rng.choice(tags, rng.integers(1, 4), replace=False)) for _ in range(150)]
    pred = [" ".join(rng.choice([*tags, "new"], rng.integers(0, 4), replace=False)) for _ in range(150)]
    mlb = MultiLabelBinarizer(classes=sorted({t for row in truth for t in row.split()}))
    y_true = mlb.fit_transform([row.split() for row in truth])
    y_pred = mlb.transform([[t for t in row.split() if t in mlb.classes_] for row in pred])
    want = skm.f1_score(y_true, y_pred, average="micro")
    assert get_metric("f1_micro_sets").score(np.array(truth), np.array(pred)) == pytest.approx(want)


def test_whole_string_label_metrics_match_sklearn(rng: np.random.Generator) -> None:
    labels = np.array(["Black-grass", "Common Chickweed", "Maize", "Shepherds Purse"])
    y, p = rng.choice(labels, 200), rng.choice(labels, 200)
    assert get_metric("accuracy").score(y, p) == pytest.approx(skm.accuracy_score(y, p))
    assert get_metric("f1_micro").score(y, p) == pytest.approx(skm.f1_score(y, p, average="micro"))
    assert get_metric("f1_macro").score(y, p) == pytest.approx(skm.f1_score(y, p, average="macro"))
    ranked = np.array(
        [f"{a} {b}" for a, b in zip(rng.choice(["1", "2"], 200), rng.choice(["3", "4"], 200), strict=True)]
    )
    truth = rng.choice(["1", "2", "3"], 200)
    want = np.mean([r.split()[0] != t for r, t in zip(ranked, truth, strict=True)])
    assert get_metric("top1_error").score(truth, ranked) == pytest.approx(want)


def test_text_map_at_k_agrees_with_the_numeric_form(rng: np.random.Generator) -> None:
    classes = np.array([f"w_{i}" for i in range(8)])
    y = rng.integers(0, 8, 200)
    scores = rng.random((200, 8)) + 0.4 * np.eye(8)[y]
    top5 = np.array([" ".join(classes[np.argsort(-s, kind="stable")[:5]]) for s in scores])
    text_score = get_metric("map_at_5").score(classes[y], top5)
    assert text_score == pytest.approx(get_metric("map_at_5").score(y, scores))
    # a repeated label counts once; a row whose answer is empty is left out
    hand = get_metric("map_at_3").score(np.array(["b", "", "a c"]), np.array(["b b a", "x", "c x a"]))
    assert hand == pytest.approx(np.mean([1.0, (1 / 1 + 2 / 3) / 2]))


def test_answer_f1_micro_credits_right_answers_and_right_blanks() -> None:
    valid = np.array(["12:40", "", "3:5 7:9 YES", "", "0:4"])
    pred = np.array(["12:40", "", "7:9", "1:2", ""])
    # right: exact span, blank where none, one of several, wrong: answer where none, blank where one
    y_true = [1, 0, 1, 0, 1]  # the reference's truth bits: from the prediction and the valid answers
    y_pred = [1, 0, 1, 1, 0]
    want = skm.f1_score(y_true, y_pred, average="micro")
    assert get_metric("answer_f1_micro").score(valid, pred) == pytest.approx(want) == pytest.approx(3 / 5)
    with pytest.raises(ValueError, match="expected an answer 'start:end', YES, NO or blank, found 'maybe'"):
        get_metric("answer_f1_micro").score(np.array(["1:2"]), np.array(["maybe"]))


def test_f1_micro_sets_scores_label_columns_as_it_scores_the_lists_they_write() -> None:
    """The harness holds label lists as one 0/1 column per label and predicts a probability per
    label; a label at 0.5 or more is written into the list. Both forms score alike."""
    labels = ["a", "b", "c", "d"]  # "d": no answer holds it, so it counts for nothing in either form
    truth = np.array([[1, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0]])
    proba = np.array([[0.9, 0.2, 0.6, 0.7], [0.1, 0.5, 0.8, 0.0], [0.4, 0.1, 0.3, 0.9]])

    def as_lists(rows: np.ndarray) -> np.ndarray:
        return np.array([" ".join(name for name, on in zip(labels, r, strict=True) if on) for r in rows])

    metric = get_metric("f1_micro_sets")
    assert metric.score(truth, proba) == pytest.approx(metric.score(as_lists(truth), as_lists(proba >= 0.5)))
    assert metric.score(truth, proba) == pytest.approx(2 * 2 / (2 * 2 + 2 + 2))
