"""Ensembles computed by the harness on stored predictions: no member is retrained.

Every method is scored honestly: whatever is fitted (weights, a meta-model) is fitted on the other
folds and evaluated on the held-out fold, so an ensemble cannot win by overfitting the validation
folds it is judged on. The final weights or meta-model are then fitted on all folds for the test set.
The arithmetic itself lives in combine.py, which solution.py ships.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from typing import TypeVar

import numpy as np

from mlestar.folds import Predictions
from mlestar.hardware import usable_cores
from mlestar.journal import Node
from mlestar.metrics.score import Score
from mlestar.search.combine import blend, mean, normalise, stack, stack_rows, weighted
from mlestar.search.harness import Attempt, Harness
from mlestar.task.spec import ProblemType

MetricFn = Callable[[np.ndarray, np.ndarray], float]
T = TypeVar("T")


@dataclass(frozen=True)
class EnsembleResult:
    preds: Predictions
    score: float
    """The honest score (nested over folds)."""
    detail: dict[str, object]
    """Weights, or the meta-model's kind, for the journal and the standalone solution."""


def import_ahead() -> None:
    """Import stacking's scikit-learn on a thread of its own, while scripts run: the ensemble stage
    runs when none does, and the import takes about a second a run would otherwise wait for."""
    threading.Thread(target=_import_meta_models, name="ensemble-import", daemon=True).start()


def _import_meta_models() -> None:
    import sklearn.linear_model  # noqa: F401


def _normalise(p: np.ndarray, problem: ProblemType) -> np.ndarray:
    return normalise(p, problem is ProblemType.MULTICLASS)


def each(tasks: Sequence[Callable[[], T]]) -> list[T]:
    """Independent fits (one per held-out fold, and the final one) side by side, their results in
    order. The ensemble stage comes after the last script, so the cores are free; numpy's and
    scikit-learn's loops release the GIL, and each keeps its one BLAS thread (app._one_thread)."""
    workers = min(len(tasks), usable_cores())
    if workers <= 1:
        return [task() for task in tasks]
    with ThreadPoolExecutor(workers, thread_name_prefix="ensemble") as pool:
        return list(pool.map(lambda task: task(), tasks))


def average(members: Sequence[Predictions], problem: ProblemType) -> Predictions:
    oof = mean([m.oof for m in members])
    test = mean([m.test for m in members])
    return Predictions(_normalise(oof, problem), _normalise(test, problem))


def greedy_weights(
    oofs: Sequence[np.ndarray], y: np.ndarray, metric: MetricFn, lower: bool, rounds: int = 25
) -> np.ndarray:
    """Caruana's forward selection with replacement: counts per member, starting from the best one.

    The members are stacked once for every trial blend (the same arithmetic as weighted()), and a
    trial whose blend is the current one (one more of the only member chosen so far) is not scored
    again: the picks are those of scoring every trial."""
    stacked = np.stack(oofs)
    counts = np.zeros(len(oofs))
    best_score: float | None = None
    for _ in range(rounds):
        trial_scores = []
        for i in range(len(oofs)):
            if best_score is not None and counts[i] == counts.sum():
                trial_scores.append(best_score)  # k+1 of member i alone blends as k of it did
                continue
            trial = counts.copy()
            trial[i] += 1
            trial_scores.append(metric(y, blend(stacked, trial)))
        i = int(np.argmin(trial_scores) if lower else np.argmax(trial_scores))
        if best_score is not None and not Score(trial_scores[i], lower).beats(best_score):
            break
        counts[i] += 1
        best_score = trial_scores[i]
    return counts


def greedy(
    members: Sequence[Predictions],
    y: np.ndarray,
    folds: np.ndarray,
    metric: MetricFn,
    lower: bool,
    problem: ProblemType,
) -> EnsembleResult:
    used = folds >= 0

    def weights_on(fit: np.ndarray) -> np.ndarray:
        return greedy_weights([m.oof[fit] for m in members], y[fit], metric, lower)

    ks = [int(k) for k in np.unique(folds[used])]
    *fold_weights, weights = each(
        [partial(weights_on, fit) for fit in [*(used & (folds != k) for k in ks), used]]
    )
    honest = np.full_like(members[0].oof, np.nan)
    for k, w in zip(ks, fold_weights, strict=True):
        honest[folds == k] = weighted([m.oof[folds == k] for m in members], w)
    oof = _normalise(honest, problem)
    test = _normalise(weighted([m.test for m in members], weights), problem)
    score = metric(y[used], oof[used])
    return EnsembleResult(Predictions(oof, test), score, {"weights": (weights / weights.sum()).tolist()})


def stacking(
    members: Sequence[Predictions],
    y: np.ndarray,
    folds: np.ndarray,
    metric: MetricFn,
    problem: ProblemType,
) -> EnsembleResult:
    used = folds >= 0
    oofs, tests = [m.oof for m in members], [m.test for m in members]
    flags = (problem.is_classification, problem is ProblemType.MULTICLASS)
    ks = [int(k) for k in np.unique(folds[used])]
    held_out = [partial(stack_rows, oofs, y, used & (folds != k), folds == k, *flags) for k in ks]

    def final_test() -> np.ndarray:  # the meta-model fitted on every fold, for the test set
        return stack(oofs, tests, y, used, used, *flags)[1]

    tasks: list[Callable[[], np.ndarray]] = [*held_out, final_test]
    *fold_parts, test = each(tasks)
    honest = np.full_like(members[0].oof, np.nan)
    for k, predicted in zip(ks, fold_parts, strict=True):
        honest[folds == k] = predicted
    oof = _normalise(honest, problem)
    test = _normalise(test, problem)
    return EnsembleResult(Predictions(oof, test), metric(y[used], oof[used]), {"meta_model": "linear"})


def computed(h: Harness, att: Attempt, kind: str, members: Sequence[Node]) -> Node:
    """An ensemble of the members' stored predictions ("average", "greedy" or "stacking"),
    journaled by the harness as the attempt's node; a method that fails is a failed node."""
    started = time.time()
    spec = h.spec
    preds = [h.predictions(n.id) for n in members]
    try:
        if kind == "average":
            p = average(preds, spec.problem_type)
            result = EnsembleResult(p, h.score(p.oof), {"weights": [1 / len(preds)] * len(preds)})
        elif kind == "greedy":
            result = greedy(preds, h.y, h.folds, h.metric.score, spec.lower_is_better, spec.problem_type)
        elif kind == "stacking":
            result = stacking(preds, h.y, h.folds, h.metric.score, spec.problem_type)
        else:
            return h.record_failure(att, f"unknown ensemble kind {kind!r}", started)
    except Exception as e:  # a numerical failure of one method must not end the run
        return h.record_failure(att, f"{type(e).__name__}: {e}", started)
    meta = {**dict(att.meta or {}), **result.detail}
    return h.record_computed(replace(att, meta=meta), result.preds, result.score, started)
