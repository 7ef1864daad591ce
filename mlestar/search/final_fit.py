"""A script's final fit: once, on every training row, in handover mode, its model saved.

The hand-over runs it (handover/final.py), and so may the search, ahead of the hand-over on a lane
it leaves idle (Search.final_fit_ahead): the same attempt under the same id, so the hand-over finds
one done ahead and does not run it again.
"""

from __future__ import annotations

from mlestar.journal import Journal, Node
from mlestar.search import keys
from mlestar.search.budget import Budget
from mlestar.search.freeze import freeze_and_journal
from mlestar.search.harness import Harness


def run_final_fit(harness: Harness, budget: Budget, node: Node, threads: int, *, ahead: bool = False) -> Node:
    """The script frozen to the settings its search run chose, run on the search's threads (so its
    answers and the stored ones agree) in what the budget has left."""
    freeze_and_journal(harness.layout, harness.journal, node)  # safe to repeat
    script = harness.script_of(harness.journal.nodes[node.id])
    timeout = max(10.0, budget.remaining() - 3.0)
    return harness.run(keys.final_fit(node, ahead), script, timeout, threads, final=True)


def done_final_fit(journal: Journal, node_id: str) -> Node | None:
    """The script's final fit, when it ran and worked."""
    fit = journal.get(keys.final_fit_id(node_id))
    return fit if fit is not None and fit.ok else None
