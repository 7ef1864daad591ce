"""Thread counts of the run's own arithmetic: the search's on one thread (the cores are the scripts'),
the hand-over's combination on the final fit's threads, as `python solution.py` is run."""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from mlestar import app
from mlestar.folds import Predictions
from mlestar.handover import final
from mlestar.task.spec import ProblemType

pytestmark = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: every pool has one thread")


def _pool_threads() -> set[int]:
    return {int(i["num_threads"]) for i in threadpool_info() if i["user_api"] in ("blas", "openmp")}


def test_the_search_s_own_arithmetic_runs_on_one_thread() -> None:
    with threadpool_limits(limits=2):
        assert _pool_threads() == {2}
        with app._one_thread():
            assert _pool_threads() == {1}
        assert _pool_threads() == {2}


def test_the_hand_over_combines_on_the_final_fit_s_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[set[int]] = []

    def combine(kind: str, oofs: Any, tests: Any, *rest: Any) -> np.ndarray:
        seen.append(_pool_threads())
        return np.mean(tests, axis=0)

    monkeypatch.setattr(final, "combine", combine)
    preds = {m: Predictions(np.zeros((4, 1)), np.full((2, 1), float(i))) for i, m in enumerate("ab")}
    finisher = final.Finisher.__new__(final.Finisher)
    finisher.h = SimpleNamespace(predictions=preds.__getitem__, y=np.zeros(4))  # type: ignore[assignment]
    finisher.spec = SimpleNamespace(problem_type=ProblemType.REGRESSION)  # type: ignore[assignment]
    finisher.threads = 1
    plan = SimpleNamespace(kind="stacking", members=("a", "b"), weights=(0.5, 0.5))
    fits = {m: SimpleNamespace(source_id=m) for m in "ab"}
    with threadpool_limits(limits=2):
        combined = finisher._combined(plan, fits)  # type: ignore[arg-type]
    assert seen == [{1}]
    assert combined.tolist() == [[0.5], [0.5]]
