"""The Metric value and the conversions every metric shares (Score, in score.py, compares values)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType

import numpy as np

Context = Mapping[str, np.ndarray]
"""Per-row inputs a metric reads besides answers and predictions (see Metric.uses)."""

ScoreFn = Callable[[np.ndarray, np.ndarray, Context], float]
PlainFn = Callable[[np.ndarray, np.ndarray], float]
ResampledFn = Callable[[np.ndarray, np.ndarray, Iterable[np.ndarray]], "list[float] | None"]
"""(answers, 2-D predictions, the rows of each resample) -> the score of each resample, or None
when these inputs have no faster form than scoring each resample on its own."""

NEEDS = ("probability", "label", "value", "text")
MASK = "mask"
"""Context key every metric understands: a boolean per row, True where the row is scored."""


@dataclass(frozen=True)
class Metric:
    """One metric: its name, direction, what it reads from the predictions, and how to compute it.

    `fn` scores numeric arrays and `text_fn` string arrays (numpy unicode, shape (n, outputs)); a
    metric has at least one of them. `uses` names the context entries it needs (besides "mask").
    """

    name: str
    lower_is_better: bool
    needs: str
    """"probability" | "label" | "value" | "text": what the metric reads from the prediction array."""
    fn: ScoreFn | None = field(repr=False)
    title: str = ""
    text_fn: ScoreFn | None = field(default=None, repr=False)
    uses: tuple[str, ...] = ()
    resampled: ResampledFn | None = field(default=None, repr=False)
    """The scores of many resamples of the rows at once (the AUCs: one sort for all of them)."""

    def score(
        self,
        y_true: np.ndarray | list[object],
        pred: np.ndarray | list[object],
        context: Context | None = None,
    ) -> float:
        y, p, ctx = _scored_rows(np.asarray(y_true), np.asarray(pred), context or {})
        missing = [key for key in self.uses if key not in ctx]
        if missing:
            raise ValueError(
                f"expected the per-row context {', '.join(missing)} for the metric {self.name}, "
                f"found only {sorted(ctx) or 'none'}"
            )
        text_y, text_p = is_text(y), is_text(p)
        if text_y != text_p and (y.dtype.kind in "biuf" or p.dtype.kind in "biuf"):
            kind = "text" if text_y else "numeric"
            raise ValueError(
                f"expected {kind} predictions like the answers for {self.name}, found {_kind(p)}"
            )
        if text_y or text_p:
            if self.text_fn is None:
                raise ValueError(f"expected numbers for the metric {self.name}, found text")
            return float(self.text_fn(as_text(y), as_text(p), ctx))
        if self.fn is None:
            raise ValueError(f"expected text answers for the metric {self.name}, found numbers")
        return float(self.fn(y, as_2d(np.asarray(p, dtype=float)), ctx))

    def resample_scores(
        self, y_true: np.ndarray, pred: np.ndarray, draws: Iterable[np.ndarray]
    ) -> list[float] | None:
        """The score of each resample (the rows of each draw, with replacement) where the metric
        scores them in one pass; None, before any draw is read, where it does not."""
        y, p = np.asarray(y_true), np.asarray(pred)
        if self.resampled is None or self.uses or len(y) != len(p) or is_text(y) or is_text(p):
            return None
        return self.resampled(y, as_2d(np.asarray(p, dtype=float)), draws)

    @property
    def worst(self) -> float:
        """A value every real score beats (for 'no score yet')."""
        return math.inf if self.lower_is_better else -math.inf


def resample_means(
    per_row: np.ndarray, draws: Iterable[np.ndarray], finish: Callable[[np.ndarray], float] | None = None
) -> list[float]:
    """The scores of resamples of a metric that is a mean over rows: each resample's mean of the
    rows' values it drew (per column, for a 2-D array), through `finish` (e.g. a square root)."""
    done = finish or (lambda means: float(np.mean(means)))
    return [done(per_row[rows].mean(axis=0)) for rows in draws]


def plain(fn: PlainFn) -> ScoreFn:
    """A score function that reads no context."""

    def scored(y: np.ndarray, p: np.ndarray, ctx: Context) -> float:
        return fn(y, p)

    return scored


def skm() -> ModuleType:
    """scikit-learn's metrics, imported on first use: `mlestar inspect` should not pay for it."""
    from sklearn import metrics

    return metrics


# ---------------------------------------------------------------- rows and shapes


def _scored_rows(y: np.ndarray, p: np.ndarray, ctx: Context) -> tuple[np.ndarray, np.ndarray, Context]:
    """Answers, predictions and context restricted to the rows the "mask" context marks."""
    if len(y) != len(p):
        raise ValueError(f"expected one prediction per answer ({len(y)} rows), found {len(p)}")
    if MASK not in ctx:
        return y, p, ctx
    keep = np.asarray(ctx[MASK]).astype(bool).ravel()
    if len(keep) != len(y):
        raise ValueError(f"expected a mask of {len(y)} rows, found {len(keep)}")
    rest = {k: np.asarray(v)[keep] for k, v in ctx.items() if k != MASK}
    return y[keep], p[keep], rest


def as_2d(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1, 1) if a.ndim == 1 else a


def is_text(a: np.ndarray) -> bool:
    """Strings, or an object array holding any string (the harness stores text as unicode arrays)."""
    if a.dtype.kind in "US":
        return True
    return a.dtype.kind == "O" and any(isinstance(v, str) for v in a.ravel())


def as_text(a: np.ndarray) -> np.ndarray:
    """A 2-D unicode array; missing cells (None, NaN) become the empty string, as graders read them."""
    if a.dtype.kind == "U":
        return as_2d(a)
    cells = [_cell_text(v) for v in a.ravel()]
    return as_2d(np.array(cells, dtype=str).reshape(a.shape))


def _kind(a: np.ndarray) -> str:
    return "text" if is_text(a) else f"{a.dtype} values"


def _cell_text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)


def one_column(a: np.ndarray, metric: str) -> np.ndarray:
    """The single column of a text array (answers and predictions of one string per row)."""
    if a.shape[1] != 1:
        raise ValueError(f"expected one text column for {metric}, found {a.shape[1]}")
    return a[:, 0]


def one_hot(y_true: np.ndarray, k: int) -> np.ndarray:
    """A 0/1 matrix: y_true itself when it is one already, else class indices spread over k columns."""
    if y_true.ndim == 2:
        return y_true.astype(int)
    out = np.zeros((len(y_true), k), dtype=int)
    out[np.arange(len(y_true)), y_true.astype(int)] = 1
    return out


def labels(y_true: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Hard predictions comparable with y_true.

    binary: p >= 0.5; multi-class (a column per class): argmax; multi-label: p >= 0.5 per column;
    one column of numbers against non-binary answers: rounded into the range of the answers.
    """
    if y_true.ndim == 2:
        return (pred >= 0.5).astype(int)
    if pred.shape[1] > 1:
        return pred.argmax(axis=1)
    col = pred[:, 0]
    if np.isin(np.unique(y_true), (0, 1)).all():
        return (col >= 0.5).astype(int)
    return np.clip(np.rint(col), y_true.min(), y_true.max()).astype(int)


def positive_proba(pred: np.ndarray) -> np.ndarray:
    """Probability (or score) of class 1: the single column, or the last of two."""
    return pred[:, -1]


def values(y_true: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Regression arrays with matching shapes: (n,) for one target, (n, k) for k targets."""
    y = y_true.astype(float)
    if y.ndim == 1 or y.shape[1] == 1:
        return y.ravel(), pred[:, 0]
    return y, pred


def columns(y_true: np.ndarray, pred: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    y, p = values(y_true, pred)
    if y.ndim == 1:
        return [(y, p)]
    return [(y[:, j], p[:, j]) for j in range(y.shape[1])]
