"""What the benchmark reads from an mlestar run's journal: attempts, validation score, script time.

Time inside scripts is the union of the spans the scripts themselves ran (Node.script_spans: the
harness's writing, judging and scoring around each run is overhead, not script time): parallel
attempts overlap, and counting them twice would hide harness overhead. The harness overhead share
is what is left of the wall time measured around the run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mlestar.journal import JOURNAL_FILE, Journal


@dataclass(frozen=True)
class JournalStats:
    attempts: int
    """Every node: scripts run, rejected drafts, harness-computed ensembles."""
    scripts: int
    """Nodes that ran a script."""
    script_s: float
    attempt_s: float
    """The union of the attempts' whole spans (their scripts and the harness's work around each):
    the measure before script spans were journaled, kept for comparison with earlier results."""
    validation_score: float | None
    """The agent's own validation score of the solution it handed over."""
    status: str | None
    """run_finished's status ("ok", "fallback"), or None when the run did not finish."""
    zero_weight_refits: int = 0
    """Final refits (final-<member>) of ensemble members the hand-over gave no weight: wasted time."""


def union_seconds(intervals: Iterable[tuple[float, float]]) -> float:
    """Total length covered by the intervals; overlaps count once, empty or reversed ones not at all."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted((s, e) for s, e in intervals if e > s):
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return total


def overhead_share(script_s: float | None, wall_s: float) -> float | None:
    """1 - script time / wall time: the share of the run spent outside solution scripts."""
    if script_s is None or wall_s <= 0:
        return None
    return min(1.0, max(0.0, 1.0 - script_s / wall_s))


def _validation_score(journal: Journal, lower_is_better: bool) -> float | None:
    """The score of the final solution, as the run reported it; else its best scored node."""
    for name in ("final", "run_finished"):
        scores = [
            float(e["score"]) for e in journal.events if e["name"] == name and e.get("score") is not None
        ]
        if scores:
            return scores[-1]
    best = journal.best(lower_is_better)
    return None if best is None or best.score is None else float(best.score)


def journal_stats(run_dir: Path, lower_is_better: bool) -> JournalStats | None:
    """The run's figures, or None when it left no journal."""
    if not (run_dir / JOURNAL_FILE).exists():
        return None
    journal = Journal(run_dir)
    ran = [n for n in journal.nodes.values() if n.result is not None]
    finished = [e for e in journal.events if e["name"] == "run_finished"]
    return JournalStats(
        attempts=len(journal.nodes),
        scripts=len(ran),
        script_s=union_seconds(span for n in ran for span in n.script_spans),
        attempt_s=union_seconds((n.started, n.ended) for n in ran),
        validation_score=_validation_score(journal, lower_is_better),
        status=finished[-1].get("status") if finished else None,
        zero_weight_refits=_zero_weight_refits(journal),
    )


def _zero_weight_refits(journal: Journal) -> int:
    dropped = {m for e in journal.events if e["name"] == "final" for m in e.get("dropped") or ()}
    return sum(f"final-{member}" in journal.nodes for member in dropped)
