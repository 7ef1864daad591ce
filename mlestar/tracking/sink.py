"""The live tracker: follows the journal and sends each record to MLflow from a background thread.

The search must never wait for the store. The journal listener only appends the record to an
in-memory queue; one sender thread imports mlflow, connects and sends, retrying with backoff while
the store is down or failing (5xx), giving up on a record only when the store rejects it (4xx).
close() flushes until a deadline and reports what was not logged; `mlestar track` can re-send it.

Sending starts once the first script is in flight: importing mlflow and opening a store take
seconds of this interpreter's time, which reading the task and writing the first scripts need
more, and which a running script leaves to spare.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlestar.config import RunConfig
from mlestar.journal import Journal
from mlestar.journal.events import AttemptStarted
from mlestar.run_layout import RunLayout
from mlestar.tracking.backend import display_uri, is_transient, resolve_uri, short_error
from mlestar.tracking.final_model import prepare_model_logging
from mlestar.tracking.records import normalize, run_key
from mlestar.tracking.report import TrackingReport, Unlogged
from mlestar.tracking.scrub import Scrubber, secret_values
from mlestar.tracking.writer import StoreWriter

Item = tuple[str, dict[str, Any]]
_FINISH: Item = ("finish", {})


@dataclass(frozen=True)
class Backoff:
    first_s: float = 0.5
    factor: float = 2.0
    max_s: float = 30.0
    permanent_attempts: int = 2
    """Tries for a record the store rejects (a 4xx or a bug) before it is reported and skipped."""

    def delay(self, attempt: int) -> float:
        return float(min(self.max_s, self.first_s * self.factor ** max(0, attempt - 1)))


def _script_began(kind: str, record: dict[str, Any]) -> bool:
    return kind == "node" or (kind == "event" and record.get("name") == AttemptStarted.name)


def label(kind: str, record: dict[str, Any]) -> str:
    if kind == "node":
        return f"node {record.get('id')}"
    if kind == "event":
        return f"event {record.get('name')}"
    return "run summary (event log, final status)"


class MlflowTracker:
    """One mlestar run -> one parent MLflow run with one nested run per journal node.

    tracking_uri None keeps a store in the run folder (sqlite:///RUN_DIR/mlflow.db, artifacts in
    RUN_DIR/mlartifacts). secrets: values never to write anywhere; None reads the environment's
    key-looking variables once, here (the tracker is built at the CLI edge).
    """

    def __init__(
        self,
        tracking_uri: str | None,
        run_dir: Path,
        experiment: str,
        *,
        model_name: str | None = None,
        secrets: Iterable[str] | None = None,
        backoff: Backoff = Backoff(),
    ) -> None:
        self.run_dir = run_dir
        self.tracking_uri = resolve_uri(tracking_uri, run_dir)
        self.experiment = experiment
        self.model_name = model_name
        self.backoff = backoff
        self._scrub = Scrubber(secret_values(os.environ) if secrets is None else secrets)
        self._cond = threading.Condition()
        self._pending: deque[Item] = deque()
        self._current: Item | None = None
        self._failed: list[Unlogged] = []
        self._closing = False
        self._stopped = False
        self._deadline = float("inf")
        self._thread: threading.Thread | None = None
        self._writer: StoreWriter | None = None
        self._first_time: float | None = None
        self._last_error = ""
        self._failing = False
        """True while the store's latest answer was an error."""

    @classmethod
    def attach(cls, config: RunConfig, layout: RunLayout, journal: Journal) -> MlflowTracker:
        """The tracker of a run, following its journal: config.tracking_uri (None: the run
        folder's own store), experiment and registered model named after the task."""
        task = json.loads(layout.task.read_text()) if layout.task.is_file() else {}
        tracker = cls(config.tracking_uri, layout.root, str(task.get("name") or layout.root.name))
        tracker.follow(journal)
        return tracker

    # -- the search side: quick, never raises -------------------------------------------------
    def follow(self, journal: Journal) -> None:
        """Queue what the journal already holds (a resumed run), then follow it. Sending starts
        with the first script (or close())."""
        for record in journal.records():
            self.on_record(str(record.get("kind", "")), record)
        journal.subscribe(self.on_record)

    def on_record(self, kind: str, record: dict[str, Any]) -> None:
        """The journal listener: queue the record and return."""
        item = normalize(kind, record)
        if item is None:
            return
        with self._cond:
            if self._closing:
                return
            self._pending.append(item)
            self._cond.notify()
        if _script_began(kind, record):
            self.start()

    @property
    def store_down(self) -> bool:
        """True while the store's latest answer was an error (for a status line)."""
        return self._failing

    @property
    def sending(self) -> bool:
        """True once the sender thread has started."""
        return self._thread is not None

    def start(self) -> None:
        """Start sending now (idempotent)."""
        with self._cond:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="mlestar-mlflow", daemon=True)
            self._thread.start()  # under the lock: close() never joins a thread not yet started

    def close(self, timeout_s: float = 60.0, timeout_when_down_s: float = 5.0) -> TrackingReport:
        """Send what is queued until the deadline, then say what was not logged.

        When the store's last answer was a failure, the deadline shrinks to timeout_when_down_s:
        a dead store must not hold the end of the run for the full minute.
        """
        with self._cond:
            if not self._closing:
                self._closing = True
                if self._failing:
                    timeout_s = min(timeout_s, timeout_when_down_s)
                self._deadline = time.monotonic() + timeout_s
                self._pending.append(_FINISH)
                self._cond.notify()
        self.start()
        assert self._thread is not None
        self._thread.join(max(0.0, self._deadline - time.monotonic()))
        return self._report(still_running=self._thread.is_alive())

    # -- the sending thread ---------------------------------------------------------------------
    def _run(self) -> None:
        while (item := self._take()) is not None:
            try:
                self._handle(item)
            except Exception as exc:  # a bug here must not kill the thread silently
                self._fail(item, short_error(exc))
            with self._cond:
                self._current = None

    def _take(self) -> Item | None:
        with self._cond:
            while not self._pending and not self._stopped:
                self._cond.wait(0.5)
            if self._stopped or time.monotonic() >= self._deadline:
                return None
            self._current = self._pending.popleft()
            return self._current

    def _handle(self, item: Item) -> None:
        kind, record = item
        if item is _FINISH:
            if self._writer is not None:
                self._send(item, self._writer.finish)
            with self._cond:
                self._stopped = True
            return
        writer = self._writer or self._new_writer(kind, record)
        writer.absorb(kind, record)

        def send() -> None:
            writer.open(self._first_time, live=True)
            writer.send(kind, record)

        self._send(item, send)

    def _new_writer(self, kind: str, record: dict[str, Any]) -> StoreWriter:
        """The first record names the run (its stable key) and dates it."""
        self._first_time = record.get("time") if kind == "event" else record.get("started")
        self._writer = StoreWriter(
            None,
            self.tracking_uri,
            self.run_dir,
            self.experiment,
            run_key(kind, record),
            self._scrub,
            self.model_name,
        )
        prepare_model_logging()
        return self._writer

    def _send(self, item: Item, action: Callable[[], Any]) -> None:
        attempt = 0
        while True:
            try:
                action()
                self._failing = False
                return
            except Exception as exc:
                attempt += 1
                self._failing = True
                reason = self._last_error = short_error(exc)
                if not is_transient(exc) and attempt >= self.backoff.permanent_attempts:
                    self._fail(item, reason)
                    return
                if not self._pause(self.backoff.delay(attempt)):
                    self._fail(item, f"store unavailable until the deadline; last error: {reason}")
                    return

    def _pause(self, seconds: float) -> bool:
        """Wait before retrying (cut short when close() begins); False once the deadline has passed."""
        with self._cond:
            was_closing = self._closing
            end = min(time.monotonic() + seconds, self._deadline)
            while time.monotonic() < end and self._closing == was_closing:
                self._cond.wait(end - time.monotonic())
        return time.monotonic() < self._deadline

    def _fail(self, item: Item, reason: str) -> None:
        with self._cond:  # one place or the other in the report, never both
            self._failed.append(Unlogged(label(*item), reason))
            self._current = None

    def _report(self, still_running: bool) -> TrackingReport:
        with self._cond:
            self._stopped = True
            leftovers = [i for i in self._pending if i is not _FINISH]
            finish_pending = any(i is _FINISH for i in self._pending)
            self._pending.clear()
            current = self._current if still_running else None
            not_logged = list(self._failed) + (
                list(self._writer.problems) if self._writer is not None else []
            )
        why = f"; the store's last error: {self._last_error}" if self._last_error else ""
        if current is not None:
            not_logged.append(
                Unlogged(label(*current), f"in flight at the deadline (may be partly logged){why}")
            )
        not_logged += [Unlogged(label(*i), f"not sent before the deadline{why}") for i in leftovers]
        if finish_pending and self._writer is not None:
            not_logged.append(Unlogged(label(*_FINISH), f"not sent before the deadline{why}"))
        writer = self._writer
        model = writer.final_model if writer is not None else None
        return TrackingReport(
            tracking_uri=display_uri(self.tracking_uri),
            experiment=self.experiment,
            run_key=writer.key if writer is not None else None,
            parent_run_id=writer.parent_id if writer is not None else None,
            logged=tuple(writer.logged) if writer is not None else (),
            skipped=tuple(writer.skipped) if writer is not None else (),
            not_logged=tuple(not_logged),
            model_uri=model.uri if model is not None else None,
            run_dir=str(self.run_dir),
        )
