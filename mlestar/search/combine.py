"""How stored predictions are combined: a mean, weights, a linear stacker. numpy and scikit-learn only.

search/ensemble.py scores these honestly over the folds. The hand-over combines the members' final
predictions with combine(), and an ensemble's solution.py ships this very file (as
solution_parts/combine.py), so the run and solution.py compute the submission with the same code.
It imports nothing from mlestar for that reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression, Ridge

EPS = 1e-6
KINDS = ("average", "greedy", "stacking")
NEWTON_MAX_COEFFICIENTS = 500
"""A logistic meta-model with at most this many coefficients ((features + 1) x classes) is fitted
by Newton's method (its Hessian 2 MB at most), a larger one by lbfgs."""


def normalise(p: np.ndarray, multiclass: bool) -> np.ndarray:
    """Class probabilities clipped away from zero and summing to one per row (multi-class only)."""
    if multiclass:
        p = np.clip(p, EPS, 1.0)
        return p / p.sum(axis=1, keepdims=True)
    return p


def mean(arrays: Sequence[np.ndarray]) -> np.ndarray:
    return np.mean(arrays, axis=0)


def weighted(arrays: Sequence[np.ndarray], weights: Sequence[float] | np.ndarray) -> np.ndarray:
    return blend(np.stack(arrays), weights)


def blend(stacked: np.ndarray, weights: Sequence[float] | np.ndarray) -> np.ndarray:
    """The weighted mean of arrays stacked along a first axis, one per member: what weighted()
    computes, for callers that blend the same arrays many times and stack them once."""
    w = np.asarray(weights, dtype=np.float64)
    return np.tensordot(w / w.sum(), stacked, axes=1)


def _meta_features(arrays: Sequence[np.ndarray], classification: bool, column: int | None) -> np.ndarray:
    x = np.hstack([a if column is None else a[:, [column]] for a in arrays])
    if classification:
        x = np.clip(x, EPS, 1 - EPS)
        x = np.log(x / (1 - x))
    return x


def _scaling(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The centre and spread of each meta-feature on the rows the meta-model fits on (a held-out
    fold's rows play no part). A column that does not vary keeps a spread of one."""
    centre, spread = x.mean(axis=0), x.std(axis=0)
    return centre, np.where(spread > 1e-9 * np.maximum(np.abs(centre), 1.0), spread, 1.0)


def _meta_model(x: np.ndarray, y: np.ndarray, classification: bool) -> LogisticRegression | Ridge:
    from sklearn.linear_model import LogisticRegression, Ridge  # here: a run starts without scikit-learn

    # One BLAS thread: the products are tiny, and BLAS threads woken for each of them spin against
    # the machine's other work (a 12-class stack of 7 members on 160 rows: 33 s with two, 0.8 s with one).
    # The inputs are standardised, so the penalty weighs every member alike and the solver converges.
    with threadpool_limits(limits=1):
        if classification:
            classes = len(np.unique(y))
            coefficients = (x.shape[1] + 1) * (classes if classes > 2 else 1)
            # Newton's method takes a few steps where lbfgs takes hundreds on members that agree
            # closely, but its Hessian grows with the square of the coefficients: lbfgs beyond that.
            solver = "newton-cholesky" if coefficients <= NEWTON_MAX_COEFFICIENTS else "lbfgs"
            return LogisticRegression(C=1.0, solver=solver, max_iter=300, tol=1e-4).fit(x, y)
        return Ridge(alpha=1.0).fit(x, y)


def _meta_predict(model: LogisticRegression | Ridge, x: np.ndarray, multiclass: bool) -> np.ndarray:
    if hasattr(model, "predict_proba"):  # a classifier
        proba = model.predict_proba(x)
        return proba if multiclass else proba[:, [1]]
    return model.predict(x).reshape(-1, 1)


def stack(
    oofs: Sequence[np.ndarray],
    tests: Sequence[np.ndarray],
    y: np.ndarray,
    fit_rows: np.ndarray,
    rows: np.ndarray,
    classification: bool,
    multiclass: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """A linear meta-model on the members' out-of-fold predictions (logits for classification),
    standardised and fitted on fit_rows: its predictions for `rows` and for the test set (both
    boolean masks over the training rows). One model per output column, except multi-class."""
    held, test = _stack(oofs, tests, y, fit_rows, rows, classification, multiclass)
    assert test is not None
    return held, test


def stack_rows(
    oofs: Sequence[np.ndarray],
    y: np.ndarray,
    fit_rows: np.ndarray,
    rows: np.ndarray,
    classification: bool,
    multiclass: bool,
) -> np.ndarray:
    """stack()'s predictions for `rows` alone: a held-out fold's, with no test set to predict (on a
    test set of millions of rows, that is most of the work)."""
    return _stack(oofs, None, y, fit_rows, rows, classification, multiclass)[0]


def _stack(
    oofs: Sequence[np.ndarray],
    tests: Sequence[np.ndarray] | None,
    y: np.ndarray,
    fit_rows: np.ndarray,
    rows: np.ndarray,
    classification: bool,
    multiclass: bool,
) -> tuple[np.ndarray, np.ndarray | None]:
    columns: list[int | None] = [None]
    if not multiclass and oofs[0].shape[1] > 1:
        columns = list(range(oofs[0].shape[1]))
    # Only the rows fitted on or predicted: a search on a subsample of a large task predicts out of
    # fold for a few of its rows, and its arrays span them all (the values are the same either way).
    needed = np.flatnonzero(np.asarray(fit_rows) | np.asarray(rows))
    oofs = [o[needed] for o in oofs]
    y, fit_rows, rows = y[needed], np.asarray(fit_rows)[needed], np.asarray(rows)[needed]
    oof_parts, test_parts = [], []
    for col in columns:
        x_oof = _meta_features(oofs, classification, col)
        target = y if col is None or y.ndim == 1 else y[:, col]
        centre, spread = _scaling(x_oof[fit_rows])
        model = _meta_model((x_oof[fit_rows] - centre) / spread, target[fit_rows], classification)
        oof_parts.append(_meta_predict(model, (x_oof[rows] - centre) / spread, multiclass))
        if tests is not None:
            x_test = _meta_features(tests, classification, col)
            test_parts.append(_meta_predict(model, (x_test - centre) / spread, multiclass))
    return np.hstack(oof_parts), np.hstack(test_parts) if tests is not None else None


def combine(
    kind: str,
    oofs: Sequence[np.ndarray],
    tests: Sequence[np.ndarray],
    y: np.ndarray,
    weights: Sequence[float],
    classification: bool,
    multiclass: bool,
) -> np.ndarray:
    """The ensemble's test predictions from its members' predictions: what the run submits.
    Stacking fits its meta-model on every row all members predicted out of fold."""
    if kind == "average":
        return normalise(mean(tests), multiclass)
    if kind == "greedy":
        return normalise(weighted(tests, weights), multiclass)
    if kind == "stacking":
        used = np.all([np.isfinite(o).all(axis=1) for o in oofs], axis=0)
        return normalise(stack(oofs, tests, y, used, used, classification, multiclass)[1], multiclass)
    raise ValueError(f"expected an ensemble kind among {KINDS}, found {kind!r}")
