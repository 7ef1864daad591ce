"""The harness's computed ensembles: each held-out fold's combination is fitted on the other folds,
and fitting the folds side by side gives what fitting them one after another gives."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss, roc_auc_score

from mlestar.folds import Predictions
from mlestar.search import ensemble
from mlestar.search.combine import weighted
from mlestar.task.spec import ProblemType


def _members(
    n_members: int = 4, rows: int = 300, seed: int = 0
) -> tuple[list[Predictions], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, rows)
    members = []
    for m in range(n_members):  # members of different quality: noisier the later
        noise = rng.normal(0, 0.5 + m, (rows, 1))
        oof = 1 / (1 + np.exp(-(2 * y[:, None] - 1 + noise)))
        members.append(Predictions(oof, rng.random((50, 1))))
    folds = np.arange(rows) % 5
    folds[:10] = -1  # rows this run leaves out
    return members, y, folds


def _cores(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    monkeypatch.setattr(ensemble, "usable_cores", lambda: n)


@pytest.mark.parametrize("kind", ["greedy", "stacking"])
def test_folds_fitted_side_by_side_give_what_one_after_another_gives(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    members, y, folds = _members()

    def run() -> ensemble.EnsembleResult:
        if kind == "greedy":
            return ensemble.greedy(members, y, folds, roc_auc_score, False, ProblemType.BINARY)
        return ensemble.stacking(members, y, folds, lambda t, p: log_loss(t, p[:, 0]), ProblemType.BINARY)

    _cores(monkeypatch, 1)
    alone = run()
    _cores(monkeypatch, 4)
    side_by_side = run()
    assert np.array_equal(alone.preds.oof, side_by_side.preds.oof, equal_nan=True)
    assert np.array_equal(alone.preds.test, side_by_side.preds.test)
    assert alone.score == side_by_side.score and alone.detail == side_by_side.detail


def test_each_held_out_fold_is_combined_by_weights_found_on_the_other_folds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _cores(monkeypatch, 4)
    members, y, folds = _members()
    result = ensemble.greedy(members, y, folds, roc_auc_score, False, ProblemType.BINARY)
    assert np.isnan(result.preds.oof[folds < 0]).all()
    for k in range(5):
        rows, fit = folds == k, (folds >= 0) & (folds != k)
        weights = ensemble.greedy_weights([m.oof[fit] for m in members], y[fit], roc_auc_score, False)
        assert np.allclose(result.preds.oof[rows], weighted([m.oof[rows] for m in members], weights))
    final = ensemble.greedy_weights([m.oof[folds >= 0] for m in members], y[folds >= 0], roc_auc_score, False)
    assert result.detail["weights"] == (final / final.sum()).tolist()
    assert final[0] == final.max()  # the least noisy member weighs most


@pytest.mark.parametrize("problem", [ProblemType.BINARY, ProblemType.REGRESSION])
def test_a_held_out_fold_s_stacking_predicts_no_test_set_and_the_same_rows(problem: ProblemType) -> None:
    """stack_rows is stack() without the test set's predictions (millions of rows on a large task):
    its rows' predictions are the same numbers."""
    from mlestar.search.combine import stack, stack_rows

    members, y, folds = _members()
    oofs, tests = [m.oof for m in members], [m.test for m in members]
    fit, rows = (folds >= 0) & (folds != 2), folds == 2
    flags = (problem.is_classification, False)
    target = y if problem is ProblemType.BINARY else y + 0.5
    held, test = stack(oofs, tests, target, fit, rows, *flags)
    assert test.shape == (50, 1)
    assert np.array_equal(stack_rows(oofs, target, fit, rows, *flags), held)
