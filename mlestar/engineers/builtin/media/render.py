"""The files block for pictures, sounds, numeric files and per-pixel pictures: the block's
constants (MediaOptions), the kit code it needs, and file_features(frame, split), the entry the
features block calls."""

from __future__ import annotations

from typing import Any

from mlestar import contract
from mlestar.engineers.base import Candidate
from mlestar.engineers.builtin.media.options import MEDIA_KINDS, MediaOptions, constants, same_for
from mlestar.engineers.builtin.media.source import import_order, snippet
from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.engineers.builtin.pysrc import literal

KIND_ORDER = ("image", "audio", "signal", "volume", "pixels")
TABLE_MAKERS = {
    "image": "image_table",
    "audio": "audio_table",
    "signal": "signal_table",
    "volume": "volume_table",
    "pixels": "pixel_table",
}
ENTRY_KEYS = ("train", "test", "kind", "key", "per", "row", "col")
OPENING = (
    "# Files: features of each row's own files (pictures, sounds, numeric files), computed once per run."
)
BLOCK_NAMES = frozenset({"ID_COLUMN", "THREADS", "SEED", "INPUT", "FILES", "ROW_FILES", "TABLES"})
"""Names the header or this block's own constants define (never copied from the kit)."""


def media_entries(profile: ProfileView) -> list[dict[str, Any]]:
    """The per-row files this block reads: pictures, sounds, numeric files, per-pixel pictures."""
    found = []
    for f in profile.files:
        if f.get("kind") in MEDIA_KINDS or f.get("per") == "pixel":
            found.append({k: f[k] for k in ENTRY_KEYS if f.get(k) is not None})
    return found


def applies(profile: ProfileView) -> bool:
    return bool(media_entries(profile))


def kinds_of(entries: list[dict[str, Any]]) -> tuple[str, ...]:
    kinds = {"pixels" if e.get("per") == "pixel" else e["kind"] for e in entries}
    return tuple(k for k in KIND_ORDER if k in kinds)


def default_options(profile: ProfileView) -> MediaOptions:
    """Small pictures stay small (32 x 32), larger ones are seen at 64 x 64; grey pictures are
    shrunk in grey."""
    picture = profile.profile.get("media", {}).get("image", {})
    side = max(float(picture.get("width", 32)), float(picture.get("height", 32)))
    return MediaOptions(
        image_size=32 if side <= 48 else 64, pixel_colour=float(picture.get("channels", 3)) >= 3
    )


WIDTHS = {
    "image": lambda o: (4 if "shape" in o.image_groups else 0) + (46 if "colour" in o.image_groups else 0)
    + (o.pca_components or o.pixel_size**2 * (3 if o.pixel_colour else 1)) * ("pixels" in o.image_groups)
    + (324 if "hog" in o.image_groups else 0) + (50 if "lbp" in o.image_groups else 0),
    "audio": lambda o: 5 * o.n_mels + 2 * o.n_mfcc + 27,
    "signal": lambda o: 145,
    "volume": lambda o: 26,
    "pixels": lambda o: 28,
}  # fmt: skip
"""Roughly how many feature columns each kind of file adds (for cost estimates)."""


def feature_width(profile: dict[str, Any]) -> int:
    """Feature columns the task's media files add with the default options (0: no media files)."""
    view = ProfileView(profile)
    options = default_options(view)
    return sum(WIDTHS[kind](options) for kind in kinds_of(media_entries(view)))


def render_media_files(profile: ProfileView, options: MediaOptions) -> str:
    """The whole files block for the task's media files."""
    entries = media_entries(profile)
    kinds = kinds_of(entries)
    values = constants(options, kinds)
    provided = BLOCK_NAMES | {name for name, _, _ in values}
    code = snippet(("file_features", *(TABLE_MAKERS[k] for k in kinds)), frozenset(provided))
    lines = [
        f"ID_COLUMN = {literal(profile.id_column)}",
        f'FILES = INPUT / "{contract.FILES_LINK}"',
        f"ROW_FILES = {literal(entries)}",
        '"""Per-row files: where train and test rows keep them ({id} is the row\'s key), and their kind."""',
    ]
    for name, value, doc in values:
        lines.append(f"{name} = {literal(value)}")
        if doc:
            lines.append(f'"""{doc}"""')
    tables = ", ".join(f'"{k}": {TABLE_MAKERS[k]}' for k in kinds)
    return "\n\n\n".join(
        [
            OPENING + "\n" + import_lines(code.imports),
            "\n".join(lines),
            code.code.strip("\n"),
            f'TABLES = {{{tables}}}\n"""The table maker for each kind of file this task has."""\n',
        ]
    )


def import_lines(imports: tuple[str, ...]) -> str:
    """Standard-library imports, a blank line, then third-party ones (the order is already so)."""
    stdlib = [line for line in imports if not import_order(line)[0]]
    others = [line for line in imports if import_order(line)[0]]
    return "\n\n".join(part for part in ("\n".join(stdlib), "\n".join(others)) if part)


def is_default(profile: ProfileView, options: MediaOptions | None) -> bool:
    """Whether the options extract what the task's defaults do (None means the defaults)."""
    kinds = kinds_of(media_entries(profile))
    return options is None or same_for(kinds, options, default_options(profile))


def is_media_block(block: str) -> bool:
    return block.lstrip().startswith(OPENING)


def model_candidates(models: dict[str, tuple[str, str, str]]) -> list[Candidate]:
    """A script kind's models ({name: (summary, imports, the model expression)}) as candidates."""
    return [
        Candidate(name, summary, f"model = {expression}", "builtin")
        for name, (summary, _, expression) in models.items()
    ]
