"""The run's folds are the ones scikit-learn's shuffled KFold, StratifiedKFold and GroupKFold make
with the same seed (mlestar computes them in numpy, so a run starts without importing scikit-learn)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import GroupKFold, KFold, StratifiedKFold

from mlestar.errors import TaskError
from mlestar.splits import make_folds
from mlestar.task.spec import ProblemType


def sklearn_folds(splits, n: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    folds = np.full(n, -1)
    for k, (_, valid) in enumerate(splits):
        folds[valid] = k
    return folds


@pytest.mark.parametrize("n", [5, 17, 100, 1001])
@pytest.mark.parametrize("seed", [0, 7, 2024])
@pytest.mark.parametrize("n_folds", [2, 5, 7])
def test_shuffled_folds_match_kfold(n: int, seed: int, n_folds: int) -> None:
    if n < n_folds:
        return
    want = sklearn_folds(KFold(n_folds, shuffle=True, random_state=seed).split(np.arange(n)), n)
    got = make_folds(np.zeros(n), ProblemType.REGRESSION, n_folds, seed)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", [0, 7, 2024])
@pytest.mark.parametrize("n_folds", [2, 5])
@pytest.mark.parametrize(
    "counts", [(50, 50), (90, 11), (7, 33, 5, 120), (13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13)]
)
def test_stratified_folds_match_stratified_kfold(seed: int, n_folds: int, counts: tuple[int, ...]) -> None:
    rng = np.random.default_rng(seed)
    # Labels in a shuffled order whose first appearances are not sorted: the class order matters.
    y = rng.permutation(np.repeat(np.arange(len(counts))[::-1] * 3, counts))
    want = sklearn_folds(StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(y, y), len(y))
    got = make_folds(y, ProblemType.MULTICLASS if len(counts) > 2 else ProblemType.BINARY, n_folds, seed)
    np.testing.assert_array_equal(got, want)


def test_a_class_with_fewer_rows_than_folds_is_not_stratified() -> None:
    y = np.array([0] * 30 + [1] * 3)
    want = sklearn_folds(KFold(5, shuffle=True, random_state=3).split(y), len(y))
    np.testing.assert_array_equal(make_folds(y, ProblemType.BINARY, 5, 3), want)


@pytest.mark.parametrize("seed", [0, 11])
@pytest.mark.parametrize(
    "groups",
    [
        np.arange(40) % 9,  # codes from 0: counted, not sorted
        np.arange(40) % 9 * 3 + 1,  # with gaps: counted too
        np.arange(40) % 9 - 4,  # below 0: sorted
        np.arange(40) % 9 * 1_000,  # far apart: sorted
        np.array(list("abcdefgh"))[np.arange(57) % 8],
    ],
)
def test_grouped_folds_match_group_kfold(seed: int, groups: np.ndarray) -> None:
    rng = np.random.default_rng(seed)
    groups = rng.permutation(groups)
    y = np.zeros(len(groups))
    splitter = GroupKFold(5, shuffle=True, random_state=seed)
    want = sklearn_folds(splitter.split(y, y, groups), len(y))
    got = make_folds(y, ProblemType.REGRESSION, 5, seed, groups)
    np.testing.assert_array_equal(got, want)
    for g in np.unique(groups):  # one fold per group
        assert len(set(got[groups == g])) == 1


def test_fewer_groups_than_folds_is_a_clear_error() -> None:
    with pytest.raises(TaskError, match="expected at least 5 groups to make 5 folds; found 3"):
        make_folds(np.zeros(9), ProblemType.REGRESSION, 5, 0, np.arange(9) % 3)
