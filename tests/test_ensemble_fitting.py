"""The ensembles' fits on stored predictions: the stacker's meta-model converges on members that
agree closely (its inputs standardised on the rows it fits on, nothing else), and greedy selection,
which skips the trial it has already scored, picks what scoring every trial picks."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

from mlestar.folds import Predictions
from mlestar.metrics.score import Score
from mlestar.search import combine, ensemble
from mlestar.search.combine import weighted
from mlestar.task.spec import ProblemType


def _close_members(
    classes: int, n_members: int, rows: int, seed: int = 0
) -> tuple[list[Predictions], np.ndarray, np.ndarray]:
    """Members that share most of their (confident) logits: their meta-features are nearly collinear."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, rows)
    shared = 4 * np.eye(classes)[y] + rng.normal(0, 2.0, (rows, classes))
    members = []
    for _ in range(n_members):
        z = shared + rng.normal(0, 0.3, (rows, classes))
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        members.append(Predictions(p, p[:50]))
    return members, y, np.arange(rows) % 5


@pytest.mark.parametrize(("classes", "n_members", "rows"), [(3, 8, 2000), (12, 8, 600)])
def test_the_stacker_converges_on_members_that_agree_closely(
    classes: int, n_members: int, rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 12 classes of 8 members: lbfgs on the raw logits stopped at 300 iterations before (and scored
    # 1.82 against 1.36 now); 3 classes: Newton's method, a few steps.
    steps: list[int] = []
    fit = LogisticRegression.fit

    def counted(self: LogisticRegression, x: np.ndarray, y: np.ndarray) -> LogisticRegression:
        model = fit(self, x, y)
        steps.append(int(np.max(model.n_iter_)))
        return model

    monkeypatch.setattr(LogisticRegression, "fit", counted)
    members, y, folds = _close_members(classes, n_members, rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        result = ensemble.stacking(
            members, y, folds, lambda t, p: log_loss(t, p, labels=range(classes)), ProblemType.MULTICLASS
        )
    assert len(steps) == 6  # five held-out folds and every row
    assert max(steps) < (20 if classes == 3 else 300)
    assert result.score < np.log(classes)  # better than the classes' shares


def test_the_stacker_scales_its_inputs_on_the_rows_it_fits_on_alone() -> None:
    members, y, folds = _close_members(3, 4, 400)
    oofs, tests = [m.oof for m in members], [m.test for m in members]
    fit_rows, rows = folds != 0, folds == 0
    _, test = combine.stack(oofs, tests, y, fit_rows, rows, classification=True, multiclass=True)
    moved = [o.copy() for o in oofs]
    for o in moved:  # the held-out fold's predictions, far from the rest
        o[rows] = np.where(np.arange(3) == 0, 0.98, 0.01)
    _, test_moved = combine.stack(moved, tests, y, fit_rows, rows, classification=True, multiclass=True)
    assert np.array_equal(test, test_moved)


def test_a_member_that_never_varies_leaves_the_stacker_finite() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=200)
    oofs = [(y + rng.normal(0, 0.5, 200))[:, None], np.full((200, 1), 3.0)]
    tests = [rng.normal(size=(20, 1)), np.full((20, 1), 3.0)]
    used = np.ones(200, dtype=bool)
    oof, test = combine.stack(oofs, tests, y, used, used, classification=False, multiclass=False)
    assert np.isfinite(oof).all() and np.isfinite(test).all()
    assert np.corrcoef(oof[:, 0], y)[0, 1] > 0.8


def _every_trial_scored(
    oofs: list[np.ndarray], y: np.ndarray, metric: Callable[[np.ndarray, np.ndarray], float], lower: bool
) -> np.ndarray:
    """Greedy selection as it was: every trial blended and scored."""
    counts = np.zeros(len(oofs))
    best: float | None = None
    for _ in range(25):
        scores = []
        for i in range(len(oofs)):
            trial = counts.copy()
            trial[i] += 1
            scores.append(metric(y, weighted(oofs, trial)))
        i = int(np.argmin(scores) if lower else np.argmax(scores))
        if best is not None and not Score(scores[i], lower).beats(best):
            break
        counts[i] += 1
        best = scores[i]
    return counts


def _auc(t: np.ndarray, p: np.ndarray) -> float:
    return float(roc_auc_score(t, p[:, 0]))


def _loss(t: np.ndarray, p: np.ndarray) -> float:
    return float(log_loss(t, p[:, 0]))


def _accuracy(t: np.ndarray, p: np.ndarray) -> float:  # ties between trials are common
    return float(accuracy_score(t, p[:, 0] > 0.5))


@pytest.mark.parametrize(("metric", "lower"), [(_auc, False), (_loss, True), (_accuracy, False)])
@pytest.mark.parametrize("seed", range(4))
def test_greedy_picks_what_scoring_every_trial_picks(
    metric: Callable[[np.ndarray, np.ndarray], float], lower: bool, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 300)
    oofs = []
    for m in range(6):  # one strong member first or later: the skipped trial is the lone member's
        noise = rng.normal(0, 0.4 + ((m + seed) % 6) * 0.3, (300, 1))
        oofs.append(1 / (1 + np.exp(-(2 * y[:, None] - 1 + noise))))
    calls = 0

    def counted(t: np.ndarray, p: np.ndarray) -> float:
        nonlocal calls
        calls += 1
        return metric(t, p)

    counts = ensemble.greedy_weights(oofs, y, counted, lower)
    assert np.array_equal(counts, _every_trial_scored(oofs, y, metric, lower))
    rounds = int(counts.sum()) + 1 if counts.sum() < 25 else 25
    assert calls == rounds * len(oofs) - 1  # the second round does not score the lone member again
