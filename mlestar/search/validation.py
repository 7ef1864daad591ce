"""How much a validation score can be trusted: several splits combined, and an interval.

On small data one split scores mostly noise, and it scores each row with one model while the test
predictions average K fold models; both make the validation score drift from the test score. The
harness then runs a script once per split (see mlestar.splits) and averages its out-of-fold
predictions, so each row is scored by a small bag of models that never saw it, as test rows are.
Every score also gets a bootstrap interval over the validation rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from mlestar.folds import Predictions

Scorer = Callable[[np.ndarray, np.ndarray], float]
Resampled = Callable[[np.ndarray, np.ndarray, Iterable[np.ndarray]], "list[float] | None"]
LEVEL = 0.9
"""The interval's coverage: the 5th to the 95th percentile of the bootstrap scores."""


def combine(runs: Sequence[Predictions]) -> Predictions:
    """One attempt's predictions from its runs on several splits: the out-of-fold predictions
    averaged, the test predictions of the first split (the search's own, which the final fit and
    solution.py reproduce). Answers that are not numbers cannot be averaged: the first run stands."""
    first = runs[0]
    if len(runs) == 1 or not all(_numeric(r.oof) for r in runs):
        return first
    return Predictions(np.mean([r.oof for r in runs], axis=0), first.test)


def _numeric(a: np.ndarray) -> bool:
    return a.dtype.kind in "fiub"


RESAMPLES = 30
"""Enough for a standard deviation (not for tail percentiles); some metrics cost milliseconds a call."""
MAX_DRAWN = 200_000
"""Rows drawn per resample. Over this many rows each resample draws this many (an m-out-of-n
bootstrap) and the spread is scaled by sqrt(drawn / rows), as a score's spread shrinks with the
square root of the rows it is taken over: thirty draws of millions of rows cost seconds."""


def interval(
    score: Scorer,
    y: np.ndarray,
    pred: np.ndarray,
    seed: int,
    level: float = LEVEL,
    resampled: Resampled | None = None,
) -> tuple[float, float] | None:
    """A bootstrap interval of the score over the rows given: the rows resampled with replacement
    (seeded, so the same predictions always get the same interval), and the score's spread over the
    resamples around the score itself (a normal interval: steadier than percentiles of a few
    resamples). None when too few resamples can be scored (one class only, for a ranking metric).
    `resampled` scores all the resamples in one pass where the metric can (Metric.resample_scores):
    the same draws, the same scores."""
    n = len(y)
    if n < 2:
        return None
    drawn = min(n, MAX_DRAWN)
    rng = np.random.default_rng(seed)
    draws = (rng.integers(0, n, drawn) for _ in range(RESAMPLES))
    values: Sequence[float | None] | None = resampled(y, pred, draws) if resampled is not None else None
    if values is None:
        values = [_scored(score, y[rows], pred[rows]) for rows in draws]
    scores = [v for v in values if v is not None and np.isfinite(v)]
    if len(scores) < RESAMPLES // 2:
        return None
    centre = float(score(y, pred))
    half = float(_Z[level] * np.std(scores, ddof=1) * math.sqrt(drawn / n))
    return centre - half, centre + half


def _scored(score: Scorer, y: np.ndarray, pred: np.ndarray) -> float | None:
    try:
        return float(score(y, pred))
    except Exception:  # an interval is a courtesy: a resample the metric refuses is skipped
        return None


_Z = {0.8: 1.2816, 0.9: 1.6449, 0.95: 1.96}
"""Two-sided normal quantiles for the levels offered."""


def describe(score: float | None, meta: dict[str, object]) -> str:
    """A score with its interval and repeats, as status and progress show it."""
    if score is None:
        return "-"
    text = f"{score:.5f}"
    bounds = meta.get("interval")
    if isinstance(bounds, list | tuple) and len(bounds) == 2:
        text += f" [{bounds[0]:.4f}, {bounds[1]:.4f}]"
    repeats = meta.get("repeats")
    if isinstance(repeats, int) and repeats > 1:
        text += f" x{repeats} splits"
    return text
