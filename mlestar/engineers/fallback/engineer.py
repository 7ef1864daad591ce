"""The engineer the LLM engineer falls back on, when its model fails a role, its provider is
down, or its budget is spent. It makes progress from any script, whoever wrote it:

  retrieve, draft          the built-in engineer's cards and drafts (its own line of solutions)
  plan_ensemble            ensembles of stored predictions (average, greedy weights, stacking),
                           which combine model-written and built-in solutions alike
  check_leakage            the static and dynamic leakage checks, on any script
  summarize_ablation       the built-in summary, on any results
  merge, check_data_usage  the built-in engineer, on its own scripts only; on a model-written
                           one the step fails and the search goes on (the ensemble stage
                           combines solutions instead of a merge)
  ablate, pick_block,      the built-in engineer on its own scripts; on any other, generic edits
  plan_next, implement     of the named blocks: the model settings a block holds, turned one
                           well-known step at a time (edits.py)
  debug                    the built-in engineer on its own scripts; a model-written script that
                           timed out gets half its rounds
"""

from __future__ import annotations

from mlestar import blocks
from mlestar.engineers.base import (
    AblationResult,
    BlockChoice,
    Candidate,
    Engineer,
    EngineerFailure,
    EnsembleMember,
    EnsemblePlan,
    LeakageReport,
    PlanOutcome,
    TaskContext,
    Usage,
    Variant,
)
from mlestar.engineers.fallback import edits


class FallbackEngineer:
    def __init__(self, builtin: Engineer) -> None:
        self.builtin = builtin
        self.name = f"fallback:{builtin.name}"

    # -- the built-in engineer's own line, and what works on any script -------------------------
    def retrieve(self, ctx: TaskContext, m: int) -> list[Candidate]:
        return self.builtin.retrieve(ctx, m)

    def draft(self, ctx: TaskContext, candidate: Candidate) -> str:
        return self.builtin.draft(ctx, candidate)

    def merge(self, ctx: TaskContext, base: str, other: str, other_candidate: Candidate) -> str:
        return self.builtin.merge(ctx, base, other, other_candidate)

    def check_data_usage(self, ctx: TaskContext, script: str) -> str | None:
        return self.builtin.check_data_usage(ctx, script)

    def check_leakage(self, ctx: TaskContext, script: str) -> LeakageReport:
        return self.builtin.check_leakage(ctx, script)

    def summarize_ablation(self, ctx: TaskContext, results: list[AblationResult]) -> str:
        return self.builtin.summarize_ablation(ctx, results)

    def plan_ensemble(
        self, ctx: TaskContext, members: list[EnsembleMember], history: list[PlanOutcome]
    ) -> EnsemblePlan:
        return self.builtin.plan_ensemble(ctx, members, history)

    def take_usage(self) -> Usage:
        return self.builtin.take_usage()

    # -- the built-in engineer where it can read the script, generic edits where it cannot ------
    def ablate(self, ctx: TaskContext, script: str, previous: list[str]) -> list[Variant]:
        try:
            return self.builtin.ablate(ctx, script, previous)
        except EngineerFailure as builtin_said:
            variants = generic_variants(script)
            if not variants:
                raise EngineerFailure(f"{builtin_said}; and no block holds a setting to take out") from None
            return variants

    def pick_block(self, ctx: TaskContext, script: str, summary: str, refined: list[str]) -> BlockChoice:
        try:
            return self.builtin.pick_block(ctx, script, summary, refined)
        except EngineerFailure as builtin_said:
            names = blocks.block_names(script)
            for block in [n for n in names if n not in refined] + [n for n in names if n in refined]:
                found = edits.first_edit(script, block, edits.MOVES)
                if found is not None:
                    return BlockChoice(block, found.plan)
            raise EngineerFailure(f"{builtin_said}; and no block holds a setting to turn") from None

    def plan_next(self, ctx: TaskContext, script: str, block: str, history: list[PlanOutcome]) -> str:
        tried = {named[0].name for h in history if (named := edits.move_of(h.plan))}
        if not tried:
            try:
                return self.builtin.plan_next(ctx, script, block, history)
            except EngineerFailure:
                pass
        next_edit = edits.first_edit(script, block, edits.MOVES, skip=tried)
        if next_edit is None:
            raise EngineerFailure(f"no generic edit of block {block} is left to try")
        return next_edit.plan

    def implement(self, ctx: TaskContext, script: str, block: str, plan: str) -> str:
        generic = edits.move_of(plan)
        if generic is None:
            return self.builtin.implement(ctx, script, block, plan)
        move, planned = generic
        if planned != block:
            raise EngineerFailure(f"the plan is for block {planned}, not {block}")
        found = edits.edit(script, block, move)
        if found is None:
            raise EngineerFailure(f"the edit {move.name} changes nothing in block {block}")
        return found.body

    def settle(self, ctx: TaskContext, script: str) -> str:
        return self.builtin.settle(ctx, script)  # the built-in engineer's scripts only; others as is

    def debug(self, ctx: TaskContext, script: str, error: str) -> str:
        try:
            return self.builtin.debug(ctx, script, error)
        except EngineerFailure as builtin_said:
            if "timed out" not in error:
                raise
            faster = speed_up(script)
            if faster is None:
                raise EngineerFailure(f"{builtin_said}; and the script has no rounds to cut") from None
            return faster


def generic_variants(script: str) -> list[Variant]:
    """One ablation variant per block holding settings: most of its rounds or of its penalty
    taken out, to measure what the block's model contributes."""
    variants = []
    for block in blocks.block_names(script):
        found = edits.first_edit(script, block, edits.ABLATIONS)
        if found is not None:
            code = blocks.replace_block(script, block, found.body)
            what = f"block {block}: {found.move.why} ({', '.join(found.changed)})"
            variants.append(Variant(f"{block}-{found.move.name}", what, block, code))
    return variants


def speed_up(script: str) -> str | None:
    """The script with half the rounds in every block that has some; None when none has."""
    faster = script
    for block in blocks.block_names(script):
        found = edits.edit(faster, block, edits.SPEED_UP)
        if found is not None:
            faster = blocks.replace_block(faster, block, found.body)
    return None if faster == script else faster
