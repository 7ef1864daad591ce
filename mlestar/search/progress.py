"""Live progress: one rich panel on a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from mlestar.journal import Node
from mlestar.search import validation


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

    def set_stage(self, stage: str) -> None:
        with self._lock:
            self.stage = stage
        self._say(f"stage {stage}")

    def started(self, node_id: str) -> None:
        with self._lock:
            self.running.add(node_id)
        self._refresh()

    def finished(self, node: Node, best: Node | None) -> None:
        with self._lock:
            self.running.discard(node.id)
            self.done += 1
            if best is not None and best.score is not None:
                self.best = (best.score, best.id)
        score = validation.describe(node.score, node.meta)
        plan = f"(same script as {node.meta['same_as']}) {node.plan}" if "same_as" in node.meta else node.plan
        self._say(f"{node.id:<28} {node.status:<8} score {score:<30} {node.duration_s:6.1f}s  {plan[:60]}")

    def note(self, text: str) -> None:
        self._say(text)

    def screened(self, leaders: str, table: str) -> None:
        """The screening table: whole in the log, its leaders on the live panel."""
        with self._lock:
            self.screening = leaders
        for line in table.splitlines():
            self._say(line)

    def close(self) -> None:
        if self._panel is not None:
            self._panel.update(self._render())
            self._panel.stop()
            self._panel = None

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
