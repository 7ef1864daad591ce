"""Models the search's attempts save, so the hand-over can reuse them instead of refitting.

An attempt that runs once on every row, in the final folds, computes what the hand-over's final
fit would: the harness runs it with MLESTAR_SAVE_MODEL=1 and marks its node (meta MODEL_SAVED).
Pickled models can be large (five folds of fully grown extra trees on a table of 8,000 rows: 200 MB;
a text model's vocabulary: tens of MB), so while the search goes on only the best few are kept,
within a total size; the hand-over then deletes all but the handed-over members'.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from mlestar import contract
from mlestar.journal import Node, Stage
from mlestar.metrics import Score, best_first
from mlestar.run_layout import RunLayout

MODEL_SAVED = "model_saved"
"""Node meta: the attempt ran once on every row and its output/model.pkl is the final model."""
KEEP_BEST = 8
"""Saved models kept during the search: as many as an ensemble draws on (search/ranking.py)."""
KEEP_BYTES = 2 * 1024**3
"""...and no more than this in total, the best model always kept: a member whose model was
deleted is refit at the hand-over, as before."""


def model_path(layout: RunLayout, node_id: str) -> Path:
    """Where an attempt's script saved its model (MLESTAR_SAVE_MODEL=1)."""
    return layout.attempt(node_id) / contract.OUTPUT_DIR / contract.MODEL_FILE


def saved_model(layout: RunLayout, node: Node) -> Path | None:
    """The node's saved final model, if the search kept it."""
    path = model_path(layout, node.id)
    return path if node.meta.get(MODEL_SAVED) and path.exists() else None


def link_model(layout: RunLayout, source_id: str, dest_id: str) -> bool:
    """Give a repeated attempt its twin's saved model (a hard link: no second copy on disk)."""
    source, dest = model_path(layout, source_id), model_path(layout, dest_id)
    if not source.exists():
        return False
    dest.unlink(missing_ok=True)
    try:
        os.link(source, dest)
    except OSError:
        shutil.copyfile(source, dest)
    return True


def keep_best(
    layout: RunLayout,
    nodes: Iterable[Node],
    score: Callable[[Node], Score],
    keep: int = KEEP_BEST,
    keep_bytes: int = KEEP_BYTES,
) -> None:
    """Delete the saved models of all but the best nodes that have one: at most `keep` of them,
    together at most `keep_bytes` (the best one whatever its size)."""
    saved = [n for n in nodes if n.ok and saved_model(layout, n) is not None]
    kept, total = 0, 0
    for node in best_first(saved, score, lambda n: n.id):
        path = model_path(layout, node.id)
        size = path.stat().st_size if path.exists() else 0
        if kept == 0 or (kept < keep and total + size <= keep_bytes):
            kept, total = kept + 1, total + size
        else:
            path.unlink(missing_ok=True)


def delete_unused(layout: RunLayout, nodes: Iterable[Node], used: Iterable[str]) -> None:
    """At the hand-over: delete every saved model but those handed over (the search's, and final
    fits done ahead of a script that was then beaten)."""
    kept = set(used)
    for node in nodes:
        if (node.meta.get(MODEL_SAVED) or node.stage == Stage.FINAL) and node.id not in kept:
            model_path(layout, node.id).unlink(missing_ok=True)
