"""Deterministic fixes for failing built-in scripts.

The failing line's block (from the traceback) is reset to its baseline; failures that point to a
member (a missing package, a library error) drop that member; out-of-memory and time-outs drop
the costliest parts. With no clue left, blocks are reset one by one, most refined first.
"""

from __future__ import annotations

import re

from mlestar.blocks import parse_blocks, replace_block
from mlestar.engineers.base import EngineerFailure
from mlestar.engineers.builtin import features as feats
from mlestar.engineers.builtin import members as mem
from mlestar.engineers.builtin.ablation import ablated, draft_model
from mlestar.engineers.builtin.catalogue import Context
from mlestar.engineers.builtin.recipe import FILES_OFF, FILES_ON, Recipe, render_block, settle
from mlestar.engineers.builtin.views import ViewOptions

_FRAME = re.compile(r'File "([^"]+)", line (\d+)')
_LIBRARY = ("site-packages", "dist-packages", "/lib/python", "<frozen", "<string>")
_MISSING = re.compile(r"No module named '([\w.]+)'")
_HEAVY = (
    "memoryerror",
    "unable to allocate",
    "out of memory",
    "killed",
    "timed out",
    "timeout",
    "time limit",
)


def fix(script: str, recipe: Recipe, error: str, c: Context) -> str:
    """A script that avoids the failure, changing as little as possible."""
    lowered = error.lower()
    missing = _MISSING.search(error)
    attempts = []
    if missing:
        attempts.append(_without_module(recipe, missing.group(1), c))
    if any(word in lowered for word in _HEAVY):
        attempts.append(_lighter(recipe, c))
    block = failing_block(script, error)
    if block:
        attempts.append(_reset(block, recipe, c))
    attempts.append(_member_named_in(recipe, lowered, c))
    attempts += [_reset(b, recipe, c) for b in ("model", "train", "files", "features", "preprocess")]
    for candidate in attempts:
        if candidate is not None and candidate != recipe:
            return rewrite(script, recipe, candidate, c)
    raise EngineerFailure("the built-in engineer has no fix left for this failure")


def rewrite(script: str, old: Recipe, new: Recipe, c: Context) -> str:
    """Replace exactly the blocks whose rendering changed (the views follow the members)."""
    new = new.with_views_needed(c.cards)
    for block in ("files", "features", "preprocess", "model", "train"):
        if block == "files" and old.files == "none":
            continue
        body = render_block(block, new, c.profile, c.cards)
        if body.strip() != render_block(block, old, c.profile, c.cards).strip():
            script = replace_block(script, block, body)
    return settle(script, new, c.profile, c.cards)


def failing_block(script: str, error: str) -> str | None:
    """The block holding the deepest line of the script named in the traceback."""
    lines = [int(n) for path, n in _FRAME.findall(error) if not any(part in path for part in _LIBRARY)]
    if not lines:
        return None
    offset = _offset_of_line(script, lines[-1])
    for block in parse_blocks(script):
        if block.start <= offset < block.end:
            return block.name
    return None


def _offset_of_line(script: str, line: int) -> int:
    return sum(len(s) + 1 for s in script.split("\n")[: max(line - 1, 0)])


def _reset(block: str, recipe: Recipe, c: Context) -> Recipe | None:
    if block == "model":
        draft = draft_model(recipe, c)
        if draft != recipe.model:
            return recipe.with_(model=draft)
        return _drop_last_member(recipe)
    if block == "features" and recipe.families:
        kept = tuple(f for f in recipe.families if f in feats.DRAFT_FAMILIES)
        return recipe.with_(families=kept if kept != recipe.families else ())
    if block == "preprocess" and not recipe.options.is_baseline():
        return recipe.with_(options=ViewOptions())
    if block == "files" and recipe.files == FILES_ON:
        return recipe.with_(files=FILES_OFF)
    change = ablated(block, recipe, c)
    return change[0] if change else None


def _drop_last_member(recipe: Recipe) -> Recipe | None:
    if len(recipe.model.members) < 2:
        return None
    spec = recipe.model
    return recipe.with_(model=spec.with_(members=spec.members[:-1]))


def _without_module(recipe: Recipe, module: str, c: Context) -> Recipe | None:
    root = module.split(".")[0]
    if root == "PIL":
        return recipe.with_(files=FILES_OFF) if recipe.files == FILES_ON else None
    if root == "optuna" and recipe.model.has("tuned"):
        spec = recipe.model
        return recipe.with_(
            model=spec.with_(options=tuple(o for o in spec.options if o != "tuned"), frozen=())
        )
    return _keep_members(recipe, lambda m: root not in " ".join(c.cards[m.card].imports.values()))


def _member_named_in(recipe: Recipe, lowered: str, c: Context) -> Recipe | None:
    """Drop a member whose library the error names (e.g. a CatBoostError), if others remain."""

    def named(m: mem.Member) -> bool:
        libraries = {
            line.split()[1].split(".")[0]
            for line in " \n".join(c.cards[m.card].imports.values()).splitlines()
            if line.strip()
        }
        return any(lib.lower() in lowered for lib in libraries - {"sklearn", "scipy", "numpy"})

    return _keep_members(recipe, lambda m: not named(m))


def _keep_members(recipe: Recipe, keep: object) -> Recipe | None:
    kept = tuple(m for m in recipe.model.members if keep(m))  # type: ignore[operator]
    if not kept or len(kept) == len(recipe.model.members):
        return None
    spec = recipe.model
    return recipe.with_(model=spec.with_(members=kept))


def _lighter(recipe: Recipe, c: Context) -> Recipe | None:
    """Out of memory or time: drop tuning and seed bags and go back to the cards' settings (a slower
    learning rate means more rounds), then drop the costliest member."""
    spec = recipe.model
    heavy = {"tuned", "seed_bagging"} & set(spec.options)
    defaults = tuple(
        mem.member_for(c.cards[m.card], c.profile.problem_type, c.profile.n_train, m.name)
        for m in spec.members
    )
    if heavy or defaults != spec.members:
        options = tuple(o for o in spec.options if o not in heavy)
        return recipe.with_(model=spec.with_(members=defaults, options=options, tune_trials=0, frozen=()))
    if len(spec.members) > 1:
        costliest = max(spec.members, key=lambda m: c.cards[m.card].cost)
        return _keep_members(recipe, lambda m: m != costliest)
    return None
