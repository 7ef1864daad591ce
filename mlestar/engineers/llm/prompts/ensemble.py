"""The prompt of the ensemble stage: how the harness should combine stored predictions."""

from __future__ import annotations

from collections.abc import Sequence

from mlestar.engineers.base import EnsembleMember, PlanOutcome, TaskContext
from mlestar.engineers.llm.prompts.common import clip, system, user
from mlestar.engineers.llm.prompts.refine import shown_plans
from mlestar.engineers.llm.prompts.room import DEFAULT_ROOM, Room
from mlestar.llm.client import Message

ENSEMBLE_FORMAT = """\
Reply with a JSON object and nothing else:
{"kind": "average" | "greedy" | "stacking", "members": ["<solution id>", ...], "plan": "<1 to 3 sentences>"}"""


def plan_ensemble(
    ctx: TaskContext,
    members: Sequence[EnsembleMember],
    history: Sequence[PlanOutcome],
    *,
    room: Room = DEFAULT_ROOM,
) -> list[Message]:
    direction = "lower" if ctx.spec.lower_is_better else "higher"
    listing = "\n".join(f"- {m.node_id}: score {m.score:.6g}; {clip(m.plan, 300)}" for m in members[:12])
    tried = "\n".join(
        f"{i}. {clip(h.plan, 300)} -> {'failed' if h.score is None else f'{h.score:.6g}'}"
        for i, h in shown_plans(history, ctx.spec.lower_is_better)
    )
    return [
        system("plan_ensemble", "You decide how to combine the best solutions.", code=False),
        user(
            f"Metric {ctx.spec.metric}, {direction} is better.",
            "SOLUTIONS (the harness stored each one's out-of-fold and test predictions):\n"
            + clip(listing, room.history),
            "Earlier ensemble plans and their scores:\n" + (clip(tried, room.history) or "none"),
            "The harness combines stored predictions without retraining: 'average' (plain mean), "
            "'greedy' (weights by greedy forward selection, checked on held-out folds), 'stacking' "
            "(a simple meta-model fitted with nested folds). Choose the method and the members most "
            "likely to beat the earlier plans; prefer diverse members.",
            ENSEMBLE_FORMAT,
        ),
    ]
