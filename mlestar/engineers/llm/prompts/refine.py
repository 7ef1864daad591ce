"""Prompts of the refinement loop: ablation, its summary, block choice, plans, implementation."""

from __future__ import annotations

from collections.abc import Sequence

from mlestar import blocks
from mlestar.engineers.base import AblationResult, PlanOutcome, TaskContext
from mlestar.engineers.llm.prompts.common import clip, fenced, script_view, system, task_brief, user
from mlestar.engineers.llm.prompts.room import DEFAULT_ROOM, Room
from mlestar.llm.client import Message

VARIANTS_FORMAT = """\
Reply with one section per variant, in this exact form:
VARIANT: <short name, letters digits and dashes>
BLOCK: <the name of the one block it changes>
WHAT: <one line: what is turned off or simplified>
```python
<the new code of that block alone, without its marker line>
```"""

PICK_FORMAT = """\
Reply with a JSON object and nothing else:
{"block": "<the block's name exactly as in its marker line>", "plan": "<3 to 5 sentences>"}"""


def ablate(
    ctx: TaskContext, script: str, previous: Sequence[str], n_variants: str, *, room: Room = DEFAULT_ROOM
) -> list[Message]:
    earlier = ""
    if previous:
        listed = "\n".join(f"- {clip(s, 500)}" for s in previous[-3:])
        earlier = "Earlier ablation summaries (study other parts now):\n" + clip(listed, room.history)
    names = ", ".join(blocks.block_names(script))
    duty = "You design an ablation study that shows which parts of the solution matter."
    return [
        system("ablate", duty, room=room),
        user(
            task_brief(ctx, room),
            "CURRENT SOLUTION:\n" + script_view(script, room.script),
            earlier,
            f"Propose {n_variants} variants of this solution. Each changes exactly one block (of: "
            f"{names}): turn a part off or replace it by the simplest thing that still works, so "
            "that comparing its score with the current one measures what the part contributes. "
            "Each variant must still run end to end and write both prediction files; the harness "
            "runs and scores every variant itself.",
            VARIANTS_FORMAT,
        ),
    ]


def summarize_ablation(
    ctx: TaskContext, results: Sequence[AblationResult], *, room: Room = DEFAULT_ROOM
) -> list[Message]:
    direction = "lower" if ctx.spec.lower_is_better else "higher"
    rows = []
    for r in results:
        score = "failed" if r.score is None else f"{r.score:.6g}"
        impact = "-" if r.impact is None else f"{r.impact:+.6g}"
        rows.append(
            f"- {r.variant.name} (block {r.variant.block}): {clip(r.variant.description, 300)} | "
            f"score {score} vs base {r.base_score:.6g} | contribution of the part {impact}"
        )
    return [
        system("summarize_ablation", "You summarise an ablation study for the next decisions.", code=False),
        user(
            f"Metric {ctx.spec.metric}, {direction} is better. A positive contribution means the "
            "solution gets worse without that part, so the part helps.",
            "ABLATION RESULTS (scored by the harness):\n" + clip("\n".join(rows), room.history),
            "Summarise in at most 5 sentences which parts matter most and which matter little or "
            "hurt. Plain text, no code.",
        ),
    ]


def pick_block(
    ctx: TaskContext, script: str, summary: str, refined: Sequence[str], *, room: Room = DEFAULT_ROOM
) -> list[Message]:
    done = ", ".join(refined) if refined else "none yet"
    return [
        system("pick_block", "You choose the one code block whose improvement should help most.", room=room),
        user(
            task_brief(ctx, room),
            "CURRENT SOLUTION:\n" + script_view(script, room.script),
            "ABLATION SUMMARY:\n" + clip(summary, min(1500, room.history)),
            f"Blocks refined in earlier rounds: {done}. Choose one block not refined before, unless "
            "every block has been. Then write a first plan to improve it: concrete, 3 to 5 "
            "sentences, cheap enough to run within the time limit (no large hyper-parameter "
            "searches, no huge models).",
            PICK_FORMAT,
        ),
    ]


def plan_next(
    ctx: TaskContext, script: str, block: str, history: Sequence[PlanOutcome], *, room: Room = DEFAULT_ROOM
) -> list[Message]:
    direction = "lower" if ctx.spec.lower_is_better else "higher"
    tried = []
    for i, h in shown_plans(history, ctx.spec.lower_is_better):
        score = "failed or still running" if h.score is None else f"{h.score:.6g}"
        tried.append(f"{i}. {clip(h.plan, 500)}\n   score {score} (the solution before: {h.base_score:.6g})")
    return [
        system("plan_next", "You plan the next improvement of one code block.", code=False),
        user(
            task_brief(ctx, room),
            f"BLOCK {block} of the current solution:\n" + fenced(_block_or_all(script, block, room.script)),
            f"Plans tried on this block ({ctx.spec.metric}, {direction} is better):\n"
            + (clip("\n".join(tried), room.history) if tried else "none"),
            "Propose one new plan, different from those above, that is likely to beat the best of "
            "them: 3 to 5 concrete sentences, cheap enough for the time limit. Reply with the plan "
            "as plain text, no code.",
        ),
    ]


def implement(
    ctx: TaskContext, script: str, block: str, plan: str, *, room: Room = DEFAULT_ROOM
) -> list[Message]:
    return [
        system("implement", "You rewrite one code block to carry out a plan.", room=room),
        user(
            task_brief(ctx, room),
            "CURRENT SOLUTION:\n" + script_view(script, room.script, focus=block),
            f"PLAN for block {block}:\n{clip(plan, 2000)}",
            f"Rewrite block {block} alone to carry out the plan. The rest of the script stays "
            "unchanged, so keep every name that later blocks use. Reply with the new code of the "
            "block, without its marker line, in one ```python fenced block.",
        ),
    ]


def shown_plans(
    history: Sequence[PlanOutcome], lower_is_better: bool, best: int = 4, last: int = 4
) -> list[tuple[int, PlanOutcome]]:
    """The plans worth showing when there are many: the best few and the latest few, numbered."""
    numbered = list(enumerate(history, start=1))
    if len(numbered) <= best + last:
        return numbered
    scored = [p for p in numbered if p[1].score is not None]
    sign = 1.0 if lower_is_better else -1.0
    top = sorted(scored, key=lambda p: sign * p[1].score)[:best]  # type: ignore[operator]
    keep = {i for i, _ in top} | {i for i, _ in numbered[-last:]}
    return [p for p in numbered if p[0] in keep]


def _block_or_all(script: str, block: str, limit: int) -> str:
    try:
        return clip(blocks.get_block(script, block), limit)
    except blocks.BlockError:
        return clip(script, limit)
