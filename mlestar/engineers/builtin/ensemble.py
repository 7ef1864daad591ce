"""Ensemble plans over stored predictions, cheapest first: average, greedy weights, stacking."""

from __future__ import annotations

from mlestar.engineers.base import EngineerFailure, EnsembleMember, EnsemblePlan, PlanOutcome

_KINDS = {
    "average": "plain average of the members' predictions",
    "greedy": "weighted average, weights found by greedy forward selection with replacement",
    "stacking": "stacking: a simple meta-model on the members' out-of-fold predictions, nested folds",
}


def next_ensemble(
    members: list[EnsembleMember], history: list[PlanOutcome], lower_is_better: bool
) -> EnsemblePlan:
    """The first plan not tried yet: all members with each kind, then the best three with each kind."""
    ranked = sorted(members, key=lambda m: (m.score if lower_is_better else -m.score, m.node_id))
    ids_all = tuple(m.node_id for m in ranked)
    groups = [(ids_all, "all members")]
    if len(ranked) > 3:
        groups.append((ids_all[:3], "the best three members"))
    tried = {h.plan for h in history}
    for ids, label in groups:
        for kind, text in _KINDS.items():
            plan = f"{text}, over {label} ({len(ids)})"
            if plan not in tried:
                return EnsemblePlan(kind=kind, plan=plan, members=ids)
    raise EngineerFailure("every ensemble plan has been tried")
