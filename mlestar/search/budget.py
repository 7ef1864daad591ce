"""The time budget: stage shares, script timeouts, and the reserve kept for the final fit.

Elapsed time survives a resume: the time a run already spent is read back from its journal, so a
resumed run has what the interrupted one had left.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

# Cumulative share of the search time (the budget less the final reserve) by which each stage
# should be done. A stage that finishes early leaves its time to the next ones.
STAGE_ENDS = {
    "screen": 0.20,
    "draft": 0.35,
    "merge": 0.45,
    "check": 0.50,
    "refine": 0.90,
    "widen": 0.97,
    "ensemble": 1.00,
}
_NODE_LOCK = threading.Lock()
"""Guards the count of scripts run (attempts of a batch start on several threads)."""


@dataclass
class Budget:
    total_s: float
    spent_before_s: float = 0.0
    reserve_s: float = 0.0
    max_nodes: int | None = None
    nodes_run: int = 0
    base_reserve_s: float = 0.0
    _t0: float = field(default_factory=time.monotonic)

    @classmethod
    def plan(cls, total_s: float, spent_before_s: float, max_nodes: int | None, nodes_run: int) -> Budget:
        reserve = min(max(0.08 * total_s, 15.0), 0.3 * total_s)
        return cls(total_s, spent_before_s, reserve, max_nodes, nodes_run, base_reserve_s=reserve)

    def reserve_for_final_fit(self, best_duration_s: float) -> None:
        """Keep enough time to refit the best solution so far (never more than 30% of the budget)."""
        wanted = max(self.base_reserve_s, 1.3 * best_duration_s + 3.0)
        self.reserve_s = min(wanted, 0.3 * self.total_s)

    def elapsed(self) -> float:
        return self.spent_before_s + time.monotonic() - self._t0

    def remaining(self) -> float:
        return max(0.0, self.total_s - self.elapsed())

    def search_remaining(self) -> float:
        return max(0.0, self.total_s - self.reserve_s - self.elapsed())

    def stage_deadline(self, stage: str) -> float:
        """Elapsed seconds by which the stage should stop starting new attempts."""
        return (self.total_s - self.reserve_s) * STAGE_ENDS[stage]

    def may_start(self, stage: str, expected_s: float = 0.0) -> bool:
        """May a new attempt start? Not past the stage's deadline, nor when it would likely overrun it."""
        if self.max_nodes is not None and self.nodes_run >= self.max_nodes:
            return False
        finish = self.elapsed() + 0.5 * expected_s
        return finish < self.stage_deadline(stage) and self.search_remaining() > 5.0 + 0.5 * expected_s

    def take_node(self) -> bool:
        """Count one more script run, unless --max-nodes is reached. Attempts of a batch are
        admitted before any of them runs, so the count is settled here, as each one starts."""
        with _NODE_LOCK:
            if self.max_nodes is not None and self.nodes_run >= self.max_nodes:
                return False
            self.nodes_run += 1
            return True

    def may_compute(self) -> bool:
        """Harness-computed work (ensembles of stored predictions) costs milliseconds."""
        return self.remaining() > 2.0

    def nodes_left(self) -> int | None:
        return None if self.max_nodes is None else max(0, self.max_nodes - self.nodes_run)

    def script_timeout(self) -> float:
        """A script may use what is left of the search, never the final reserve."""
        return max(5.0, self.search_remaining())
