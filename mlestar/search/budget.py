"""The time budget: stage shares, script timeouts, and the reserve kept for the final fit.

Elapsed time survives a resume: the time a run already spent is read back from its journal, so a
resumed run has what the interrupted one had left.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from mlestar.journal import Node
from mlestar.search.saved_models import MODEL_SAVED

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
    _schedule_start_s: float = 0.0
    """Elapsed seconds from which the stage shares are counted (see start_schedule_after)."""

    @classmethod
    def plan(cls, total_s: float, spent_before_s: float, max_nodes: int | None, nodes_run: int) -> Budget:
        # The hand-over's own work when nothing is refit (the submission and solution.py written,
        # checked, logged) takes seconds; refits get their own reserve (reserve_for_final_fit).
        reserve = min(max(0.02 * total_s, 15.0), 0.3 * total_s)
        return cls(total_s, spent_before_s, reserve, max_nodes, nodes_run, base_reserve_s=reserve)

    def reserve_for_final_fit(self, *durations_s: float, lanes: int = 1) -> None:
        """Keep enough time to refit the solution that would be handed over now: each of its
        members (most likely first) takes what its search run took, the refits share `lanes`
        parallel workers. Never more than 30% of the budget, and only for the members that can be
        refit within it: time held for a refit that cannot happen is better spent searching (a
        member not refit hands over its stored predictions, which solution.py rebuilds exactly)."""
        cap = 0.3 * self.total_s
        fitting = [d for n, d in enumerate(durations_s) if packed_s(durations_s[: n + 1], lanes) + 3.0 <= cap]
        wanted = refit_allowance(packed_s(durations_s[: len(fitting)], lanes)) if fitting else 0.0
        self.reserve_s = min(max(self.base_reserve_s, wanted), cap)

    def elapsed(self) -> float:
        return self.spent_before_s + time.monotonic() - self._t0

    def remaining(self) -> float:
        return max(0.0, self.total_s - self.elapsed())

    def search_remaining(self) -> float:
        return max(0.0, self.total_s - self.reserve_s - self.elapsed())

    def stage_deadline(self, stage: str) -> float:
        """Elapsed seconds by which the stage should stop starting new attempts: its share of the
        search time left after the schedule's start (see start_schedule_after)."""
        start = self._schedule_start_s
        return start + (self.total_s - self.reserve_s - start) * STAGE_ENDS[stage]

    def start_schedule_after(self, seconds: float) -> None:
        """Lay the stages' shares over the time left after `seconds` of elapsed time: work done once
        for every later script (the screening's first script computing features of the task's
        files) moves the whole schedule rather than eating the first stage's share."""
        self._schedule_start_s = max(self._schedule_start_s, seconds)

    def may_start(self, stage: str, expected_s: float = 0.0, *, into_next: bool = False) -> bool:
        """May a new attempt start? Not past the stage's deadline, nor when it would likely overrun it.
        `into_next`: the deadline is the next stage's (a late stage's first step, see Search.merge)."""
        if self.max_nodes is not None and self.nodes_run >= self.max_nodes:
            return False
        deadline = self.stage_deadline(_next_stage(stage) if into_next else stage)
        finish = self.elapsed() + 0.5 * expected_s
        return finish < deadline and self.search_remaining() > 5.0 + 0.5 * expected_s

    def take_node(self, share: NodeShare | None = None) -> bool:
        """Count one more script run, unless --max-nodes is reached (or the attempt's share of it,
        for an attempt of a batch). Counted as each script starts, so a batch cannot overshoot."""
        with _NODE_LOCK:
            if self.max_nodes is not None and self.nodes_run >= self.max_nodes:
                return False
            if share is not None and not share.take():
                return False
            self.nodes_run += 1
            return True

    def nodes_left(self) -> int | None:
        """Script runs --max-nodes still allows (None: no limit)."""
        return None if self.max_nodes is None else max(0, self.max_nodes - self.nodes_run)

    def batch_shares(self, attempts: int, runs_each: int) -> list[NodeShare]:
        """--max-nodes split among the attempts of a batch before any of them starts: first one
        run each, in order, then their debug runs, in order. Which attempt gets the last runs then
        depends on its place in the batch, not on which thread happens to be quicker, so two runs
        with the same --max-nodes take the same path."""
        left = self.nodes_left()
        if left is None:
            return [NodeShare(None) for _ in range(attempts)]
        first = [1 if i < left else 0 for i in range(attempts)]
        left -= sum(first)
        shares = []
        for runs in first:
            extra = min(left, runs_each - 1) if runs else 0
            left -= extra
            shares.append(NodeShare(runs + extra))
        return shares

    def may_compute(self) -> bool:
        """Harness-computed work (ensembles of stored predictions) costs milliseconds."""
        return self.remaining() > 2.0

    def script_timeout(self) -> float:
        """A script may use what is left of the search, never the final reserve."""
        return max(5.0, self.search_remaining())


@dataclass
class NodeShare:
    """The script runs one attempt of a batch may start (its first run and its debug runs)."""

    allowed: int | None
    """None: no --max-nodes."""
    used: int = 0

    def take(self) -> bool:
        if self.allowed is not None and self.used >= self.allowed:
            return False
        self.used += 1
        return True


def _next_stage(stage: str) -> str:
    order = list(STAGE_ENDS)
    return order[min(order.index(stage) + 1, len(order) - 1)]


def packed_s(durations_s: Sequence[float], lanes: int) -> float:
    """How long jobs of these durations take on `lanes` parallel workers, longest first, each
    to the least loaded worker."""
    loads = [0.0] * max(1, lanes)
    for d in sorted(durations_s, reverse=True):
        loads[loads.index(min(loads))] += d
    return max(loads)


def refit_seconds(node: Node) -> float:
    """What refitting a script takes: its search run, less its repeats on other splits (the final
    fit runs it once); nothing when its search run saved the final model (the hand-over reuses it)."""
    return 0.0 if node.meta.get(MODEL_SAVED) else run_seconds(node)


def run_seconds(node: Node) -> float:
    """What running a script once on its rows takes: its search run, less its repeats."""
    return node.duration_s / max(1, int(node.meta.get("repeats", 1)))


def refit_allowance(seconds: float) -> float:
    """The time kept for refits expected to take `seconds` (packed on their lanes): a margin for a
    machine slower than when the search timed them, and for starting the scripts."""
    return 1.3 * seconds + 3.0


def refittable(
    members: Sequence[Node], lanes: int, remaining_s: float, need: Callable[[Node], float]
) -> list[Node]:
    """The best members (best first), as many as the hand-over can refit in the time left, each
    refit taking `need` of it (its search run's time, nothing once its final fit is done), packed on
    the run's lanes: an ensemble of members that cannot all be refit leaves no servable model, and
    on a subsample no exact submission either."""
    kept = list(members[:1])
    for node in members[1:]:
        refits = [need(n) for n in (*kept, node)]
        if refit_allowance(packed_s(refits, lanes)) <= remaining_s:
            kept.append(node)
    return kept
