"""The attempts the stages ask for, each keyed by its place in the search (draft-2, merge-1, t1-k3,
ens-0, ...): a resumed run finds a finished attempt under the same id and reads it back.

Screening (screen-N) and widening (wide-draft-N, wide-seedS-ID) key theirs in their own modules;
the runner keys debug rounds (ID.debugN).
"""

from __future__ import annotations

from typing import Any

from mlestar.engineers.base import BlockChoice, Candidate, EnsemblePlan, Variant
from mlestar.journal import Node, Stage
from mlestar.search.harness import Attempt


def draft(i: int, cand: Candidate, screened: Node | None) -> Attempt:
    """The i-th draft; `screened`: the candidate's screening attempt, whose script it runs."""
    meta: dict[str, Any] = {"candidate": cand.name}
    if screened is not None:
        meta["screened_as"] = screened.id
    plan = f"{cand.name}: {cand.summary}"
    return Attempt(id=f"draft-{i}", stage=Stage.DRAFT, role="draft", plan=plan, meta=meta)


def fallback_draft(i: int, cand: Candidate) -> Attempt:
    plan = f"{cand.name}: drafted by the fallback engineer, every draft having failed"
    meta = {"candidate": cand.name}
    return Attempt(id=f"draft-fallback-{i}", stage=Stage.DRAFT, role="draft", plan=plan, meta=meta)


def warm_start(i: int, name: str, plan: str, source: str) -> Attempt:
    """An earlier run's script (`source`: its node there), run as a draft."""
    meta = {"candidate": name, "warm_from": source}
    plan = f"warm start from {source}: {plan}"
    return Attempt(id=f"warm-{i}", stage=Stage.DRAFT, role="warm_start", plan=plan, meta=meta)


def merge(i: int, base: Node, cand: Candidate) -> Attempt:
    plan = f"merge {cand.name} into {base.id}"
    meta = {"candidate": cand.name}
    return Attempt(id=f"merge-{i}", parent=base.id, stage=Stage.MERGE, role="merge", plan=plan, meta=meta)


def data_usage(cur: Node) -> Attempt:
    plan = "use the data the solution ignores"
    return Attempt(id="check-data", parent=cur.id, stage=Stage.CHECK, role="check_data_usage", plan=plan)


def leakage_fix(key: str, node: Node, stage: Stage, leaks: tuple[str, ...]) -> Attempt:
    """`key`: the check's own key (check-leak, t1-check-leak), which its fix shares."""
    plan = "remove the leakage: " + "; ".join(leaks)
    return Attempt(id=key, parent=node.id, stage=stage, role="check_leakage", plan=plan)


def ablation(t: int, cur: Node, variant: Variant) -> Attempt:
    return Attempt(
        id=f"t{t}-ablate-{variant.name}",
        parent=cur.id,
        stage=Stage.ABLATION,
        role="ablate",
        plan=variant.description,
        meta={"block": variant.block},
    )


def inner_plan(t: int, k: int, cur: Node, choice: BlockChoice, plan: str) -> Attempt:
    """Plan k of outer step t, for the block chosen in that step."""
    return Attempt(
        id=f"t{t}-k{k}",
        parent=cur.id,
        stage=Stage.REFINE,
        role="implement",
        plan=plan,
        meta={"block": choice.block, "round": t},
    )


def ensemble(r: int, best: Node, members: list[Node], plan: EnsemblePlan) -> Attempt:
    """Ensemble round r over `members`; its parent is the best script the stage could draw on."""
    return Attempt(
        id=f"ens-{r}",
        parent=best.id,
        stage=Stage.ENSEMBLE,
        role="ensemble",
        plan=plan.plan,
        meta={"kind": plan.kind, "members": [n.id for n in members]},
    )


def seed_average(group: list[Node]) -> Attempt:
    """A script and its seed variants, averaged (the first of the group is the best of them)."""
    base = group[0].seed_of or group[0].id
    return Attempt(
        id=f"ens-seeds-{base}",
        parent=base,
        stage=Stage.ENSEMBLE,
        role="ensemble",
        plan=f"{base} averaged over its seeds ({len(group)} runs)",
        meta={"kind": "average", "members": [n.id for n in group]},
    )


AHEAD = " (ahead of the hand-over, on a lane the search left idle)"
"""How a final fit's plan says it ran during the search."""


def final_fit(node: Node, ahead: bool = False, again: bool = False) -> Attempt:
    """The script's final fit (every training row, its model saved). `ahead`: started during the
    search on a lane it left idle; the hand-over finds it under the same id and does not refit.
    `again`: the hand-over's second try, after a first that failed."""
    plan = "refit on all training rows and save the model"
    if ahead:
        plan += AHEAD
    if again:
        plan += " (again: the first fit failed)"
    att_id = final_fit_id(node.id, again)
    return Attempt(id=att_id, parent=node.id, stage=Stage.FINAL, role="final_fit", plan=plan)


def final_fit_id(node_id: str, again: bool = False) -> str:
    return f"final-{node_id}-again" if again else f"final-{node_id}"
