"""`mlestar status`: a run summarised from its journal alone."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from mlestar.engineers.base import ScreenResult, screening_table
from mlestar.errors import RunFolderError
from mlestar.journal import Journal, Node
from mlestar.journal.events import (
    AttemptStarted,
    Decided,
    RunFinished,
    RunStarted,
    Screened,
    SubmissionWritten,
)
from mlestar.search.validation import describe


def summarize(run_dir: Path) -> str:
    if not (run_dir / "journal.jsonl").exists():
        raise RunFolderError(f"expected a run folder with a journal.jsonl at {run_dir}; found none")
    journal = Journal(run_dir)
    started, finished = journal.first(RunStarted), journal.last(RunFinished)
    task = (started.task if started else None) or {}
    lower = bool(task.get("lower_is_better", False))
    nodes = sorted(journal.nodes.values(), key=lambda n: n.started)
    lines = [
        f"run      {run_dir}",
        f"task     {task.get('name', '?')}  metric {task.get('metric', '?')} ({'lower' if lower else 'higher'} is better)",
        f"engineer {started.engineer if started else '?'}",
        f"state    {'finished: ' + finished.status if finished else 'unfinished (mlestar resume continues it)'}",
    ]
    if nodes:
        wall = max(n.ended for n in nodes) - min(n.started for n in nodes)
        counts = Counter(n.status for n in nodes)
        lines.append(
            f"attempts {len(nodes)} ({', '.join(f'{v} {k}' for k, v in sorted(counts.items()))}) over {wall:.0f} s"
        )
    if started and started.validation:
        lines.append(f"validate {started.validation}")
    best = journal.best_solution(lower)
    if best is not None:
        lines.append(
            f"best     {describe(best.score, best.meta)} from {best.id} ({best.stage}): {best.plan[:80]}"
        )
    if finished:
        lines.append(f"final    {finished.best}  submission {finished.submission}  model {finished.model}")
    elif (written := journal.last(SubmissionWritten)) is not None:
        whose = (
            f"{written.node}'s answers, the best so far" if written.node else f"the {written.answers} answers"
        )
        lines.append(f"submit   submission.csv holds {whose}")
    lines.extend(_screening(journal))
    lines.append("")
    lines.append("scores: [90% interval over the validation rows]; xN splits: N splits' predictions averaged")
    lines.append(f"{'attempt':<26} {'stage':<9} {'status':<9} {'score':<32} {'time':>7}  plan")
    lines.extend(_row(n) for n in nodes)
    if not finished:
        lines.extend(_in_flight(journal))
    decisions = journal.find(Decided)
    if decisions:
        lines.append("")
        lines.append("decisions")
        lines.extend(f"  {e.what}: {e.node or ''} {e.block or ''}".rstrip() for e in decisions)
    return "\n".join(lines)


def score_of(run_dir: Path, node_id: str) -> str:
    """An attempt's score as the run's last lines give it: with its 90% interval (bootstrap over the
    validation rows) and, on small data, the number of splits averaged."""
    node = Journal(run_dir).get(node_id)
    return "-" if node is None else describe(node.score, node.meta)


def _row(n: Node) -> str:
    score = describe(n.score, n.meta)
    took = f"{n.duration_s:6.1f}s"
    plan = n.repeat_note + n.plan
    return f"{n.id:<26} {n.stage:<9} {n.status:<9} {score:<32} {took:>7}  {plan[:70]}"


def _in_flight(journal: Journal) -> list[str]:
    """Attempts whose script started but whose node was never journaled: running now, or what a
    killed run was doing when it stopped (resume runs them again)."""
    last = max((e["time"] for e in journal.events), default=0.0)
    return [
        f"{e.node:<26} {'':<9} {'started':<9} {'(no result journaled)':<32} {'':>7}  "
        f"limit {e.timeout_s:.0f}s, started {last - e.time:.0f}s before the journal's last record"
        for e in journal.find(AttemptStarted)
        if e.node not in journal.nodes
    ]


def _screening(journal: Journal) -> list[str]:
    event = journal.first(Screened)
    if event is None:
        return []
    results = [ScreenResult(**r) for r in event.results or []]
    return ["", screening_table(results, str(event.split or ""))]
