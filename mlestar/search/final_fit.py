"""A script's final fit: once, on every training row, in handover mode, its model saved.

The hand-over runs it (handover/final.py), and so may the search, ahead of the hand-over on a lane
it leaves idle (Search.final_fit_ahead): the same attempt under the same id, so the hand-over finds
one done ahead and does not run it again. One that failed, the hand-over tries once more.
"""

from __future__ import annotations

from mlestar.journal import Journal, Node
from mlestar.search import keys
from mlestar.search.budget import Budget
from mlestar.search.freeze import freeze_and_journal
from mlestar.search.harness import Harness


def run_final_fit(harness: Harness, budget: Budget, node: Node, threads: int, *, ahead: bool = False) -> Node:
    """The script frozen to the settings its search run chose, run on the search's threads (so its
    answers and the stored ones agree) in what the budget has left. A second try when a first
    failed (a fit ahead beside another script may run out of memory or time)."""
    freeze_and_journal(harness.layout, harness.journal, node)  # safe to repeat
    script = harness.script_of(harness.journal.nodes[node.id])
    timeout = max(10.0, budget.remaining() - 3.0)
    again = bool(final_fits(harness.journal, node.id))
    return harness.run(keys.final_fit(node, ahead, again), script, timeout, threads, final=True)


def final_fits(journal: Journal, node_id: str) -> list[Node]:
    """The script's final fits that ran: its first (ahead of the hand-over, or the hand-over's), then
    the hand-over's second try when the first failed."""
    ids = (keys.final_fit_id(node_id), keys.final_fit_id(node_id, again=True))
    return [fit for fit in map(journal.get, ids) if fit is not None]


def done_final_fit(journal: Journal, node_id: str) -> Node | None:
    """The script's final fit, when one ran and worked."""
    return next((fit for fit in final_fits(journal, node_id) if fit.ok), None)
