"""Refinement plans for per-pixel scripts: the catalogue of changes to their files, model and train
blocks, which block to refine next, and the next plan for it.

A per-pixel script runs its model over every test pixel (millions), so an attempt costs a minute
or more and a five-minute run affords a handful. Its blocks have no "off" worth measuring (without
its files block it has no inputs at all), so there is no ablation: blocks are taken by the prior
gain of the plans they have left, each block once before any block a second time. Plans carry the
same "[plan: block +key ...]" tag as the general scripts' (refinements.py), so they survive the
journal; a plan that helped is kept and the next untried entry is added to it.

The model block comes first and holds the most plans (residual learning, longer boosting, larger
trees): its first batch fills every lane, and the next one combines the best with the next entry,
which is where a short run's one or two rounds gain most.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlestar import contract
from mlestar.engineers.base import EngineerFailure, PlanOutcome
from mlestar.engineers.builtin.media import pixel_script, render
from mlestar.engineers.builtin.media.options import MediaOptions
from mlestar.engineers.builtin.media.pixel_recipe import LIGHTGBM, PixelRecipe, read_pixel_recipe
from mlestar.engineers.builtin.media.refine import wider_windows
from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.engineers.builtin.refinements import parse_plan


@dataclass(frozen=True)
class Setting:
    """What the plans read beside the recipe."""

    media: MediaOptions
    """The files block's options (the task's defaults for a recipe without its own)."""
    fit_rows: int
    """Training rows a fit of the search has (its folds' rows but one fold's)."""

    def of(self, recipe: PixelRecipe) -> Setting:
        return Setting(recipe.media or self.media, self.fit_rows)


Change = Callable[[PixelRecipe, Setting], "PixelRecipe | None"]


@dataclass(frozen=True)
class PixelRefinement:
    key: str
    block: str
    text: str
    change: Change
    """The changed recipe; None when it does not apply."""
    gain: float
    """A prior of the relative score gain it brings (orders blocks and plans)."""


def _media(change: Callable[[MediaOptions], MediaOptions | None]) -> Change:
    def apply(recipe: PixelRecipe, setting: Setting) -> PixelRecipe | None:
        changed = change(setting.media)
        return None if changed is None else recipe.with_(media=changed)

    return apply


def _more_scales(media: MediaOptions) -> MediaOptions | None:
    """Windows between the ones there are (5 between 3 and 7, ...): finer steps of scale."""
    windows = sorted(media.pixel_windows)
    between = [a + (b - a) // 2 | 1 for a, b in zip(windows, windows[1:], strict=False) if b - a >= 4]
    added = tuple(sorted({*windows, *between}))
    return None if added == tuple(windows) else media.with_(pixel_windows=added)


def _lightgbm(**values: object) -> Change:
    def apply(recipe: PixelRecipe, setting: Setting) -> PixelRecipe | None:
        if recipe.model != LIGHTGBM or all(getattr(recipe, k) == v for k, v in values.items()):
            return None
        return recipe.with_(**values)

    return apply


def _residual(recipe: PixelRecipe, setting: Setting) -> PixelRecipe | None:
    # The change is learned from the pixel itself: the first feature, present with "intensity".
    if recipe.residual or "intensity" not in setting.media.pixel_groups:
        return None
    return recipe.with_(residual=True)


def _direct(recipe: PixelRecipe, setting: Setting) -> PixelRecipe | None:
    return recipe.with_(residual=False) if recipe.residual else None


def _more_pixels(recipe: PixelRecipe, setting: Setting) -> PixelRecipe | None:
    # Only where the search's fits are capped by the sample: elsewhere it would change nothing.
    if recipe.train_pixels >= 800_000 or setting.fit_rows <= recipe.train_pixels:
        return None
    return recipe.with_(train_pixels=2 * recipe.train_pixels)


CATALOGUE = (
    PixelRefinement("residual", "model", "learn each pixel's change from the input (answer minus pixel), not the answer", _residual, 0.03),
    PixelRefinement("longer", "model", "boost longer and slower (at most 400 rounds at 0.05, as many as help held-out pictures)", _lightgbm(trees=400, learning_rate=0.05, early_stopping=True), 0.02),
    PixelRefinement("wider_windows", "files", "add a neighbourhood twice as wide (the page behind larger stains)", _media(wider_windows), 0.015),
    PixelRefinement("more_scales", "files", "add neighbourhoods between the sizes there are (finer steps of scale)", _media(_more_scales), 0.01),
    PixelRefinement("more_leaves", "model", "grow larger trees (63 leaves)", _lightgbm(leaves=63), 0.008),
    PixelRefinement("direct", "model", "learn the answer itself, not its change from the input", _direct, 0.002),
    PixelRefinement("more_pixels", "train", "fit on twice as many sampled training pixels (where there are that many)", _more_pixels, 0.004),
)  # fmt: skip
"""Every change, best prior first."""
BLOCK_ORDER = ("model", "files", "train")
"""Refinable blocks; ties go to the earlier one."""


def entries(block: str, recipe: PixelRecipe, setting: Setting) -> list[PixelRefinement]:
    """The block's refinements that change this recipe, best prior first."""
    return [e for e in CATALOGUE if e.block == block and e.change(recipe, setting.of(recipe)) is not None]


def choose(recipe: PixelRecipe, setting: Setting, refined: list[str]) -> str:
    """The block to refine: among those with a plan left, the one refined fewest times, then the
    one whose best plan has the largest prior gain. EngineerFailure when none has a plan left."""
    options = [b for b in BLOCK_ORDER if entries(b, recipe, setting)]
    if not options:
        raise EngineerFailure("every block of the per-pixel script has been refined as far as it goes")

    def rank(block: str) -> tuple[int, float, int]:
        best = max(e.gain for e in entries(block, recipe, setting))
        return refined.count(block), -best, BLOCK_ORDER.index(block)

    return min(options, key=rank)


def plan_text(block: str, keys: tuple[str, ...]) -> str:
    texts = {e.key: e.text for e in CATALOGUE}
    sentence = "; ".join(texts.get(k, k) for k in keys)
    return f"On the {block} block: {sentence}. [plan: {block} {' '.join(f'+{k}' for k in keys)}]"


def next_plan(
    block: str, recipe: PixelRecipe, setting: Setting, history: list[PlanOutcome], lower_is_better: bool
) -> str:
    """The next plan for the block: the best earlier plan (when it helped) with one more untried
    entry, else the next untried entry alone."""
    tried = [parsed[1] for h in history if (parsed := parse_plan(h.plan)) and parsed[0] == block]
    untried = [e.key for e in entries(block, recipe, setting) if all(e.key not in keys for keys in tried)]
    best = _best_previous(block, history, lower_is_better)
    candidates = [(*best, key) for key in untried] if best else []
    candidates += [(key,) for key in untried]
    done = {frozenset(keys) for keys in tried}
    for keys in candidates:
        if frozenset(keys) not in done:
            return plan_text(block, keys)
    raise EngineerFailure(f"no refinement left to try on the {block} block of the per-pixel script")


def _best_previous(block: str, history: list[PlanOutcome], lower_is_better: bool) -> tuple[str, ...] | None:
    best, best_gain = None, 0.0
    for h in history:
        parsed = parse_plan(h.plan)
        if parsed is None or parsed[0] != block or h.score is None:
            continue
        gain = (h.base_score - h.score) if lower_is_better else (h.score - h.base_score)
        if gain > best_gain:
            best, best_gain = parsed[1], gain
    return best


def apply_plan(plan: str, recipe: PixelRecipe, setting: Setting) -> tuple[str, PixelRecipe]:
    """The block a plan changes and the recipe after it (entries applied in the plan's order)."""
    parsed = parse_plan(plan)
    if parsed is None:
        raise EngineerFailure(f"the built-in engineer cannot read this plan: {plan[:200]!r}")
    block, keys = parsed
    by_key = {e.key: e for e in CATALOGUE if e.block == block}
    for key in keys:
        entry = by_key.get(key)
        if entry is None:
            raise EngineerFailure(f"unknown refinement {key!r} for the {block} block of a per-pixel script")
        changed = entry.change(recipe, setting.of(recipe))
        recipe = changed or recipe
    return block, recipe


# -- the roles, on a script ---------------------------------------------------------------------
def setting_for(profile: ProfileView, data_dir: Path) -> Setting:
    """The task's default files options and the rows a fit of the search has (the run's folds)."""
    folds = np.load(data_dir / contract.FOLDS_FILE, mmap_mode="r")
    used = folds[folds >= 0]
    biggest_fold = int(np.bincount(used).max()) if len(used) else 0
    return Setting(render.default_options(profile), len(used) - biggest_fold)


def pick_block(script: str, setting: Setting, refined: list[str], lower_is_better: bool) -> tuple[str, str]:
    """The block to refine in a per-pixel script and the first plan for it."""
    recipe = read_pixel_recipe(script)
    block = choose(recipe, setting, refined)
    return block, next_plan(block, recipe, setting, [], lower_is_better)


def plan_for(
    script: str, block: str, setting: Setting, history: list[PlanOutcome], lower_is_better: bool
) -> str:
    return next_plan(block, read_pixel_recipe(script), setting, history, lower_is_better)


def implement(script: str, block: str, plan: str, setting: Setting, profile: ProfileView) -> str:
    """The block's new body under the plan."""
    recipe = read_pixel_recipe(script)
    planned, changed = apply_plan(plan, recipe, setting)
    if planned != block:
        raise EngineerFailure(f"the plan is for the {planned} block, not {block}")
    if changed == recipe:
        raise EngineerFailure(f"the plan changes nothing in the {block} block")
    return pixel_script.render_block(block, changed, profile)


def refinable_blocks(script: str, setting: Setting) -> list[str]:
    recipe = read_pixel_recipe(script)
    return [b for b in BLOCK_ORDER if entries(b, recipe, setting)]
