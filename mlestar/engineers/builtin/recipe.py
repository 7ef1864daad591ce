"""A recipe: everything the built-in engineer varies in a script, block by block.

Scripts are rendered from a recipe and the task profile, one renderer per block; a recipe is read
back from a script's blocks (constants and helper names), so any role can pick up a script the
search hands back, including after a resume. Scripts written by someone else are refused with
EngineerFailure.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from mlestar.blocks import BlockError, block_names, get_block, replace_block
from mlestar.contract import BLOCK_MARKER
from mlestar.engineers.base import EngineerFailure
from mlestar.engineers.builtin import features as feats
from mlestar.engineers.builtin import files as files_block
from mlestar.engineers.builtin import fixed_blocks, views
from mlestar.engineers.builtin import members as mem
from mlestar.engineers.builtin.cards import Card
from mlestar.engineers.builtin.combiners import read_combine, render_train
from mlestar.engineers.builtin.header import render_header
from mlestar.engineers.builtin.media import render as media
from mlestar.engineers.builtin.media.options import MediaOptions
from mlestar.engineers.builtin.media.options import read_options as read_media_options
from mlestar.engineers.builtin.profile_view import ProfileView

BLOCK_ORDER = ("load", "files", "features", "preprocess", "model", "train", "predict", "main")
FILES_ON, FILES_OFF, NO_FILES = "on", "off", "none"


@dataclass(frozen=True)
class Recipe:
    families: tuple[str, ...]
    model: mem.ModelSpec
    options: views.ViewOptions = field(default_factory=views.ViewOptions)
    combine: str = "average"
    files: str = NO_FILES
    views: tuple[str, ...] = ()
    """The views the preprocess block defines; a whole script is rendered with exactly the views its
    members read, a refined block keeps what the script had (see with_views_needed)."""
    media: MediaOptions | None = None
    """What the files block extracts from pictures, sounds and numeric files (None: the defaults)."""

    def with_(self, **changes: object) -> Recipe:
        return replace(self, **changes)  # type: ignore[arg-type]

    def views_needed(self, cards: dict[str, Card]) -> tuple[str, ...]:
        needed = {cards[m.card].view for m in self.model.members}
        return tuple(v for v in views.VIEW_ORDER if v in needed)

    def with_views_needed(self, cards: dict[str, Card]) -> Recipe:
        return self.with_(views=self.views_needed(cards))

    @property
    def single(self) -> bool:
        """One member averaged: train, predict and main take their short form (no Combiner)."""
        return len(self.model.members) == 1 and self.combine == "average"

    @property
    def block_list(self) -> list[str]:
        return [b for b in BLOCK_ORDER if b != "files" or self.files != NO_FILES]


def render_block(
    name: str, recipe: Recipe, profile: ProfileView, cards: dict[str, Card], single: bool | None = None
) -> str:
    """The body of one block (without its marker line). `single` overrides the recipe's form of
    train, predict and main (e.g. to keep a script's combining form for a one-member variant)."""
    single = recipe.single if single is None else single
    if name == "load":
        return _load(recipe, profile, tunes=recipe.model.has("tuned") and not recipe.model.frozen)
    if name == "files":
        return (
            files_block.render_files(profile, recipe.media) if recipe.files == FILES_ON else files_block.OFF
        )
    if name == "features":
        return feats.render_features(profile, recipe.families, recipe.files != NO_FILES)
    if name == "preprocess":
        return views.render_preprocess(recipe.views or recipe.views_needed(cards), recipe.options, profile)
    if name == "model":
        return mem.render_model(recipe.model, cards, profile.problem_type, profile.metric)
    if name == "train":
        return render_train(recipe.combine, profile.problem_type, bool(profile.text), single)
    if name == "predict":
        return fixed_blocks.render_predict(single, files=recipe.files != NO_FILES)
    if name == "main":
        return fixed_blocks.render_main(single)
    raise EngineerFailure(f"the built-in engineer has no block named {name!r}")


def _load(recipe: Recipe, profile: ProfileView, tunes: bool) -> str:
    """The load block; `tunes`: the model block holds the code that tunes (it calls fit_model)."""
    problem = profile.problem_type
    return fixed_blocks.render_load(problem, fixed_blocks.needs_fit_model(problem, tunes, recipe.combine))


def render_script(recipe: Recipe, profile: ProfileView, cards: dict[str, Card], title: str, seed: int) -> str:
    """The whole script; its preprocess block holds exactly the views the members read."""
    recipe = recipe.with_views_needed(cards)
    parts = [render_header(title, profile, seed)]
    for name in recipe.block_list:
        body = render_block(name, recipe, profile, cards).strip("\n")
        parts.append(f"{BLOCK_MARKER}{name}\n{body}\n")
    return "\n\n".join(p.rstrip("\n") + "\n" for p in parts).replace("\n\n\n\n", "\n\n\n")


TUNES = "def tune("
"""What a model block that tunes its settings defines (see tuning.py)."""
SHAPED_BLOCKS = ("load", "train", "predict", "main")
"""The blocks whose form follows the recipe's shape (one member averaged, or members combined; load
defines fit_model only for the code that calls it)."""


def settle(script: str, recipe: Recipe, profile: ProfileView, cards: dict[str, Card]) -> str:
    """The script with its shaped blocks re-rendered for `recipe`: after one block was spliced (a
    member added, a stacking train block, tuning), the others take the form the whole recipe calls for.
    The header and the other blocks stay as they are. A frozen script keeps the code that tuned it
    (it no longer runs), so load keeps fit_model while the model block holds that code."""
    tunes = TUNES in get_block(script, "model")
    for name in SHAPED_BLOCKS:
        body = _load(recipe, profile, tunes) if name == "load" else render_block(name, recipe, profile, cards)
        script = replace_block(script, name, body)
    return script


def read_recipe(script: str, cards: dict[str, Card]) -> Recipe:
    """The recipe a built-in script was rendered from; EngineerFailure for any other script."""
    names = block_names(script)
    if [n for n in names if n != "files"] != [b for b in BLOCK_ORDER if b != "files"]:
        raise EngineerFailure(f"not a built-in script: expected blocks {list(BLOCK_ORDER)}, found {names}")
    try:
        model = mem.read_model(get_block(script, "model"))
        preprocess = get_block(script, "preprocess")
        files, media_options = NO_FILES, None
        if "files" in names:
            files = FILES_OFF if get_block(script, "files").startswith(files_block.OFF_OPENING) else FILES_ON
            if media.is_media_block(get_block(script, "files")):
                media_options = read_media_options(get_block(script, "files"))
        recipe = Recipe(
            families=feats.parse_steps(get_block(script, "features")),
            model=model,
            options=views.read_options(preprocess),
            combine=read_combine(get_block(script, "train")),
            files=files,
            views=views.read_views(preprocess),
            media=media_options,
        )
    except (BlockError, SyntaxError) as e:
        raise EngineerFailure(f"cannot read the script's recipe: {e}") from e
    unknown = [m.card for m in model.members if m.card not in cards]
    if not model.members or unknown:
        raise EngineerFailure(f"the model block names no known model card (unknown: {unknown})")
    return recipe
