"""Work a run does once its first script is in flight, not before it.

Every second between the start of `mlestar run` and its first script is a second no script runs.
Work the first script does not need (the monitoring schema of the task's tables) waits for the
journal to say a script started, then runs in a thread of its own beside the scripts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from mlestar.journal import Journal
from mlestar.journal.events import AttemptStarted


class AfterFirstScript:
    def __init__(self, journal: Journal, work: Callable[[], object], name: str) -> None:
        self._work = work
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._name = name
        self.error: Exception | None = None
        """What the work raised, if it failed (the caller decides whether that matters)."""
        journal.subscribe(self._on_record)

    @property
    def begun(self) -> bool:
        return self._thread is not None

    def begin(self) -> None:
        """Start the work now, if it has not started (idempotent, safe from any thread)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()

    def wait(self) -> Exception | None:
        """The work done (begun now if no script ever started); what it raised, if anything."""
        self.begin()
        assert self._thread is not None
        self._thread.join()
        return self.error

    def _run(self) -> None:
        try:
            self._work()
        except Exception as e:  # reported by wait(): a thread's exception would vanish
            self.error = e

    def _on_record(self, kind: str, record: dict[str, Any]) -> None:
        if kind == "event" and record.get("name") == AttemptStarted.name:
            self.begin()
