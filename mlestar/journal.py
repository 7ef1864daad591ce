"""The journal: every attempt a node, appended to journal.jsonl as it happens.

The journal is the source of truth of a run. Resume, status, reports, MLflow and DVC read it.
Each line is one JSON record with a "kind":
  "node"   one attempt (a script run, or an ensemble computed by the harness)
  "event"  a decision or a stage boundary (stage started, merge kept, block chosen, run finished)
Events the search writes (facts beside "name" and "time"):
  run_started      config (RunConfig as JSON), task (TaskSpec JSON), engineer, versions (package: version),
                   validation (how attempts are validated: one split, or several averaged, and why)
  inputs_hashed    files: {path relative to the task folder: sha256}, data: {file in data/: sha256}
  sandbox          each session: mode, level, guarantees, available (levels), warning (weaker than asked)
  stage_started    stage                      stage_finished   stage, best (node id or None)
  decision         what ("merge_kept", "merge_rejected", "block_chosen", "refinement_kept", ...), node, ...
  screening        split (how the screening split was made), results (the table, best first: name,
                   family, score, seconds, status, prior, chosen), drafts (candidates drafted, in order)
  settings_frozen  node, settings (what its search found, now its FROZEN literal), or problem
  final            node (the solution handed over), solution_kind ("script" or "ensemble"), score,
                   members (the scripts handed over), dropped (ensemble members with zero weight)
  final_member     member, refit (bool), reason (why its stored predictions stand in), exact
                   (whether its predictions are what solution.py computes), repeated (its refit
                   predicted what its search run did; None when not comparable), clock (findings
                   of checks.frozen: where it depends on the clock outside the explore guard)
  run_finished     status ("ok", or "fallback" when no script worked), best, score, submission,
                   solution, model (path of model/model.pkl relative to the run folder, or None),
                   threads (each final script's: thread counts can change a model's results),
                   stored_members (not refit), exact (every member exact: solution.py rebuilds
                   the submission), baseline (the documented baseline submitted, if any)
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
        nodes = list(self.nodes.values())  # a snapshot: attempts of a batch add nodes from their threads
        scored = [n for n in nodes if n.ok and (stages is None or n.stage in stages)]
        if not scored:
            return None
        # Ties go to a script before an ensemble, then to the smaller id: never to whichever
        # attempt of a parallel batch happened to finish first.
        sign = 1.0 if lower_is_better else -1.0
        return min(scored, key=lambda n: (sign * n.score, n.stage == "ensemble", n.id))  # type: ignore[operator]


def drop_torn_tail(path: Path) -> None:
    """Cut a last line that a kill (or a full disk) left unfinished: the next record must start a line
    of its own, not be glued to the fragment and lost with it. Only for the process that holds the
    run's lock (a reader must never cut a line that is still being written)."""
    with path.open("rb+") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return
        f.seek(max(0, size - 1))
        if f.read(1) == b"\n":
            return
        f.seek(max(0, size - (1 << 20)))
        tail = f.read()
        cut = tail.rfind(b"\n")
        f.truncate(size - len(tail) + cut + 1 if cut >= 0 else max(0, size - len(tail)))


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
