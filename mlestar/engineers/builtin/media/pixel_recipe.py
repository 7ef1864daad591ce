"""PixelRecipe: what the built-in engineer varies in a per-pixel script (pixel_script.py).

Every setting is a constant of the block it belongs to (the model's rounds in the model block, the
sample size and residual learning in the train block, the neighbourhoods in the files block), so
the recipe is read back from the script itself and a refined script keeps its settings across a
resume, as the general scripts do (recipe.py).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, replace
from typing import Any

from mlestar import syntax
from mlestar.blocks import BlockError, block_names, get_block
from mlestar.engineers.base import EngineerFailure
from mlestar.engineers.builtin.media import render
from mlestar.engineers.builtin.media.options import MediaOptions, read_options

LIGHTGBM, RIDGE = "pixel_lightgbm", "pixel_ridge"
BLOCKS = ("load", "files", "model", "train", "predict", "main")


@dataclass(frozen=True)
class PixelRecipe:
    model: str
    """LIGHTGBM or RIDGE."""
    trees: int = 120
    """Boosting rounds (the most, with early stopping)."""
    learning_rate: float = 0.15
    leaves: int = 31
    early_stopping: bool = False
    """Boosting stops when pictures held out of the fit stop improving."""
    alpha: float = 1.0
    """The ridge penalty."""
    train_pixels: int = 200_000
    """At most this many training pixels per fit (sampled)."""
    residual: bool = False
    """Learn the change to each pixel (answer minus the pixel itself) rather than the answer."""
    media: MediaOptions | None = None
    """The files block's options (None: the task's defaults)."""

    def with_(self, **changes: Any) -> PixelRecipe:
        return replace(self, **changes)


MODEL_CONSTANTS = {
    LIGHTGBM: {"TREES": "trees", "LEARNING_RATE": "learning_rate", "LEAVES": "leaves", "EARLY_STOPPING": "early_stopping", "RESIDUAL": "residual"},
    RIDGE: {"ALPHA": "alpha", "RESIDUAL": "residual"},
}  # fmt: skip
"""The model block's constants of each model -> the recipe field each holds."""
TRAIN_CONSTANTS = {"TRAIN_PIXELS": "train_pixels"}


def is_pixel_script(script: str) -> bool:
    """Whether the script has the blocks of a per-pixel script (pixel_script.py)."""
    try:
        return block_names(script) == list(BLOCKS)
    except BlockError:
        return False


def read_pixel_recipe(script: str) -> PixelRecipe:
    """The recipe a per-pixel script was rendered from; EngineerFailure for any other script."""
    if not is_pixel_script(script):
        raise EngineerFailure(f"not a per-pixel script: expected blocks {list(BLOCKS)}")
    try:
        model_block, files_block = get_block(script, "model"), get_block(script, "files")
        model = LIGHTGBM if "LGBMRegressor(" in model_block else RIDGE if "Ridge(" in model_block else ""
        if not model:
            raise EngineerFailure("the model block holds neither LightGBM nor a ridge regression")
        values = {
            **_constants(model_block, MODEL_CONSTANTS[model]),
            **_constants(get_block(script, "train"), TRAIN_CONSTANTS),
        }
        media = read_options(files_block) if render.is_media_block(files_block) else None
    except (BlockError, SyntaxError, ValueError) as e:
        raise EngineerFailure(f"cannot read the per-pixel script's settings: {e}") from e
    return PixelRecipe(model, media=media, **values)


def _constants(block: str, names: dict[str, str]) -> dict[str, Any]:
    """The values of the block's top-level constants among names, keyed by recipe field."""
    found: dict[str, Any] = {}
    for node in syntax.parse(block).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            field_name = names.get(node.targets[0].id)
            if field_name is not None:
                found[field_name] = ast.literal_eval(node.value)
    return found
