"""Models the search's attempts save, so the hand-over can reuse them instead of refitting.

An attempt that runs once on every row, in the final folds, computes what the hand-over's final
fit would: the harness runs it with MLESTAR_SAVE_MODEL=1 and marks its node (meta MODEL_SAVED).
Pickled models can be large (a text model's vocabulary and fold models: tens of MB), so only the
best few saved models are kept while the search goes on; the hand-over deletes the rest.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from mlestar import contract
from mlestar.journal import Node
from mlestar.metrics import Score, best_first
from mlestar.run_layout import RunLayout

MODEL_SAVED = "model_saved"
"""Node meta: the attempt ran once on every row and its output/model.pkl is the final model."""
KEEP_BEST = 10
"""Saved models kept during the search: more than an ensemble draws on (8), so the hand-over
almost always finds its members' models."""


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


def keep_best(layout: RunLayout, nodes: Iterable[Node], score: Callable[[Node], Score], keep: int) -> None:
    """Delete the saved models of all but the `keep` best nodes that have one."""
    saved = [n for n in nodes if n.ok and saved_model(layout, n) is not None]
    for node in best_first(saved, score, lambda n: n.id)[keep:]:
        model_path(layout, node.id).unlink(missing_ok=True)


def delete_unused(layout: RunLayout, nodes: Iterable[Node], used: Iterable[str]) -> None:
    """At the hand-over: delete every saved model of the search but those handed over."""
    kept = set(used)
    for node in nodes:
        if node.meta.get(MODEL_SAVED) and node.id not in kept:
            model_path(layout, node.id).unlink(missing_ok=True)
