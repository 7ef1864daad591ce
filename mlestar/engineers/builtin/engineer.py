"""The built-in engineer: every role of the MLE-STAR search, offline, from cards and a catalogue.

Deterministic: the same task profile, seed and scripts give the same answers. Scripts are
rendered from a recipe (see recipe.py) and read back from their blocks, so the engineer keeps no
state between calls and picks a run up again after a resume.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from mlestar.checks.leakage import column_leaks, static_leaks
from mlestar.engineers.base import (
    AblationResult,
    BlockChoice,
    Candidate,
    EngineerFailure,
    EnsembleMember,
    EnsemblePlan,
    LeakageReport,
    PlanOutcome,
    TaskContext,
    Usage,
    Variant,
)
from mlestar.engineers.builtin import ablation, debug, span
from mlestar.engineers.builtin import features as feats
from mlestar.engineers.builtin import members as mem
from mlestar.engineers.builtin.cards import Card, load_cards, rank_cards
from mlestar.engineers.builtin.catalogue import Context, entries_for
from mlestar.engineers.builtin.data_facts import with_facts
from mlestar.engineers.builtin.ensemble import next_ensemble
from mlestar.engineers.builtin.header import title_for
from mlestar.engineers.builtin.media import (
    box_script,
    cnn_script,
    mask_script,
    nearest_plans,
    nearest_script,
    pixel_plans,
    pixel_script,
    volume_script,
)
from mlestar.engineers.builtin.media import render as media
from mlestar.engineers.builtin.media.pixel_recipe import is_pixel_script
from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.engineers.builtin.recipe import (
    FILES_ON,
    NO_FILES,
    Recipe,
    read_recipe,
    render_block,
    render_script,
    settle,
)
from mlestar.engineers.builtin.refinements import REFINABLE, apply_plan, next_plan
from mlestar.engineers.builtin.views import TABLE_VIEWS
from mlestar.task.spec import ProblemType


class BuiltinEngineer:
    """Plays every role of the search without a language model (see mlestar.engineers.base)."""

    name = "builtin"

    def __init__(self, card_dirs: tuple[Path, ...] | list[Path] = ()) -> None:
        self.cards: dict[str, Card] = load_cards(tuple(Path(d) for d in card_dirs))

    # -- helpers -------------------------------------------------------------------------------
    def _profile(self, ctx: TaskContext) -> ProfileView:
        """The task profile with the facts read from the prepared tables (see data_facts)."""
        return ProfileView(with_facts(ctx.profile, ctx.data_dir))

    def _context(self, ctx: TaskContext) -> Context:
        return Context(self._profile(ctx), self.cards, ctx.script_budget_s, ctx.spec.lower_is_better)

    def _render(self, ctx: TaskContext, recipe: Recipe) -> str:
        return render_script(recipe, self._profile(ctx), self.cards, title_for(ctx), ctx.seed)

    def _pixel_setting(self, ctx: TaskContext) -> pixel_plans.Setting:
        return pixel_plans.setting_for(self._profile(ctx), ctx.data_dir)

    def _spelling(self, ctx: TaskContext) -> str | None:
        """How a nearest row's answer is written for this task; None where it is no answer."""
        if not nearest_script.is_nearest_task(self._profile(ctx), ctx.spec.baseline):
            return None
        return nearest_script.spelling_for(ctx.spec.metric, ctx.data_dir)

    def _recipe(self, script: str) -> Recipe:
        return read_recipe(script, self.cards)

    # -- roles ---------------------------------------------------------------------------------
    def retrieve(self, ctx: TaskContext, m: int) -> list[Candidate]:
        profile = self._profile(ctx)
        if span.is_span_task(profile):
            return span.candidates()[: max(m, 1)]
        if volume_script.is_volume_task(profile):
            return volume_script.candidates()[: max(m, 1)]
        if pixel_script.is_pixel_task(profile):
            return pixel_script.candidates()[: max(m, 1)]
        if mask_script.is_mask_task(profile):
            return mask_script.candidates()[: max(m, 1)]
        if box_script.is_box_task(profile):
            return box_script.candidates()[: max(m, 1)]
        if self._spelling(ctx) is not None:
            return nearest_script.candidates(profile)[: max(m, 1)]  # text answers no card writes
        ranked = rank_cards(self.cards, profile.profile, ctx.script_budget_s)
        if not ranked:
            raise EngineerFailure(
                f"no model card applies to a {profile.problem_type} task with these columns"
            )
        c = self._context(ctx)
        found = [
            Candidate(
                r.card.name,
                f"{r.card.title}. {r.card.summary}",
                self._example(r.card, c),
                r.card.source,
                r.card.family or r.card.name,
            )
            for r in ranked[: max(m, 1)]
        ]
        if m > 1 and cnn_script.offered(profile, ctx.script_budget_s):  # small pictures, torch found
            found.insert(min(1, len(found)), cnn_script.candidate())
        return found[: max(m, 1)]

    def _example(self, card: Card, c: Context) -> str:
        member = mem.member_for(card, c.profile.problem_type, c.profile.n_train)
        spec = mem.ModelSpec((member,), ablation.draft_options(c))
        return mem.render_model(spec, self.cards, c.profile.problem_type, c.profile.metric)

    def draft(self, ctx: TaskContext, candidate: Candidate) -> str:
        profile = self._profile(ctx)
        if candidate.name in span.NAMES:
            if not span.is_span_task(profile):
                raise EngineerFailure(f"{candidate.name} is for answers that are pieces of an input text")
            return span.script(candidate.name, profile, title_for(ctx), ctx.seed)
        if candidate.name in pixel_script.MODELS:
            return pixel_script.script(profile, candidate.name, ctx.seed)
        if candidate.name in volume_script.MODELS:
            if not volume_script.is_volume_task(profile):
                raise EngineerFailure(f"{candidate.name} is for run-length masks of folders of layers")
            return volume_script.script(profile, candidate.name, ctx.seed)
        if candidate.name in mask_script.MODELS:
            if not mask_script.is_mask_task(profile):
                raise EngineerFailure(
                    f"{candidate.name} is for run-length masks drawn on one picture per row"
                )
            return mask_script.script(profile, candidate.name, ctx.seed)
        if candidate.name in box_script.MODELS:
            if not box_script.is_box_task(profile):
                raise EngineerFailure(f"{candidate.name} is for box prediction strings, one picture per row")
            return box_script.script(profile, candidate.name, ctx.seed)
        if candidate.name in cnn_script.MODELS:
            if not cnn_script.is_cnn_task(profile):
                raise EngineerFailure(f"{candidate.name} is for one label per picture")
            return cnn_script.script(profile, ctx.seed, ctx.script_budget_s)
        if candidate.name in nearest_script.MODELS:
            spelling = self._spelling(ctx)
            if spelling is None:
                raise EngineerFailure(
                    f"{candidate.name} is for text answers where another row's answer is valid"
                )
            unit = nearest_script.unit_for(profile, ctx.data_dir)
            return nearest_script.script(profile, candidate.name, ctx.seed, spelling, unit)
        card = self._card_for(candidate, ctx)
        c = self._context(ctx)
        member = mem.member_for(card, profile.problem_type, profile.n_train)
        families = feats.draft_families(profile)
        if card.view in TABLE_VIEWS and profile.text:
            families = feats.canonical((*families, "text_stats", "text_topics"))  # the text, as numbers
        recipe = Recipe(
            families,
            mem.ModelSpec((member,), ablation.draft_options(c)),
            combine=ablation.draft_combine(c),
            files=FILES_ON if media.applies(profile) else NO_FILES,  # pictures and sounds are the inputs
        )
        return self._render(ctx, recipe)

    def _card_for(self, candidate: Candidate, ctx: TaskContext) -> Card:
        """The card a candidate names; for candidates found elsewhere, the closest applicable card."""
        if candidate.name in self.cards:
            return self.cards[candidate.name]
        key = "".join(ch for ch in candidate.name.lower() if ch.isalnum())
        ranked = [r.card for r in rank_cards(self.cards, self._profile(ctx).profile, ctx.script_budget_s)]
        for card in ranked:
            if card.name.replace("_", "") in key or key in card.name.replace("_", ""):
                return card
        if not ranked:
            raise EngineerFailure(f"no model card applies to this task (asked for {candidate.name!r})")
        return ranked[0]

    def merge(self, ctx: TaskContext, base: str, other: str, other_candidate: Candidate) -> str:
        if is_pixel_script(base):
            raise EngineerFailure("per-pixel scripts hold one model each: the ensemble stage combines them")
        if nearest_script.is_nearest_script(base):
            raise EngineerFailure("a nearest-answer script holds one rule: refinement changes it")
        if cnn_script.is_cnn_script(base) or cnn_script.is_cnn_script(other):
            raise EngineerFailure(
                "a CNN script holds one network: the ensemble stage combines it with others"
            )
        recipe, incoming = self._recipe(base), self._recipe(other)
        present = {m.card for m in recipe.model.members}
        new = tuple(m for m in incoming.model.members if m.card not in present)
        if not new:
            raise EngineerFailure(f"nothing to merge: {other_candidate.name} is already a member of the base")
        spec = recipe.model
        merged = recipe.with_(model=spec.with_(members=(*spec.members, *new)))
        return self._render(ctx, merged)

    def check_data_usage(self, ctx: TaskContext, script: str) -> str | None:
        if (
            is_pixel_script(script)
            or nearest_script.is_nearest_script(script)
            or cnn_script.is_cnn_script(script)
        ):
            return None  # its inputs are the rows' files, read in full by its files block
        recipe, profile = self._recipe(script), self._profile(ctx)
        revised = recipe
        if profile.files and recipe.files == NO_FILES:
            revised = revised.with_(files=FILES_ON)
        views_used = set(recipe.views_needed(self.cards))
        if (
            profile.text
            and not views_used & {"linear", "words", "chars"}
            and "text_stats" not in recipe.families
        ):
            revised = revised.with_(families=feats.canonical((*revised.families, "text_stats")))
        if revised == recipe:
            return None
        return self._render(ctx, revised)

    def check_leakage(self, ctx: TaskContext, script: str) -> LeakageReport:
        """Static findings on the script, plus columns that alone give the answer away. The obvious
        fix, dropping a train-only column the script uses as a feature, comes as fixed_code; a
        column that merely predicts too well is reported for review, not dropped (it may be real)."""
        train_only = list(ctx.profile.get("train_only", []))
        found = static_leaks(script, train_only, list(ctx.spec.train_target_columns))
        suspects = [
            c for c in ProfileView(ctx.profile).features if any(f"column {c!r}" in leak for leak in found)
        ]
        fixed = self._without_columns(ctx, script, suspects) if suspects else None
        return LeakageReport(tuple(found + column_leaks(ctx.data_dir, ctx.profile)), fixed)

    def _without_columns(self, ctx: TaskContext, script: str, columns: list[str]) -> str | None:
        try:
            recipe = self._recipe(script)
        except EngineerFailure:
            return None
        profile = dict(ctx.profile)
        profile["features"] = [c for c in ctx.profile.get("features", []) if c not in columns]
        slim = replace(ctx, profile=profile, screening=())
        return self._render(slim, recipe)

    def ablate(self, ctx: TaskContext, script: str, previous: list[str]) -> list[Variant]:
        if is_pixel_script(script):
            return []  # a variant costs a run over millions of pixels: plans go by their priors
        if nearest_script.is_nearest_script(script):
            return []  # without its features a row has nothing to be compared by
        if cnn_script.is_cnn_script(script):
            return []  # one network on the pictures themselves: no blocks to leave out
        return ablation.variants(script, self._recipe(script), self._context(ctx), previous)

    def summarize_ablation(self, ctx: TaskContext, results: list[AblationResult]) -> str:
        return ablation.summarize(results)

    def pick_block(self, ctx: TaskContext, script: str, summary: str, refined: list[str]) -> BlockChoice:
        if is_pixel_script(script):
            lower = ctx.spec.lower_is_better
            return BlockChoice(*pixel_plans.pick_block(script, self._pixel_setting(ctx), refined, lower))
        if nearest_script.is_nearest_script(script):
            if not nearest_plans.refinable_blocks(script):
                raise EngineerFailure("every setting of the nearest-answer script has been tried")
            return BlockChoice(
                nearest_plans.BLOCK, nearest_plans.next_plan(script, [], ctx.spec.lower_is_better)
            )
        if cnn_script.is_cnn_script(script):
            raise EngineerFailure("the CNN script has no refinement plans: its epochs are set by the budget")
        recipe, c = self._recipe(script), self._context(ctx)
        block, undo = ablation.choose(recipe, summary, refined, c)
        if not block:
            raise EngineerFailure("every block has been refined as far as the catalogue goes")
        plan = ablation.undo_plan(block, recipe, c) if undo else next_plan(block, recipe, [], c)
        return BlockChoice(block, plan)

    def plan_next(self, ctx: TaskContext, script: str, block: str, history: list[PlanOutcome]) -> str:
        if is_pixel_script(script):
            lower = ctx.spec.lower_is_better
            return pixel_plans.plan_for(script, block, self._pixel_setting(ctx), history, lower)
        if nearest_script.is_nearest_script(script):
            return nearest_plans.next_plan(script, history, ctx.spec.lower_is_better)
        return next_plan(block, self._recipe(script), history, self._context(ctx))

    def implement(self, ctx: TaskContext, script: str, block: str, plan: str) -> str:
        if is_pixel_script(script):
            return pixel_plans.implement(script, block, plan, self._pixel_setting(ctx), self._profile(ctx))
        if nearest_script.is_nearest_script(script):
            return nearest_plans.implement(script, block, plan)
        recipe, c = self._recipe(script), self._context(ctx)
        planned_block, new_recipe = apply_plan(plan, recipe, c, undo=lambda r: ablation.ablated(block, r, c))
        if planned_block != block:
            raise EngineerFailure(f"the plan is for the {planned_block} block, not {block}")
        if new_recipe == recipe:
            raise EngineerFailure(f"the plan changes nothing in the {block} block")
        return render_block(block, new_recipe, c.profile, self.cards)

    def settle(self, ctx: TaskContext, script: str) -> str:
        """After a block was spliced: load, train, predict and main in the form the recipe now calls
        for (the short single-member form, or members combined; fit_model where something calls it).
        Other engineers' scripts pass as is."""
        try:
            recipe = self._recipe(script)
        except EngineerFailure:
            return script
        return settle(script, recipe, self._profile(ctx), self.cards)

    def plan_ensemble(
        self, ctx: TaskContext, members: list[EnsembleMember], history: list[PlanOutcome]
    ) -> EnsemblePlan:
        if ctx.spec.problem_type is ProblemType.TEXT:
            raise EngineerFailure("answers that are text (masks, spans) cannot be averaged or stacked")
        return next_ensemble(members, history, ctx.spec.lower_is_better)

    def debug(self, ctx: TaskContext, script: str, error: str) -> str:
        return debug.fix(script, self._recipe(script), error, self._context(ctx))

    def take_usage(self) -> Usage:
        return Usage()

    # -- for other modules ---------------------------------------------------------------------
    def refinable_blocks(self, ctx: TaskContext, script: str) -> list[str]:
        if is_pixel_script(script):
            return pixel_plans.refinable_blocks(script, self._pixel_setting(ctx))
        if nearest_script.is_nearest_script(script):
            return nearest_plans.refinable_blocks(script)
        recipe, c = self._recipe(script), self._context(ctx)
        return [b for b in REFINABLE if entries_for(b, recipe, c)]
