"""Refinement plans: which catalogue entries the built-in engineer tries on one block, and in what order.

A plan is a set of catalogue entries applied together to the current script's block. Its text ends
with a tag such as "[plan: features +group_sizes +frequencies]" that implement() reads back, so a
plan survives a round trip through the journal. The next plan builds on the best previous one
when that one helped (keeping what worked and adding one untried entry), and otherwise tries the
next untried entry alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from mlestar.engineers.base import EngineerFailure, PlanOutcome
from mlestar.engineers.builtin.catalogue import Context, catalogue, entries_for
from mlestar.engineers.builtin.recipe import Recipe

REFINABLE = ("features", "files", "preprocess", "model", "train")
_TAG = re.compile(r"\[plan: (\w+)((?: [+\w:.-]+)*)\]")


def plan_text(block: str, keys: tuple[str, ...], c: Context) -> str:
    texts = {e.key: e.text for e in catalogue(c)}
    sentence = "; ".join(texts.get(k, k) for k in keys)
    tag = " ".join(f"+{k}" for k in keys)
    return f"On the {block} block: {sentence}. [plan: {block} {tag}]"


def parse_plan(plan: str) -> tuple[str, tuple[str, ...]] | None:
    match = _TAG.search(plan)
    if not match:
        return None
    return match.group(1), tuple(k[1:] for k in match.group(2).split() if k.startswith("+"))


def next_plan(block: str, recipe: Recipe, history: list[PlanOutcome], c: Context) -> str:
    """The next plan for the block given how the previous ones scored."""
    tried = [parsed[1] for h in history if (parsed := parse_plan(h.plan)) and parsed[0] == block]
    tried_keys = {k for keys in tried for k in keys}
    untried = [e.key for e in entries_for(block, recipe, c) if e.key not in tried_keys]
    best = _best_previous(block, history, c)
    candidates: list[tuple[str, ...]] = []
    if best is not None:
        # What worked stays; tuning that helped gets more time before anything else is added.
        if (
            "tuned" in best
            and "tune_longer" not in best
            and _applies_after("tune_longer", best, block, recipe, c)
        ):
            candidates.append((*best, "tune_longer"))
        candidates += [(*best, key) for key in untried]
    candidates += [(key,) for key in untried]
    done = {frozenset(keys) for keys in tried}
    for keys in candidates:
        if frozenset(keys) not in done:
            return plan_text(block, keys, c)
    raise EngineerFailure(f"no refinement left to try on the {block} block")


def _applies_after(key: str, keys: tuple[str, ...], block: str, recipe: Recipe, c: Context) -> bool:
    """Whether an entry applies to the recipe once the entries `keys` have changed it."""
    by_key = {e.key: e for e in catalogue(c) if e.block == block}
    for k in keys:
        entry = by_key.get(k)
        if entry is not None and entry.applies(recipe, c):
            recipe = entry.apply(recipe, c)
    return key in by_key and by_key[key].applies(recipe, c)


def _best_previous(block: str, history: list[PlanOutcome], c: Context) -> tuple[str, ...] | None:
    best, best_gain = None, 0.0
    for h in history:
        parsed = parse_plan(h.plan)
        if parsed is None or parsed[0] != block or h.score is None:
            continue
        gain = (h.base_score - h.score) if c.lower_is_better else (h.score - h.base_score)
        if gain > best_gain:
            best, best_gain = parsed[1], gain
    return best


Undo = Callable[[Recipe], "tuple[Recipe, str] | None"]


def apply_plan(plan: str, recipe: Recipe, c: Context, undo: Undo | None = None) -> tuple[str, Recipe]:
    """The block a plan changes and the recipe after it (entries applied in the plan's order).
    The entry "undo" resets the block the way its ablation did (undo gives that recipe)."""
    parsed = parse_plan(plan) or _guess(plan, c)
    if parsed is None:
        raise EngineerFailure(f"the built-in engineer cannot read this plan: {plan[:200]!r}")
    block, keys = parsed
    by_key = {e.key: e for e in catalogue(c) if e.block == block}
    for key in keys:
        if key == "undo":
            change = undo(recipe) if undo else None
            if change is None:
                raise EngineerFailure(f"nothing to undo in the {block} block")
            recipe = change[0]
            continue
        entry = by_key.get(key)
        if entry is None:
            raise EngineerFailure(f"unknown refinement {key!r} for the {block} block")
        if entry.applies(recipe, c):
            recipe = entry.apply(recipe, c)
    return block, recipe


def _guess(plan: str, c: Context) -> tuple[str, tuple[str, ...]] | None:
    """Plans written by someone else: match catalogue words (e.g. "tune", "group size")."""
    text = plan.lower()
    words = {
        "tuned": ("optuna", "tune", "hyperparameter"),
        "slower_learning": ("early stopping", "more trees", "learning rate"),
        "log_target": ("log1p", "log-transform", "log transform"),
        "group_sizes": ("group size", "group_size"),
        "frequencies": ("frequency encod",),
        "target_encoding": ("target encod",),
        "stack": ("stack",),
    }
    for key, needles in words.items():
        if any(n in text for n in needles):
            entry = next(e for e in catalogue(c) if e.key == key)
            return entry.block, (key,)
    return None
