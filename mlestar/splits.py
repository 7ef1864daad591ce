"""Harness-owned splits: every fold assignment a run scores on, made once when its data is prepared.

A run folder's data/ holds:
  folds_full.npy       every training row in one of K folds (the final fit's folds)
  folds.npy            the search's folds: the same assignment on a fixed subsample of large tables
  folds_screen.npy     a cheap split for screening candidate models: small tables keep the search's
                       folds; larger ones a subsample of a few thousand rows in two folds
  folds_repeat<r>.npy  on small data only: the search's rows split again with another seed. The
                       harness runs each search attempt once per split and averages, because one
                       split of a few hundred rows (or a few rows per class) scores mostly noise.
Fold -1 always means "not used in this run", as the contract says.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlestar.config import SearchSettings
from mlestar.errors import TaskError
from mlestar.run_layout import RunLayout
from mlestar.task.spec import ProblemType

UNUSED = -1
_REPEAT_SEED_STEP = 1_000
"""Repeat r is split with seed + r * this, far from any seed a user would pick next."""


@dataclass(frozen=True)
class SplitRules:
    """How the splits are made. The defaults are the search settings' defaults."""

    n_folds: int = 5
    subsample_rows: int = 30_000
    screen_rows: int = 5_000
    screen_folds: int = 2
    repeats: int = 3
    """Splits a search attempt runs on when the data is small (1: never repeat)."""
    small_rows: int = 2_000
    small_rows_per_class: int = 40
    budget_s: float | None = None
    """The run's time budget: under REPEAT_MIN_BUDGET_S, breadth first (one split)."""


REPEAT_MIN_BUDGET_S = 240.0
"""Below this budget each attempt runs on one split: three splits would cost most of the search."""


def rules_for(settings: SearchSettings, budget_s: float | None = None) -> SplitRules:
    return SplitRules(
        settings.n_folds,
        settings.subsample_rows,
        settings.screen_rows,
        settings.screen_folds,
        settings.repeats,
        budget_s=budget_s,
    )


@dataclass(frozen=True)
class Splits:
    full: np.ndarray
    search: np.ndarray
    screen: np.ndarray
    repeats: tuple[np.ndarray, ...]
    """Extra splits of the search's rows (repeat 1, 2, ...); empty unless the data is small."""
    reason: str
    """Why the search repeats (or not), for the journal."""

    @property
    def subsampled(self) -> bool:
        return bool((self.search < 0).any())


def make_splits(
    y: np.ndarray,
    problem_type: ProblemType,
    seed: int,
    rules: SplitRules,
    groups: np.ndarray | None = None,
) -> Splits:
    strat = y if y.ndim == 1 and y.dtype.kind in "iub" else np.zeros(len(y))  # class labels only
    full = make_folds(strat, problem_type, rules.n_folds, seed, groups)
    search = subsample_folds(full, strat, rules.subsample_rows, seed)
    screen = screen_folds(search, rules.screen_rows, rules.screen_folds, seed)
    n_repeats, reason = repeats_for(strat, problem_type, search, rules)
    repeats = tuple(
        np.where(
            search >= 0,
            make_folds(strat, problem_type, rules.n_folds, seed + r * _REPEAT_SEED_STEP, groups),
            UNUSED,
        )
        for r in range(1, n_repeats)
    )
    return Splits(full, search, screen, repeats, reason)


def unused(n_rows: int) -> Splits:
    """No answers to learn from (or fewer rows than folds): every row is left out of every split."""
    none = np.full(n_rows, UNUSED, dtype=np.int64)
    return Splits(none, none.copy(), none.copy(), (), "no folds: no answers to learn from")


def repeats_for(
    strat: np.ndarray, problem_type: ProblemType, search: np.ndarray, rules: SplitRules
) -> tuple[int, str]:
    """How many splits each search attempt runs on, and why: several where one split is noise."""
    n = int((search >= 0).sum())
    if rules.repeats <= 1:
        return 1, "one split (repeats are off)"
    if rules.budget_s is not None and rules.budget_s < REPEAT_MIN_BUDGET_S:
        return 1, f"one split: a {rules.budget_s:.0f} s budget leaves no time for {rules.repeats} splits"
    if n <= rules.small_rows:
        return rules.repeats, f"{n} rows (at most {rules.small_rows}): {rules.repeats} splits averaged"
    if problem_type in (ProblemType.BINARY, ProblemType.MULTICLASS):
        per_class = n / max(1, len(np.unique(strat[search >= 0])))
        if per_class < rules.small_rows_per_class:
            return rules.repeats, (
                f"{per_class:.0f} rows per class (under {rules.small_rows_per_class}): "
                f"{rules.repeats} splits averaged"
            )
    return 1, f"{n} rows: one split"


def make_folds(
    y: np.ndarray,
    problem_type: ProblemType,
    n_folds: int,
    seed: int,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """A fold index per row: stratified for classification, grouped when groups are given.

    The assignments scikit-learn's GroupKFold, StratifiedKFold and KFold make with shuffle=True and
    this seed, computed in numpy: the run's process lays out its task without importing
    scikit-learn (over a second before the first script could start)."""
    rng = np.random.RandomState(seed)  # what scikit-learn's random_state=seed draws from
    if groups is not None:
        return _grouped_folds(np.asarray(groups), n_folds, rng)
    if problem_type in (ProblemType.BINARY, ProblemType.MULTICLASS) and _can_stratify(y, n_folds):
        return _stratified_folds(np.asarray(y), n_folds, rng)
    return _shuffled_folds(len(y), n_folds, rng)


def _shuffled_folds(n: int, n_folds: int, rng: np.random.RandomState) -> np.ndarray:
    order = np.arange(n)
    rng.shuffle(order)
    folds = np.empty(n, dtype=np.int64)
    folds[order] = np.repeat(np.arange(n_folds), _fold_sizes(n, n_folds))
    return folds


def _fold_sizes(n: int, n_folds: int) -> np.ndarray:
    sizes = np.full(n_folds, n // n_folds)
    sizes[: n % n_folds] += 1
    return sizes


def _stratified_folds(y: np.ndarray, n_folds: int, rng: np.random.RandomState) -> np.ndarray:
    """Each class dealt round-robin over the folds by count, then its rows' folds shuffled; classes
    taken in order of first appearance."""
    _, first, inverse = np.unique(y, return_index=True, return_inverse=True)
    encoded = np.argsort(np.argsort(first))[inverse.ravel()]
    in_order = np.sort(encoded)
    n_classes = len(first)
    allocation = np.array([np.bincount(in_order[k::n_folds], minlength=n_classes) for k in range(n_folds)])
    folds = np.empty(len(y), dtype=np.int64)
    for c in range(n_classes):
        of_class = np.arange(n_folds).repeat(allocation[:, c])
        rng.shuffle(of_class)
        folds[encoded == c] = of_class
    return folds


def _grouped_folds(groups: np.ndarray, n_folds: int, rng: np.random.RandomState) -> np.ndarray:
    """The distinct groups shuffled and cut into n_folds runs: each group in one fold."""
    distinct, at = _distinct(groups)
    if len(distinct) < n_folds:
        raise TaskError(f"expected at least {n_folds} groups to make {n_folds} folds; found {len(distinct)}")
    shuffled = rng.permutation(np.arange(len(distinct)))  # the permutation of `distinct` itself
    fold_of = np.empty(len(distinct), dtype=np.int64)
    for k, taken in enumerate(np.array_split(shuffled, n_folds)):
        fold_of[taken] = k
    return fold_of[at]


def _distinct(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct groups and each row's place among them. Group codes numbered from 0 (a
    picture per group of millions of pixel rows) are counted rather than sorted."""
    if groups.dtype.kind in "iu" and len(groups) and groups.min() >= 0 and groups.max() < 4 * len(groups):
        present = np.bincount(groups) > 0
        return np.flatnonzero(present), (np.cumsum(present) - 1)[groups]
    distinct, at = np.unique(groups, return_inverse=True)
    return distinct, at.ravel()


def _can_stratify(y: np.ndarray, n_folds: int) -> bool:
    _, counts = np.unique(y, return_counts=True)
    return bool(counts.min() >= n_folds)


def subsample_folds(folds: np.ndarray, y: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    """The search's folds: the same assignment on a fixed subsample, -1 elsewhere."""
    if int((folds >= 0).sum()) <= max_rows:
        return folds.copy()
    rng = np.random.default_rng(seed)
    keep = np.zeros(len(folds), dtype=bool)
    # Take the same share of every fold so the subsample stays balanced across folds.
    share = max_rows / int((folds >= 0).sum())
    for k in np.flatnonzero(np.bincount(folds[folds >= 0])):  # the folds used, counted (not sorted)
        rows = np.flatnonzero(folds == k)
        keep[rng.choice(rows, size=max(1, int(round(len(rows) * share))), replace=False)] = True
    return np.where(keep, folds, UNUSED)


def screen_folds(search: np.ndarray, max_rows: int, n_folds: int, seed: int) -> np.ndarray:
    """The screening split. Small tables keep the search's folds (cheap anyway, and a two-way split
    of a few rows per class would rank models by how they cope with half the data). Larger ones
    merge the search's folds into `n_folds` (groups and strata stay whole) on a subsample."""
    if int((search >= 0).sum()) <= max_rows:
        return search.copy()
    merged = np.where(search >= 0, search % n_folds, UNUSED)
    return subsample_folds(merged, merged, max_rows, seed + 1)


def fitted_rows(folds: np.ndarray) -> int:
    """Rows the fold models of a split are fitted on, summed over its folds: a script's cost."""
    used = folds[folds >= 0]
    return sum(int((used != k).sum()) for k in np.unique(used))


def save_splits(splits: Splits, layout: RunLayout) -> None:
    np.save(layout.folds_full, splits.full)
    np.save(layout.folds, splits.search)
    np.save(layout.folds_screen, splits.screen)
    for r, folds in enumerate(splits.repeats, start=1):
        np.save(layout.folds_repeat(r), folds)


def load_repeats(layout: RunLayout) -> list[np.ndarray]:
    """The extra splits a run repeats its search attempts on (none for runs made before them)."""
    found: list[np.ndarray] = []
    while layout.folds_repeat(len(found) + 1).exists():
        found.append(np.load(layout.folds_repeat(len(found) + 1)))
    return found
