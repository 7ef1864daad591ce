"""`mlestar status`: a run summarised from its journal alone."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from mlestar.errors import RunFolderError
from mlestar.journal import SOLUTION_STAGES, Journal, Node


def summarize(run_dir: Path) -> str:
    if not (run_dir / "journal.jsonl").exists():
        raise RunFolderError(f"expected a run folder with a journal.jsonl at {run_dir}; found none")
    journal = Journal(run_dir)
    started = next((e for e in journal.events if e["name"] == "run_started"), {})
    task = started.get("task", {})
    lower = bool(task.get("lower_is_better", False))
    finished = next((e for e in reversed(journal.events) if e["name"] == "run_finished"), None)
    nodes = sorted(journal.nodes.values(), key=lambda n: n.started)
    lines = [
        f"run      {run_dir}",
        f"task     {task.get('name', '?')}  metric {task.get('metric', '?')} ({'lower' if lower else 'higher'} is better)",
        f"engineer {started.get('engineer', '?')}",
        f"state    {'finished: ' + finished['status'] if finished else 'unfinished (mlestar resume continues it)'}",
    ]
    if nodes:
        wall = max(n.ended for n in nodes) - min(n.started for n in nodes)
        counts = Counter(n.status for n in nodes)
        lines.append(
            f"attempts {len(nodes)} ({', '.join(f'{v} {k}' for k, v in sorted(counts.items()))}) over {wall:.0f} s"
        )
    best = journal.best(lower, stages=SOLUTION_STAGES)
    if best is not None:
        lines.append(f"best     {best.score:.5f} from {best.id} ({best.stage}): {best.plan[:80]}")
    if finished:
        lines.append(
            f"final    {finished.get('best')}  submission {finished.get('submission')}  model {finished.get('model')}"
        )
    lines.append("")
    lines.append(f"{'attempt':<26} {'stage':<9} {'status':<9} {'score':>10} {'time':>7}  plan")
    lines.extend(_row(n) for n in nodes)
    decisions = [e for e in journal.events if e["name"] == "decision"]
    if decisions:
        lines.append("")
        lines.append("decisions")
        lines.extend(
            f"  {e.get('what')}: {e.get('node', '')} {e.get('block', '')}".rstrip() for e in decisions
        )
    return "\n".join(lines)


def _row(n: Node) -> str:
    score = "-" if n.score is None else f"{n.score:.5f}"
    took = f"{n.duration_s:6.1f}s"
    plan = f"(same script as {n.meta['same_as']}: not run again) {n.plan}" if "same_as" in n.meta else n.plan
    return f"{n.id:<26} {n.stage:<9} {n.status:<9} {score:>10} {took:>7}  {plan[:70]}"
