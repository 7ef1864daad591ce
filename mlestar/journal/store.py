"""Journal: the append-only journal.jsonl of a run, with the queries the search and readers need.

Lines are flushed and fsynced one by one, so a killed run loses at most the attempt in flight;
a torn last line (kill -9 mid-write) is ignored on reading.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any, TypeVar

from mlestar.journal.events import Event, event_class
from mlestar.journal.nodes import Node, Stage
from mlestar.metrics.score import Score

JOURNAL_FILE = "journal.jsonl"
E = TypeVar("E", bound=Event)
Listener = Callable[[str, dict[str, Any]], None]


class Journal:
    """Append-only log of a run. `nodes` by id and `events` (their JSON records) in file order."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / JOURNAL_FILE
        self.nodes: dict[str, Node] = {}
        self.events: list[dict[str, Any]] = []
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        if self.path.exists():
            for record in _read_records(self.path):
                self._absorb(record)

    def _absorb(self, record: dict[str, Any]) -> None:
        kind = record.pop("kind", None)
        if kind == "node":
            node = Node.from_json(record)
            self.nodes[node.id] = node
        elif kind == "event":
            self.events.append(record)

    def subscribe(self, listener: Listener) -> None:
        """Call listener(kind, record) after each record is safely written (progress and tracking
        follow the run this way). A listener must be quick and must not raise: the search waits."""
        self._listeners.append(listener)

    # -- writing ---------------------------------------------------------------------------------
    def add(self, node: Node) -> Node:
        self._append("node", asdict(node), node)
        return node

    def record(self, event: E) -> E:
        """Journal an event; it comes back with its time set."""
        stamped = replace(event, time=time.time())
        body = {"name": stamped.name, "time": stamped.time, **stamped.facts()}
        self._append("event", body, sync=stamped.durable)
        return stamped

    def event(self, name: str, **facts: Any) -> None:
        """Journal an event by its registered name with some of its facts, as given (for journals
        that tests and tools fabricate). The search writes whole events with record()."""
        known = {f.name for f in fields(event_class(name))}
        if set(facts) - known:
            raise ValueError(
                f"expected facts of {name!r} ({', '.join(sorted(known))}), found {sorted(facts)}"
            )
        self._append("event", {"name": name, "time": time.time(), **facts})

    def _append(self, kind: str, body: dict[str, Any], node: Node | None = None, sync: bool = True) -> None:
        line = json.dumps({"kind": kind, **body}, default=str) + "\n"
        with self._lock:  # attempts of a batch finish on several threads
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
                if sync:
                    os.fsync(f.fileno())
            if node is not None:
                self.nodes[node.id] = node
            else:
                self.events.append(body)
        for listener in self._listeners:
            listener(kind, body)

    # -- reading ---------------------------------------------------------------------------------
    def records(self) -> Iterator[dict[str, Any]]:
        """Every record in file order, with its "kind" (for replaying into a tracking store)."""
        return _read_records(self.path) if self.path.exists() else iter(())

    def get(self, node_id: str) -> Node | None:
        return self.nodes.get(node_id)

    def find(self, kind: type[E], **facts: Any) -> list[E]:
        """The events of one type, in order; with facts, only those whose facts are equal."""
        return [
            kind.from_record(e)
            for e in list(self.events)
            if e["name"] == kind.name and all(e.get(k) == v for k, v in facts.items())
        ]

    def find_any(self, *kinds: type[Event]) -> list[Event]:
        """The events of any of these types, in the order they happened."""
        by_name = {k.name: k for k in kinds}
        return [by_name[e["name"]].from_record(e) for e in list(self.events) if e["name"] in by_name]

    def has(self, kind: type[Event], **facts: Any) -> bool:
        return bool(self.find(kind, **facts))

    def first(self, kind: type[E]) -> E | None:
        found = self.find(kind)
        return found[0] if found else None

    def last(self, kind: type[E]) -> E | None:
        found = self.find(kind)
        return found[-1] if found else None

    def best(self, lower_is_better: bool, stages: tuple[Stage, ...] | None = None) -> Node | None:
        nodes = list(self.nodes.values())  # a snapshot: attempts of a batch add nodes from their threads
        scored = [n for n in nodes if n.ok and (stages is None or n.stage in stages)]
        if not scored:
            return None
        return min(scored, key=lambda n: best_key(n, lower_is_better))

    def best_solution(self, lower_is_better: bool) -> Node | None:
        """What the run would hand over now: its best solution script or ensemble, a seed variant
        never on its own (Node.seed_of)."""
        solutions = [n for n in list(self.nodes.values()) if n.is_solution]
        return min(solutions, key=lambda n: best_key(n, lower_is_better)) if solutions else None


def best_key(node: Node, lower_is_better: bool) -> tuple[float, bool, str]:
    """The order of Journal.best, smallest first. Ties go to a script before an ensemble, then to
    the smaller id: never to whichever attempt of a parallel batch happened to finish first."""
    return (Score(node.score, lower_is_better).key, node.stage == Stage.ENSEMBLE, node.id)


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
