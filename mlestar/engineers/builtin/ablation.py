"""Ablation: variants of a solution with one block turned off or reset, their summary, the choice.

Each variant differs from the script in exactly one block. The summary is plain text for people
(and for an LLM engineer); its "- block <name>: ... impact <+x>" lines are also what pick_block
reads back, so the built-in engineer needs no state between roles.
"""

from __future__ import annotations

import hashlib
import re

from mlestar.blocks import replace_block
from mlestar.engineers.base import AblationResult, Variant
from mlestar.engineers.builtin import members as mem
from mlestar.engineers.builtin.catalogue import Context, entries_for, log_loss_task, potential
from mlestar.engineers.builtin.media import render as media
from mlestar.engineers.builtin.recipe import FILES_OFF, FILES_ON, Recipe, render_block
from mlestar.engineers.builtin.views import ViewOptions

_IMPACT = re.compile(r"^- block (\w+): .*impact ([+-]\d+(?:\.\d+)?(?:e[+-]?\d+)?)", re.MULTILINE)
_COVERED = re.compile(r"^- block (\w+):", re.MULTILINE)
_FINGERPRINT = re.compile(r"\[script ([0-9a-f]{10})\]")
BLOCKS = ("features", "files", "model", "train", "preprocess")
"""Refinable blocks; ties go to the earlier one."""


def draft_model(recipe: Recipe, c: Context) -> mem.ModelSpec:
    """The members with their cards' defaults and only the options a draft gets."""
    members = tuple(
        mem.member_for(c.cards[m.card], c.profile.problem_type, c.profile.n_train, m.name)
        for m in recipe.model.members
    )
    return mem.ModelSpec(members, draft_options(c))


def draft_options(c: Context) -> tuple[str, ...]:
    p = c.profile
    rmsle = "rmsle" in p.metric or "msle" in p.metric
    return ("log_target",) if p.is_regression and rmsle and p.target_min > -1 else ()


def draft_combine(c: Context) -> str:
    """Log loss rewards calibrated probabilities: drafts stack (recalibrate) from the start; on text,
    a boosted meta-model that also reads the shape of the text does clearly better than a linear one."""
    if not log_loss_task(c):
        return "average"
    return "stack_boost" if c.profile.text else "stack"


def ablated(block: str, recipe: Recipe, c: Context) -> tuple[Recipe, str] | None:
    """The recipe with one block turned off or reset, and what that means; None if nothing to undo."""
    if block == "files" and recipe.files == FILES_ON and media.applies(c.profile):
        # Pictures and sounds are the inputs: their extraction goes back to its defaults, never off.
        if media.is_default(c.profile, recipe.media):
            return None
        return recipe.with_(media=None), "the default picture and sound features"
    if block == "files" and recipe.files == FILES_ON:
        return recipe.with_(files=FILES_OFF), "the rows' own files unused"
    if block == "features" and recipe.families:
        return recipe.with_(families=()), "raw columns only (no feature families)"
    if block == "preprocess" and not recipe.options.is_baseline():
        return recipe.with_(
            options=ViewOptions()
        ), "plain preprocessing (no rare grouping, median, standard scaling)"
    if block == "model":
        draft = draft_model(recipe, c)
        if draft != recipe.model:
            return recipe.with_(model=draft), "default settings of every member, draft options only"
        if len(recipe.model.members) > 1:
            last = recipe.model.members[-1]
            fewer = recipe.model.with_(members=recipe.model.members[:-1])
            return recipe.with_(model=fewer), f"without the {last.name} member"
    if block == "train" and recipe.combine != "average":
        return recipe.with_(combine="average"), "a plain average of the members instead of stacking"
    return None


def fingerprint(script: str) -> str:
    return hashlib.sha256(script.encode()).hexdigest()[:10]


def variants(script: str, recipe: Recipe, c: Context, previous: list[str]) -> list[Variant]:
    """One variant per block that can be undone. Blocks an earlier ablation already measured on this
    very script are skipped (same script, same answer); blocks measured on an older script are
    measured again only when nothing new is left."""
    found = []
    tag = fingerprint(script)
    for block in ("files", "features", "preprocess", "model", "train"):
        change = ablated(block, recipe, c)
        if change is None:
            continue
        new_recipe, meaning = change
        # In the script's own form (a member fewer still runs in the combining one): one block differs.
        body = render_block(block, new_recipe, c.profile, c.cards, single=recipe.single)
        code = replace_block(script, block, body)
        found.append(Variant(f"ablate-{block}", f"block {block}: {meaning} [script {tag}]", block, code))
    same_script = {b for s in previous if tag in _FINGERPRINT.findall(s) for b in _COVERED.findall(s)}
    found = [v for v in found if v.block not in same_script]
    covered = {b for s in previous for b in _COVERED.findall(s)}
    fresh = [v for v in found if v.block not in covered]
    return fresh or found


def summarize(results: list[AblationResult]) -> str:
    if not results:
        return "Ablation: nothing to ablate."
    base = results[0].base_score
    direction = "lower" if results[0].lower_is_better else "higher"
    tags = _FINGERPRINT.findall(results[0].variant.description)
    tag = f" [script {tags[0]}]" if tags else ""
    lines = [
        f"Ablation of the current solution{tag} (score {base:.5f}, {direction} is better), most impactful first:"
    ]
    ranked = sorted(results, key=lambda r: (r.impact is None, -abs(r.impact or 0.0), r.variant.block))
    for r in ranked:
        meaning = _FINGERPRINT.sub("", r.variant.description.split(": ", 1)[-1]).strip()
        if r.score is None or r.impact is None:
            lines.append(f"- block {r.variant.block}: with {meaning}, the variant failed (no score)")
            continue
        verdict = "the part helps" if r.impact > 0 else "the part hurts" if r.impact < 0 else "no effect"
        lines.append(
            f"- block {r.variant.block}: with {meaning}, the score is {r.score:.5f}: impact {r.impact:+.5f} ({verdict})"
        )
    return "\n".join(lines)


def impacts(summary: str) -> dict[str, float]:
    return {block: float(value) for block, value in _IMPACT.findall(summary)}


def choose(recipe: Recipe, summary: str, refined: list[str], c: Context) -> tuple[str, bool]:
    """The block to refine, and whether to start by undoing it (the ablation found it harmful).

    A part that hurts comes first: taking it out is a measured gain. Otherwise the most impactful
    block with a plan left, preferring blocks refined fewer times before. Impact is relative: how much the
    score moves without the block, or the best prior gain of the block's catalogue entries,
    whichever is larger, so a block never ablated still competes through what its plans bring.
    The files block is only ever undone (its one plan, on or off, is what the ablation measured),
    but for pictures and sounds, whose extraction settings have plans of their own."""
    found = impacts(summary)
    harmful = sorted((v, b) for b, v in found.items() if v < 0 and b not in refined and b in BLOCKS)
    if harmful and ablated(harmful[0][1], recipe, c) is not None:
        return harmful[0][1], True
    scale = max(abs(_base_score(summary)), 1e-9)
    options = [b for b in BLOCKS if (b != "files" or media.applies(c.profile)) and entries_for(b, recipe, c)]
    if not options:
        return "", False

    def rank(block: str) -> tuple[int, float, int]:
        # Once every block has had its turn, the one refined fewest times goes next: a block that
        # was just refined is not picked again while another still waits for its second turn.
        measured = abs(found.get(block, 0.0)) / scale
        return (refined.count(block), -max(measured, potential(block, recipe, c)), BLOCKS.index(block))

    return sorted(options, key=rank)[0], False


def undo_plan(block: str, recipe: Recipe, c: Context) -> str:
    change = ablated(block, recipe, c)
    meaning = change[1] if change else "its baseline"
    return f"On the {block} block: the ablation found this part harmful; use {meaning} instead. [plan: {block} +undo]"


def _base_score(summary: str) -> float:
    match = re.search(r"\(score ([-+\d.e]+),", summary)
    return float(match.group(1)) if match else 1.0
