"""The journal: every attempt a node, appended to journal.jsonl as it happens.

The journal is the source of truth of a run. Resume, status, reports, MLflow and DVC read it.
Each line is one JSON record with a "kind":
  "node"   one attempt (a script run, or an ensemble computed by the harness)
  "event"  a decision or a stage boundary (stage started, merge kept, block chosen, run finished)
Events the search writes (facts beside "name" and "time"):
  run_started      config (RunConfig as JSON), task (TaskSpec JSON), engineer, versions (package: version),
                   validation (how attempts are validated: one split, or several averaged, and why)
  inputs_hashed    files: {path relative to the task folder: sha256}, data: {file in data/: sha256}
  stage_started    stage                      stage_finished   stage, best (node id or None)
  decision         what ("merge_kept", "merge_rejected", "block_chosen", "refinement_kept", ...), node, ...
  screening        split (how the screening split was made), results (the table, best first: name,
                   family, score, seconds, status, prior, chosen), drafts (candidates drafted, in order)
  final            node (the solution handed over), solution_kind ("script" or "ensemble"), score
  run_finished     status ("ok", or "fallback" when no script worked), best, score, submission,
                   solution, model (path of model/model.pkl relative to the run folder, or None),
                   threads (cores the final fit used: thread counts can change a model's results)
  report_written   path (report.html, relative to the run folder; logged to MLflow as an artifact)
Lines are flushed and fsynced one by one, so a killed run loses at most the attempt in flight;
a torn last line (kill -9 mid-write) is ignored on reading.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

JOURNAL_FILE = "journal.jsonl"
SCRIPT_STAGES = ("draft", "merge", "check", "ablation", "refine", "widen")
"""Stages whose working attempts are whole solution scripts, scored on the run's folds (an ablation
variant included: when taking a part out scores better, that script is a better solution). The
"screen" stage's attempts are not among them: they ran on a cheaper split."""
SOLUTION_STAGES = (*SCRIPT_STAGES, "ensemble")
"""What the run may hand over: any of those scripts, or an ensemble of them."""


@dataclass(frozen=True)
class Node:
    """One attempt of the search."""

    id: str
    """Stable key of the attempt, derived from its place in the search (e.g. "draft-2")."""
    parent: str | None
    stage: str
    role: str
    plan: str
    code_path: str | None
    """The script, relative to the run folder."""
    status: str
    """"ok", "failed", "timeout", "rejected" (never ran) or "invalid" (ran, outputs unusable)."""
    score: float | None
    started: float
    ended: float
    result: dict[str, Any] | None = None
    """The runner's RunResult as JSON, when a script ran."""
    error: str | None = None
    """One line on why the attempt failed or was rejected."""
    usage: dict[str, Any] = field(default_factory=dict)
    """Tokens and cost spent by the engineer on this attempt, in total and by role."""
    meta: dict[str, Any] = field(default_factory=dict)
    """Stage-specific facts: model card, block name, ensemble members, debug round, and for an
    attempt whose script repeats an earlier one exactly, that attempt ("same_as"). Scored attempts
    carry "interval" ([low, high], a 90% bootstrap interval of the score over the validation rows);
    on small data "repeats" (splits run, their out-of-fold predictions averaged) and
    "repeat_scores" (each split's own score); screening attempts carry "split": "screen"."""

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.score is not None

    @property
    def duration_s(self) -> float:
        """How long the attempt's script takes: its own run, or for a repeat of an earlier
        identical script (meta "same_as"), that run's time, which is what running it again costs."""
        return float(self.meta.get("same_as_s", self.ended - self.started))


class Journal:
    """Append-only log of a run, with the queries the search needs."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / JOURNAL_FILE
        self.nodes: dict[str, Node] = {}
        self.events: list[dict[str, Any]] = []
        self._listeners: list[Callable[[str, dict[str, Any]], None]] = []
        if self.path.exists():
            for record in _read_records(self.path):
                self._absorb(record)

    def _absorb(self, record: dict[str, Any]) -> None:
        kind = record.pop("kind", None)
        if kind == "node":
            node = Node(**record)
            self.nodes[node.id] = node
        elif kind == "event":
            self.events.append(record)

    def subscribe(self, listener: Callable[[str, dict[str, Any]], None]) -> None:
        """Call listener(kind, record) after each record is safely written (tracking uses this).

        A listener must be quick and must not raise: the search waits for it.
        """
        self._listeners.append(listener)

    def _append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, default=str) + "\n"
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        kind = record["kind"]
        body = {k: v for k, v in record.items() if k != "kind"}
        for listener in self._listeners:
            listener(kind, body)

    def records(self) -> Iterator[dict[str, Any]]:
        """Every record in file order, with its "kind" (for replaying into a tracking store)."""
        return _read_records(self.path) if self.path.exists() else iter(())

    def add(self, node: Node) -> Node:
        self._append({"kind": "node", **asdict(node)})
        self.nodes[node.id] = node
        return node

    def event(self, name: str, **facts: Any) -> None:
        if "kind" in facts:
            raise ValueError("'kind' is reserved for the record type; name the fact differently")
        record = {"name": name, "time": time.time(), **facts}
        self._append({"kind": "event", **record})
        self.events.append(record)

    def get(self, node_id: str) -> Node | None:
        return self.nodes.get(node_id)

    def has_event(self, name: str, **facts: Any) -> bool:
        return any(e["name"] == name and all(e.get(k) == v for k, v in facts.items()) for e in self.events)

    def best(self, lower_is_better: bool, stages: tuple[str, ...] | None = None) -> Node | None:
        scored = [n for n in self.nodes.values() if n.ok and (stages is None or n.stage in stages)]
        if not scored:
            return None
        key = (lambda n: n.score) if lower_is_better else (lambda n: -n.score)  # type: ignore[operator]
        return min(scored, key=key)  # type: ignore[arg-type]


def _read_records(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn final line from a killed writer
