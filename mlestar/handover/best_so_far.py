"""submission.csv kept at the search's best so far, written beside the scripts while the search runs.

Each time an attempt becomes the run's best, its stored test predictions are written as the
submission on a thread of this writer's own once the next script has started (the harness's judging
and the engineer's next script between two scripts are not slowed by it); when the best's final fit
is done ahead of the hand-over, on a lane the search left idle, its answers are written at once. A
run stopped during the search (killed, out of memory, the machine gone) still leaves a valid file of
its best answer, and the hand-over finds the file written when the best did not change since (on a
test set of millions of rows a write takes seconds that would otherwise come after the last
script). A best that comes while a write is under way is written next; bests in between are
skipped, only the newest counts. One still waiting when the search ends is left to the hand-over.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from mlestar.journal import Journal, Node, Stage
from mlestar.journal.events import AttemptStarted
from mlestar.journal.nodes import SOLUTION_STAGES


class BestSoFar:
    def __init__(self, journal: Journal, lower_is_better: bool, write: Callable[[Node], None]) -> None:
        """`write(node)` writes the node's answers as the submission (its final fit's once done);
        it runs on this writer's thread, one write at a time."""
        self._journal = journal
        self._lower_is_better = lower_is_better
        self._write = write
        self._wanted: Node | None = None
        """The best waiting to be written."""
        self._chosen: str | None = None
        """The last best given to the writer (waiting, being written or written)."""
        self._closed = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        journal.subscribe(self._on_record)

    def close(self) -> None:
        """No more writes: the one under way is finished. A best still waiting is the hand-over's
        to write: it writes the answers it hands over, beside its refits, or its final answers at
        once when nothing is left to refit (a write of millions of rows here would come first)."""
        with self._lock:
            self._closed = True
            self._wanted = None
            thread = self._thread
        if thread is not None:
            thread.join()

    def _on_record(self, kind: str, record: dict[str, Any]) -> None:
        if kind == "event" and record.get("name") == AttemptStarted.name:
            with self._lock:
                self._start()
        if kind != "node" or record.get("status") != "ok":
            return
        if record.get("stage") == Stage.FINAL:  # the best's final fit, done ahead: written at once
            with self._lock:
                if not self._closed and self._chosen is not None and record.get("parent") == self._chosen:
                    self._wanted = self._journal.nodes[self._chosen]
                    self._start()
            return
        if record.get("stage") not in SOLUTION_STAGES:
            return
        best = self._journal.best_solution(self._lower_is_better)
        with self._lock:
            if self._closed or best is None or best.id == self._chosen:
                return
            self._wanted, self._chosen = best, best.id

    def _start(self) -> threading.Thread | None:
        """The writing thread, started if a best waits and none runs (under the lock)."""
        if self._thread is None and self._wanted is not None:
            self._thread = threading.Thread(target=self._run, name="best-so-far", daemon=True)
            self._thread.start()
        return self._thread

    def _run(self) -> None:
        while True:
            with self._lock:
                node, self._wanted = self._wanted, None
                if node is None:
                    self._thread = None
                    return
            # A write that fails is left to the hand-over, which writes the file again and says why.
            with contextlib.suppress(Exception):
                self._write(node)
