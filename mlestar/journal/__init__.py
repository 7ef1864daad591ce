"""The journal: every attempt a node, every decision an event, appended to journal.jsonl as it happens.

The journal is the source of truth of a run. Resume, status, reports, MLflow and DVC read it.
Each line is one JSON record with a "kind":
  "node"   one attempt (a script run, or an ensemble computed by the harness): nodes.Node
  "event"  a decision or a boundary of the run: one of the classes in events.REGISTRY

    nodes.py    Node, and the Stage and Status of an attempt
    events.py   every event as a frozen dataclass, the Decision a `decision` event records
    store.py    Journal: appending (flushed and fsynced line by line), reading back, queries
"""

from mlestar.journal.nodes import (
    SAME_PREDICTIONS,
    SCRIPT_STAGES,
    SEED_OF,
    SOLUTION_STAGES,
    Node,
    Stage,
    Status,
)
from mlestar.journal.store import JOURNAL_FILE, Journal, drop_torn_tail

__all__ = [
    "JOURNAL_FILE",
    "SAME_PREDICTIONS",
    "SCRIPT_STAGES",
    "SEED_OF",
    "SOLUTION_STAGES",
    "Journal",
    "Node",
    "Stage",
    "Status",
    "drop_torn_tail",
]
