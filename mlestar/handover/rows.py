"""Which rows a handed-over member runs on in solution.py and in the export.

A member the final fit refit runs on every row: the hand-over's ./input/folds.npy is the run's
folds_full.npy. A member that kept its stored predictions (no time to refit it, or its refit
failed) computed them on the folds it was searched on, which on a large table leave most rows out
(-1). So that solution.py computes exactly what the submission holds, such a member runs there on
those folds: the hand-over's ./input carries them under a name of their own (the run's
data/folds.npy as folds_search.npy), and the driver links that file as the member's folds.npy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlestar.journal import Node
from mlestar.run_layout import RunLayout

SEARCH_FOLDS_FILE = "folds_search.npy"
"""The search's folds (data/folds.npy) in the hand-over's ./input."""
SCREEN_FOLDS_FILE = "folds_screen.npy"
"""The screening split (data/folds_screen.npy), for a member searched on it."""


def sources(layout: RunLayout) -> dict[str, Path]:
    """{name in the hand-over's ./input: file in the run folder} for every folds file a member may
    run on besides folds_full.npy."""
    return {SEARCH_FOLDS_FILE: layout.folds, SCREEN_FOLDS_FILE: layout.folds_screen}


def searched_on(node: Node) -> str:
    """The name, in the hand-over's ./input, of the folds the node's search run used."""
    return SCREEN_FOLDS_FILE if node.meta.get("split") == "screen" else SEARCH_FOLDS_FILE


def search_folds_for(layout: RunLayout, node: Node) -> str | None:
    """The folds file a member that keeps its stored predictions runs on in solution.py, or None
    when they are folds_full.npy anyway (the search used every row, in the final fit's folds)."""
    name = searched_on(node)
    searched = np.load(sources(layout)[name])
    return None if np.array_equal(searched, np.load(layout.folds_full)) else name


def rows_in(folds_file: Path) -> int:
    """Rows a folds file puts in a fold (the others are -1: not used)."""
    return int((np.load(folds_file) >= 0).sum())
