"""Scores of text answers: one string per row (numpy unicode arrays of shape (n, 1) unless said).

Labels compare as whole strings; label lists and word sets split on whitespace. Empty cells are
the empty string.
"""

from __future__ import annotations

import numpy as np

from mlestar.metrics.base import Context, ScoreFn, one_column, skm
from mlestar.metrics.edit_distance import levenshtein
from mlestar.metrics.ranking import average_precision_at


def text_accuracy(y: np.ndarray, p: np.ndarray, ctx: Context) -> float:
    """Share of rows whose predicted string equals the answer exactly."""
    return float(np.mean(one_column(y, "accuracy") == one_column(p, "accuracy")))


def text_top1_error(y: np.ndarray, p: np.ndarray, ctx: Context) -> float:
    """Share of rows whose first predicted label (of a space-separated list) is not the answer."""
    first = [(cell.split() or [""])[0] for cell in one_column(p, "top1_error")]
    return float(np.mean(one_column(y, "top1_error") != np.array(first, dtype=str)))


def text_f1(average: str) -> ScoreFn:
    """F1 of whole-string labels (scikit-learn; labels are those of answers and predictions)."""

    def f1(y: np.ndarray, p: np.ndarray, ctx: Context) -> float:
        truth, pred = one_column(y, f"f1_{average}"), one_column(p, f"f1_{average}")
        return float(skm().f1_score(truth, pred, average=average, zero_division=0))

    return f1


def text_map_at(k: int) -> ScoreFn:
    """MAP@k of space-separated ranked labels against the set of labels in the answer. Rows whose
    answer is empty are left out (nothing can be found there)."""

    def map_at_k(y: np.ndarray, p: np.ndarray, ctx: Context) -> float:
        pairs = [
            (set(t.split()), q.split())
            for t, q in zip(one_column(y, "map"), one_column(p, "map"), strict=True)
        ]
        scored = [average_precision_at(actual, ranked, k) for actual, ranked in pairs if actual]
        return float(np.mean(scored)) if scored else 0.0

    return map_at_k


def word_jaccard(y: np.ndarray, p: np.ndarray, ctx: Context) -> float:
    """Mean over rows of |A & B| / |A | B| for the sets of lower-cased words; two empty texts score 0."""
    scores = []
    for truth, pred in zip(one_column(y, "word_jaccard"), one_column(p, "word_jaccard"), strict=True):
        a, b = set(truth.lower().split()), set(pred.lower().split())
        union = len(a | b)
        scores.append(len(a & b) / union if union else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def f1_micro_sets(y: np.ndarray, p: np.ndarray, ctx: Context) -> float:
    """Micro F1 over space-separated label sets. The label vocabulary is every label in the answers:
    a predicted label that no answer holds is ignored (neither a hit nor a false positive)."""
    truth = [set(cell.split()) for cell in one_column(y, "f1_micro_sets")]
    vocabulary = set().union(*truth) if truth else set()
    tp = fp = fn = 0
    for t, cell in zip(truth, one_column(p, "f1_micro_sets"), strict=True):
        pred = set(cell.split()) & vocabulary
        tp, fp, fn = tp + len(t & pred), fp + len(pred - t), fn + len(t - pred)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def f1_micro_indicators(y: np.ndarray, p: np.ndarray, ctx: Context) -> float:
    """f1_micro_sets on the harness's form of label lists: one 0/1 answer column per label and
    a probability per label, a label predicted at 0.5 or more (as the submission writes the
    lists). As with the sets, a label no answer holds is left out."""
    truth = np.asarray(y, dtype=float).reshape(len(y), -1) >= 0.5
    pred = np.asarray(p, dtype=float).reshape(len(p), -1) >= 0.5
    if truth.shape != pred.shape:
        raise ValueError(f"expected one probability per label ({truth.shape[1]}), found {pred.shape[1]}")
    held = truth.any(axis=0)
    truth, pred = truth[:, held], pred[:, held]
    tp, fp, fn = int((truth & pred).sum()), int((~truth & pred).sum()), int((truth & ~pred).sum())
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def answer_f1_micro(y: np.ndarray, p: np.ndarray, ctx: Context) -> float:
    """Micro F1 of answer cells, where a cell may be left blank.

    The answer cell lists the valid answers, space-separated ("start:end" token spans, YES or NO;
    empty when there is none). A prediction is one of them or blank. As the reference grader sets
    its 0/1 truth from the prediction itself, its micro F1 is the share of cells that are right: a
    non-blank prediction among the valid answers, or a blank where there is none.
    """
    right = []
    for valid_cell, pred_cell in zip(
        one_column(y, "answer_f1_micro"), one_column(p, "answer_f1_micro"), strict=True
    ):
        valid = {_answer(v) for v in valid_cell.split()}
        pred = _answer(pred_cell.strip()) if pred_cell.strip() else ""
        right.append(pred in valid if pred else not valid)
    return float(np.mean(right)) if right else 0.0


def _answer(cell: str) -> str:
    """An answer in one spelling: "start:end" with integer tokens, or YES / NO."""
    if cell in ("YES", "NO"):
        return cell
    parts = cell.split(":")
    if len(parts) == 2 and all(x.strip().lstrip("-").isdigit() for x in parts):
        return f"{int(parts[0])}:{int(parts[1])}"
    raise ValueError(f"expected an answer 'start:end', YES, NO or blank, found {cell!r}")


# ---------------------------------------------------------------- edit distances and orderings


def mean_levenshtein(y: np.ndarray, p: np.ndarray, ctx: Context) -> float:
    """Mean character edit distance between each answer and its prediction."""
    pairs = zip(one_column(y, "mean_levenshtein"), one_column(p, "mean_levenshtein"), strict=True)
    distances = [levenshtein(t, q) for t, q in pairs]
    return float(np.mean(distances)) if distances else 0.0


def levenshtein_rate(y: np.ndarray, p: np.ndarray, ctx: Context) -> float:
    """Sum over rows of the edit distance between token sequences (space-separated), divided by the
    number of tokens in all answers: an error rate that can exceed 1."""
    truth = [cell.split() for cell in one_column(y, "levenshtein_rate")]
    preds = [cell.split() for cell in one_column(p, "levenshtein_rate")]
    n_tokens = sum(len(t) for t in truth)
    if n_tokens == 0:
        raise ValueError("expected at least one token among the answers for levenshtein_rate, found none")
    return sum(levenshtein(t, q) for t, q in zip(truth, preds, strict=True)) / n_tokens


def kendall_tau(y: np.ndarray, p: np.ndarray, ctx: Context) -> float:
    """Kendall tau pooled over rows: 1 - 4 * (adjacent swaps turning each predicted order into the
    true one, summed) / (sum of n(n-1)). Each prediction must order exactly the answer's items."""
    swaps = worst = 0
    for truth, pred in zip(one_column(y, "kendall_tau"), one_column(p, "kendall_tau"), strict=True):
        items, order = truth.split(), pred.split()
        if sorted(items) != sorted(order):
            raise ValueError(
                f"expected a reordering of the {len(items)} items of the answer, found {len(order)} "
                f"items ({len(set(order) - set(items))} not in the answer)"
            )
        rank = {item: i for i, item in enumerate(items)}
        swaps += count_inversions([rank[item] for item in order])
        worst += len(items) * (len(items) - 1)
    if worst == 0:
        raise ValueError("expected an ordering of two or more items for kendall_tau, found none")
    return 1 - 4 * swaps / worst


def count_inversions(seq: list[int]) -> int:
    """Pairs i < j with seq[i] > seq[j] (merge sort, O(n log n))."""
    if len(seq) < 2:
        return 0
    mid = len(seq) // 2
    left, right = sorted(seq[:mid]), sorted(seq[mid:])
    inversions = count_inversions(seq[:mid]) + count_inversions(seq[mid:])
    j = 0
    for value in left:  # each left value is above every right value smaller than it
        while j < len(right) and right[j] < value:
            j += 1
        inversions += j
    return inversions
