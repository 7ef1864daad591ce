"""Live progress: one rich panel on a terminal, plain log lines otherwise.

Progress follows the run's journal (Journal.subscribe): a stage starting, an attempt starting and
ending, the screening table, a leak or an engineer failure are shown as they are journaled, so the
search never calls it. The run's edges (the hand-over, the sandbox, the tracker) may still add a
note or name the closing stage.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

from mlestar.engineers.base import ScreenResult, screening_table
from mlestar.journal import Journal, Node
from mlestar.journal.events import (
    AttemptStarted,
    EngineerFailed,
    Event,
    FallbackDrafts,
    LeakageFound,
    Screened,
    StageStarted,
    event_class,
)
from mlestar.journal.store import best_key
from mlestar.search import validation
from mlestar.search.screening import leaders


class Progress:
    def __init__(
        self, task: str, budget_s: float, live: bool | None = None, stream: TextIO | None = None
    ) -> None:
        self.task = task
        self.budget_s = budget_s
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.stage = "starting"
        self.done = 0
        self.running: set[str] = set()
        self.best: tuple[float, str] | None = None
        self.screening = ""
        """The screening's leaders, one line, for the live panel."""
        self._best_node: Node | None = None
        self._lower_is_better = False
        self._elapsed = lambda: 0.0
        self._lock = threading.Lock()
        self._panel = None
        if self.live:
            from rich.console import Console
            from rich.live import Live

            self._panel = Live(self._render(), console=Console(file=self.stream), refresh_per_second=2)
            self._panel.start()

    def bind_clock(self, elapsed) -> None:  # type: ignore[no-untyped-def]
        self._elapsed = elapsed

    def follow(self, journal: Journal, lower_is_better: bool) -> None:
        """Show what the journal records from now on. A resumed run starts from the best solution
        and the stage its journal already holds (stages done before are not announced again)."""
        self._lower_is_better = lower_is_better
        self._take_best(journal.best_solution(lower_is_better))
        began = journal.last(StageStarted)
        if began is not None:
            self.set_stage(began.stage)
        journal.subscribe(self.on_record)

    def on_record(self, kind: str, record: dict[str, Any]) -> None:
        """A journal listener: a node is an attempt finished; some events are worth a line."""
        if kind == "node":
            self._finished(Node.from_json(record))
        elif kind == "event" and record.get("name") in _SHOWN:
            self._show(event_class(record["name"]).from_record(record))

    def set_stage(self, stage: str) -> None:
        with self._lock:
            self.stage = stage
        self._say(f"stage {stage}")

    def note(self, text: str) -> None:
        self._say(text)

    def close(self) -> None:
        if self._panel is not None:
            self._panel.update(self._render())
            self._panel.stop()
            self._panel = None

    # -- what the journal says -----------------------------------------------------------------
    def _show(self, event: Event) -> None:
        if isinstance(event, StageStarted):
            self.set_stage(event.stage)
        elif isinstance(event, AttemptStarted):
            with self._lock:
                self.running.add(event.node)
            self._refresh()
        elif isinstance(event, Screened):
            self._screened([ScreenResult(**row) for row in event.results], event.split)
        elif isinstance(event, LeakageFound):
            self.note(f"leakage in {event.node}: {'; '.join(event.leaks)}")
        elif isinstance(event, EngineerFailed):
            self.note(f"{event.key}: {event.error}")
        elif isinstance(event, FallbackDrafts):
            self.note("no draft worked: the fallback engineer drafts the same candidates")

    def _finished(self, node: Node) -> None:
        with self._lock:
            self.running.discard(node.id)
            self.done += 1
            if node.is_solution:
                self._take_best(node)
        score = validation.describe(node.score, node.meta)
        plan = node.repeat_note + node.plan
        self._say(f"{node.id:<28} {node.status:<8} score {score:<30} {node.duration_s:6.1f}s  {plan[:60]}")

    def _take_best(self, node: Node | None) -> None:
        """Keep the node if it is the best solution so far, in Journal.best's order."""
        if node is None or node.score is None:
            return
        if self._best_node is None or best_key(node, self._lower_is_better) < best_key(
            self._best_node, self._lower_is_better
        ):
            self._best_node = node
            self.best = (node.score, node.id)

    def _screened(self, results: list[ScreenResult], note: str) -> None:
        """The screening table: whole in the log, its leaders on the live panel."""
        with self._lock:
            self.screening = leaders(results)
        for line in screening_table(results, note).splitlines():
            self._say(line)

    # -- output --------------------------------------------------------------------------------
    def _say(self, line: str) -> None:
        if self._panel is not None:
            self._refresh()
        else:
            stamp = time.strftime("%H:%M:%S")
            print(f"[{stamp}] {line}", file=self.stream, flush=True)

    def _refresh(self) -> None:
        if self._panel is not None:
            self._panel.update(self._render())

    def _render(self):  # type: ignore[no-untyped-def]
        from rich.table import Table

        left = max(0.0, self.budget_s - self._elapsed())
        best = "none yet" if self.best is None else f"{self.best[0]:.5f} from {self.best[1]}"
        table = Table.grid(padding=(0, 2))
        table.add_row("task", self.task)
        table.add_row("stage", self.stage)
        table.add_row("attempts", f"{self.done} done, {len(self.running)} running {sorted(self.running)[:4]}")
        if self.screening:
            table.add_row("screening", self.screening)
        table.add_row("best", best)
        table.add_row("budget left", f"{left / 60:.1f} min")
        from rich.panel import Panel

        return Panel(table, title="mlestar", expand=False)


_SHOWN = frozenset(
    e.name for e in (StageStarted, AttemptStarted, Screened, LeakageFound, EngineerFailed, FallbackDrafts)
)
"""The events progress shows; the others are decisions and bookkeeping that the nodes make visible."""
