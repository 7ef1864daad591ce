"""Which working scripts count most: the stages pick bases and ensemble members by it, and the
attempt runner keeps time to refit the ones the hand-over is likely to take."""

from __future__ import annotations

from mlestar.journal import SCRIPT_STAGES, Journal, Node
from mlestar.metrics import Score, best_first

ENSEMBLE_MEMBERS = 8
"""The best distinct scripts an ensemble may draw on (widening adds drafts and seed variants)."""


def ranked(nodes: list[Node], lower_is_better: bool) -> list[Node]:
    """Best score first; equal scores by id."""
    return best_first(nodes, lambda n: Score(n.score, lower_is_better), lambda n: n.id)


def ensemble_members(journal: Journal, lower_is_better: bool) -> list[Node]:
    """The best distinct working solution scripts."""
    snapshot = list(journal.nodes.values())  # attempts of a batch add nodes from their threads
    nodes = [n for n in snapshot if n.ok and n.stage in SCRIPT_STAGES]
    ids = {n.id for n in nodes}
    distinct = [n for n in nodes if n.repeat_of not in ids]  # a repeat adds nothing
    return ranked(distinct, lower_is_better)[:ENSEMBLE_MEMBERS]
