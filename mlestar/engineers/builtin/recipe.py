"""A recipe: everything the built-in engineer varies in a script, block by block.

Scripts are rendered from a recipe and the task profile; a recipe is read back from a script's
blocks (constants and helper names), so any role can pick up a script the search hands back,
including after a resume. Scripts written by someone else are refused with EngineerFailure.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from mlestar.blocks import BlockError, block_names, get_block
from mlestar.engineers.base import EngineerFailure
from mlestar.engineers.builtin import features as feats
from mlestar.engineers.builtin import files as files_block
from mlestar.engineers.builtin import members as mem
from mlestar.engineers.builtin import templates, views
from mlestar.engineers.builtin.cards import Card
from mlestar.engineers.builtin.combiners import read_combine
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
    media: MediaOptions | None = None
    """What the files block extracts from pictures, sounds and numeric files (None: the defaults)."""

    def with_(self, **changes: object) -> Recipe:
        return replace(self, **changes)  # type: ignore[arg-type]

    def views_needed(self, cards: dict[str, Card]) -> tuple[str, ...]:
        needed = {cards[m.card].view for m in self.model.members}
        return tuple(v for v in views.VIEW_ORDER if v in needed)

    @property
    def block_list(self) -> list[str]:
        return [b for b in BLOCK_ORDER if b != "files" or self.files != NO_FILES]


def render_block(name: str, recipe: Recipe, profile: ProfileView, cards: dict[str, Card]) -> str:
    """The body of one block (without its marker line)."""
    if name == "load":
        return templates.LOAD
    if name == "files":
        return (
            files_block.render_files(profile, recipe.media) if recipe.files == FILES_ON else files_block.OFF
        )
    if name == "features":
        return feats.render_features(profile, recipe.families, recipe.files != NO_FILES)
    if name == "preprocess":
        offered = views.task_views(profile.has_tabular, bool(profile.text))
        body = views.render_preprocess(offered, recipe.options, bool(profile.text))
        return body + "\n\n" + templates.FIT_VIEWS
    if name == "model":
        return mem.render_model(recipe.model, cards, profile.problem_type, profile.metric)
    if name == "train":
        return templates.train_block(recipe.combine)
    if name == "predict":
        return templates.PREDICT
    if name == "main":
        return templates.MAIN
    raise EngineerFailure(f"the built-in engineer has no block named {name!r}")


def render_script(
    recipe: Recipe, profile: ProfileView, cards: dict[str, Card], title: str, notes: list[str], seed: int
) -> str:
    parts = [templates.header(title, notes, profile, seed)]
    for name in recipe.block_list:
        body = render_block(name, recipe, profile, cards).strip("\n")
        parts.append(f"# %% block: {name}\n{body}\n")
    return "\n\n".join(p.rstrip("\n") + "\n" for p in parts).replace("\n\n\n\n", "\n\n\n")


def read_recipe(script: str, cards: dict[str, Card]) -> Recipe:
    """The recipe a built-in script was rendered from; EngineerFailure for any other script."""
    names = block_names(script)
    if [n for n in names if n != "files"] != [b for b in BLOCK_ORDER if b != "files"]:
        raise EngineerFailure(f"not a built-in script: expected blocks {list(BLOCK_ORDER)}, found {names}")
    try:
        model = mem.read_model(get_block(script, "model"))
        feature_block = get_block(script, "features")
        preprocess = get_block(script, "preprocess")
        train = get_block(script, "train")
        files, media_options = NO_FILES, None
        if "files" in names:
            files = FILES_OFF if "Turned off" in get_block(script, "files") else FILES_ON
            if media.is_media_block(get_block(script, "files")):
                media_options = read_media_options(get_block(script, "files"))
    except (BlockError, SyntaxError) as e:
        raise EngineerFailure(f"cannot read the script's recipe: {e}") from e
    unknown = [m.card for m in model.members if m.card not in cards]
    if not model.members or unknown:
        raise EngineerFailure(f"the model block names no known model card (unknown: {unknown})")
    return Recipe(
        families=feats.parse_steps(feature_block),
        model=model,
        options=views.read_options(preprocess),
        combine=read_combine(train),
        files=files,
        media=media_options,
    )
