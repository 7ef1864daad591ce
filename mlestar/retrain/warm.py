"""The old run's best work, as scripts the new search tries first.

The final solution comes first (the script, or an ensemble's members, best first), then the
best other working scripts, distinct by behaviour. Scripts follow the harness contract, so they
run unchanged on the new run's data and folds.
"""

from __future__ import annotations

from pathlib import Path

from mlestar import syntax
from mlestar.journal import SCRIPT_STAGES, Journal, Node
from mlestar.journal.events import FinalChosen
from mlestar.search.ranking import ranked
from mlestar.search.stages import WarmScript
from mlestar.task.spec import TaskSpec

MAX_WARM = 3


def warm_scripts(run_dir: Path, limit: int = MAX_WARM) -> tuple[WarmScript, ...]:
    journal = Journal(run_dir)
    spec = TaskSpec.load(run_dir / "task.json")
    ranked = _ranked(journal, spec.lower_is_better)
    first = _final_members(journal)
    ordered = [*(journal.nodes[m] for m in first if m in journal.nodes), *ranked]
    out: list[WarmScript] = []
    seen: set[str] = set()
    for node in ordered:
        if len(out) >= limit or node.code_path is None or not node.ok:
            continue
        code = (run_dir / node.code_path).read_text()
        digest = syntax.behaviour_digest(code)
        if digest in seen:
            continue
        seen.add(digest)
        out.append(WarmScript(f"warm:{node.id}", node.plan, code, node.id))
    return tuple(out)


def _final_members(journal: Journal) -> list[str]:
    """The nodes of the solution the old run handed over (an ensemble's members, in its order)."""
    final = journal.last(FinalChosen)
    if final is None:
        return []
    node = journal.get(str(final.node))
    if node is None:
        return []
    return [str(m) for m in node.meta.get("members", [])] if node.stage == "ensemble" else [node.id]


def _ranked(journal: Journal, lower_is_better: bool) -> list[Node]:
    nodes = [n for n in journal.nodes.values() if n.ok and n.stage in SCRIPT_STAGES and n.repeat_of is None]
    return ranked(nodes, lower_is_better)


def final_ensemble(run_dir: Path) -> dict[str, object] | None:
    """The old run's ensemble (kind, members, weights) when its solution was one, for the journal."""
    journal = Journal(run_dir)
    final = journal.last(FinalChosen)
    node = journal.get(str(final.node)) if final else None
    if node is None or node.stage != "ensemble":
        return None
    return {
        "kind": node.meta.get("kind"),
        "members": node.meta.get("members"),
        "weights": node.meta.get("weights"),
    }
