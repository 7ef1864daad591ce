"""What the report shows, read from a run folder alone: the journal, the scripts and their outputs.

Pure reading: nothing here imports the search, so the report can be refreshed while a run goes on
(it then shows the run so far) and from a copy of a finished run folder.
"""

from __future__ import annotations

import contextlib
import difflib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlestar import blocks
from mlestar.errors import RunFolderError
from mlestar.journal import JOURNAL_FILE, Journal, Node, Stage
from mlestar.journal.events import (
    KEPT,
    Decided,
    EngineerFailed,
    FinalChosen,
    LeakageFound,
    RunFinished,
    RunStarted,
    Screened,
    StageFinished,
    StageStarted,
)

DIFF_LINES = 160
"""A node's diff is cut after this many lines (the report stays small on long runs)."""
TAIL_LINES = 30


@dataclass(frozen=True)
class NodeFacts:
    """One attempt as the report shows it."""

    id: str
    parent: str | None
    stage: str
    role: str
    status: str
    outcome: str
    """What the node's colour says: "best", "kept", "ok", "repeat", "failed", "timeout", "rejected"."""
    score: float | None
    start_s: float
    """Seconds since the run started."""
    duration_s: float
    plan: str
    block: str | None
    diff: str
    """The node's block (or whole script) against its parent's, unified; empty when there is none."""
    tail: str
    """The end of the script's output, or the error."""
    tokens: int
    cost_usd: float
    solution: bool
    """The run could hand it over (Node.is_solution: a seed variant only inside an average)."""


@dataclass(frozen=True)
class StageSpan:
    name: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Impact:
    """What taking one part out of the solution did in one ablation round (positive: the part helps)."""

    round: int
    block: str
    label: str
    impact: float


@dataclass(frozen=True)
class ReportFacts:
    run_dir: Path
    task: dict[str, Any]
    engineer: str
    state: str
    """"finished: ok", "finished: fallback", or "running"."""
    final_node: str | None
    final_kind: str | None
    final_score: float | None
    interval: tuple[float, float] | None
    lower_is_better: bool
    nodes: tuple[NodeFacts, ...]
    stages: tuple[StageSpan, ...]
    impacts: tuple[Impact, ...]
    members: tuple[tuple[str, float], ...]
    """The final ensemble's members and weights (empty for a single script)."""
    stage_seconds: dict[str, float] = field(default_factory=dict)
    usage_by_stage: dict[str, dict[str, float]] = field(default_factory=dict)
    usage_by_role: dict[str, dict[str, float]] = field(default_factory=dict)
    findings: tuple[str, ...] = ()
    screening: tuple[dict[str, Any], ...] = ()
    """The screening table's rows, best first (name, family, score, seconds, status, chosen)."""
    screening_note: str = ""


def read_facts(run_dir: Path) -> ReportFacts:
    if not (run_dir / JOURNAL_FILE).exists():
        raise RunFolderError(f"expected a run folder with a {JOURNAL_FILE} at {run_dir}; found none")
    journal = Journal(run_dir)
    started, finished = journal.first(RunStarted), journal.last(RunFinished)
    task = dict(started.task or {}) if started else {}
    lower = bool(task.get("lower_is_better", False))
    t0 = started.time if started else min((n.started for n in journal.nodes.values()), default=0.0)
    final = journal.last(FinalChosen)
    final_node = final.node if final else None
    kept = _kept(journal) | ({final_node} if final_node else set())
    nodes = tuple(
        _node_facts(run_dir, journal, n, t0, kept, final_node)
        for n in sorted(journal.nodes.values(), key=lambda n: (n.started, n.id))
    )
    by_stage, by_role = _usage(journal)
    screened = journal.last(Screened)
    return ReportFacts(
        run_dir=run_dir,
        task=task,
        engineer=str(started.engineer if started else "?"),
        state=f"finished: {finished.status}" if finished else "running",
        final_node=final_node,
        final_kind=final.solution_kind if final else None,
        final_score=_float(final.score if final else None),
        interval=_interval(journal, final_node),
        lower_is_better=lower,
        nodes=nodes,
        stages=_stages(journal, t0),
        impacts=_impacts(journal, lower),
        members=_members(journal, final_node),
        stage_seconds=_stage_seconds(journal),
        usage_by_stage=by_stage,
        usage_by_role=by_role,
        findings=_findings(journal),
        screening=tuple(screened.results or ()) if screened else (),
        screening_note=str(screened.split or "") if screened else "",
    )


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _kept(journal: Journal) -> set[str]:
    return {str(e.node) for e in journal.find(Decided) if e.what in KEPT}


def _outcome(node: Node, kept: set[str], final: str | None) -> str:
    if node.id == final:
        return "best"
    if node.repeat_of:
        return "repeat"
    if node.ok:
        return "kept" if node.id in kept else "ok"
    return node.status if node.status in ("failed", "timeout", "rejected") else "failed"


def _node_facts(
    run_dir: Path, journal: Journal, node: Node, t0: float, kept: set[str], final: str | None
) -> NodeFacts:
    block = node.meta.get("block")
    usage = node.usage or {}
    return NodeFacts(
        id=node.id,
        parent=node.parent,
        stage=node.stage,
        role=node.role,
        status=node.status,
        outcome=_outcome(node, kept, final),
        score=node.score,
        start_s=max(0.0, node.started - t0),
        duration_s=max(0.0, node.ended - node.started),
        plan=node.plan,
        block=str(block) if block else None,
        diff=_diff(run_dir, journal, node, str(block) if block else None),
        tail=_tail(node),
        tokens=int(usage.get("input_tokens", 0)) + int(usage.get("output_tokens", 0)),
        cost_usd=float(usage.get("cost_usd", 0.0)),
        solution=node.is_solution,
    )


def _script(run_dir: Path, node: Node | None) -> str | None:
    if node is None or not node.code_path or not (run_dir / node.code_path).is_file():
        return None
    return (run_dir / node.code_path).read_text(encoding="utf-8", errors="replace")


def _diff(run_dir: Path, journal: Journal, node: Node, block: str | None) -> str:
    new = _script(run_dir, node)
    old = _script(run_dir, journal.get(node.parent) if node.parent else None)
    if new is None or old is None:
        return ""
    if block:
        with contextlib.suppress(blocks.BlockError, SyntaxError):  # else the whole script
            old, new = blocks.get_block(old, block), blocks.get_block(new, block)
    lines = list(
        difflib.unified_diff(old.splitlines(), new.splitlines(), node.parent or "", node.id, lineterm="", n=2)
    )
    if len(lines) > DIFF_LINES:
        lines = [*lines[:DIFF_LINES], f"... {len(lines) - DIFF_LINES} more lines"]
    return "\n".join(lines)


def _tail(node: Node) -> str:
    result = node.result or {}
    text = "\n".join(
        part for part in (str(result.get("stdout_tail") or ""), str(result.get("stderr_tail") or "")) if part
    )
    if node.error:
        text = f"{text}\n{node.error}" if text else node.error
    return "\n".join(text.strip().splitlines()[-TAIL_LINES:])


def _stages(journal: Journal, t0: float) -> tuple[StageSpan, ...]:
    spans: list[StageSpan] = []
    open_at: dict[str, float] = {}
    for e in journal.find_any(StageStarted, StageFinished):
        if isinstance(e, StageStarted):
            open_at.setdefault(str(e.stage), e.time - t0)
        elif isinstance(e, StageFinished) and str(e.stage) in open_at:
            spans.append(StageSpan(str(e.stage), open_at.pop(str(e.stage)), e.time - t0))
    end = max((n.ended for n in journal.nodes.values()), default=t0) - t0
    spans.extend(StageSpan(name, start, max(start, end)) for name, start in open_at.items())
    final = [n for n in journal.nodes.values() if n.stage == Stage.FINAL]
    chosen = journal.last(FinalChosen)  # a final fit done ahead ran during the search
    if final:
        start = chosen.time if chosen is not None else min(n.started for n in final)
        end = max(start, *(n.ended for n in final))
        spans.append(StageSpan("submit", start - t0, end - t0))
    return tuple(sorted(spans, key=lambda s: s.start_s))


def _impacts(journal: Journal, lower: bool) -> tuple[Impact, ...]:
    out = []
    for node in sorted(journal.nodes.values(), key=lambda n: n.id):
        parent = journal.get(node.parent) if node.parent else None
        if node.stage != "ablation" or not node.ok or parent is None or parent.score is None:
            continue
        assert node.score is not None
        delta = node.score - parent.score
        round_ = int(node.id[1:].split("-", 1)[0]) if node.id.startswith("t") else 0
        label = node.id.split("-ablate-", 1)[-1]
        out.append(Impact(round_, str(node.meta.get("block", "?")), label, delta if lower else -delta))
    return tuple(out)


def _members(journal: Journal, final: str | None) -> tuple[tuple[str, float], ...]:
    node = journal.get(final) if final else None
    if node is None or node.stage != "ensemble":
        return ()
    members = [str(m) for m in node.meta.get("members", [])]
    weights = node.meta.get("weights") or [1.0 / max(1, len(members))] * len(members)
    return tuple(zip(members, (float(w) for w in weights), strict=False))


def _interval(journal: Journal, final: str | None) -> tuple[float, float] | None:
    node = journal.get(final) if final else None
    return node.interval if node else None


def _stage_seconds(journal: Journal) -> dict[str, float]:
    """Seconds inside scripts per stage (parallel scripts each count)."""
    seconds: dict[str, float] = defaultdict(float)
    for node in journal.nodes.values():
        if node.result is not None:
            seconds[node.stage] += max(0.0, node.ended - node.started)
    return dict(seconds)


def _usage(journal: Journal) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    by_stage: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    by_role: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for node in journal.nodes.values():
        usage = node.usage or {}
        if not usage.get("calls"):
            continue
        stage = by_stage[node.stage]
        for key in ("input_tokens", "output_tokens", "cost_usd", "calls"):
            stage[key] += float(usage.get(key, 0.0))
        for role, spent in (usage.get("by_role") or {}).items():
            for key, value in spent.items():
                by_role[role][key] += float(value)
    return {k: dict(v) for k, v in by_stage.items()}, {k: dict(v) for k, v in by_role.items()}


def _findings(journal: Journal) -> tuple[str, ...]:
    lines = []
    for e in journal.find_any(LeakageFound, Decided, EngineerFailed):
        if isinstance(e, LeakageFound):
            lines.append(f"leakage in {e.node}: " + "; ".join(str(x) for x in e.leaks or []))
        elif isinstance(e, Decided) and str(e.what).startswith(("data_usage", "leakage")):
            lines.append(f"{e.what.replace('_', ' ')}: {e.node} (score {_fmt(e.score)})")
        elif isinstance(e, EngineerFailed):
            lines.append(f"engineer could not answer {e.key}: {str(e.error or '')[:160]}")
    return tuple(lines)


def _fmt(value: Any) -> str:
    return f"{value:.5f}" if isinstance(value, int | float) else "-"


def solution_nodes(facts: ReportFacts) -> list[NodeFacts]:
    """Nodes that could be handed over, in start order (for the score charts)."""
    return [n for n in facts.nodes if n.solution]
