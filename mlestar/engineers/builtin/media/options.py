"""MediaOptions: what a files block extracts from per-row files. Written into the block as
constants and read back from them, so a refined script keeps its settings across a resume."""

from __future__ import annotations

import ast
from dataclasses import dataclass, fields, replace
from typing import Any

from mlestar import syntax

IMAGE_GROUPS = ("shape", "colour", "pixels", "hog", "lbp")
PIXEL_GROUPS = ("intensity", "neighbours", "local", "background", "edges", "page")


@dataclass(frozen=True)
class MediaOptions:
    image_size: int = 32
    """Pictures are resized to this square before any feature is computed."""
    image_groups: tuple[str, ...] = IMAGE_GROUPS
    pixel_size: int = 16
    pixel_colour: bool = True
    pca_components: int = 32
    """Principal components kept of the small pixels (0: the pixels themselves)."""
    audio_seconds: float = 30.0
    n_mels: int = 40
    n_mfcc: int = 20
    pixel_windows: tuple[int, ...] = (3, 7, 15)
    pixel_groups: tuple[str, ...] = PIXEL_GROUPS

    def with_(self, **changes: Any) -> MediaOptions:
        return replace(self, **changes)


MEDIA_KINDS = ("image", "audio", "signal", "volume")
"""Kinds of per-row file the kit turns into feature columns (per-pixel pictures are marked apart)."""
CONSTANTS = {f.name: f.name.upper() for f in fields(MediaOptions)}
"""Option -> the block constant that holds it."""
KIND_OPTIONS = {
    "image": ("image_size", "image_groups", "pixel_size", "pixel_colour", "pca_components"),
    "audio": ("audio_seconds", "n_mels", "n_mfcc"),
    "signal": (),
    "volume": (),
    "pixels": ("pixel_windows", "pixel_groups"),
}
"""The options each kind of file reads (a block holds only those of its task's kinds)."""
DOCS = {
    "image_size": "Pictures are resized to IMAGE_SIZE x IMAGE_SIZE before any feature is computed.",
    "image_groups": "Picture features: shape, colour (statistics, histograms), pixels (small, then PCA), hog, lbp.",
    "pca_components": "Principal components kept of the PIXEL_SIZE x PIXEL_SIZE pixels (0: the pixels as they are).",
    "audio_seconds": "Only the first AUDIO_SECONDS of each clip are read.",
    "pixel_windows": "Neighbourhood sizes (pixels) of the local statistics; the largest also finds the background.",
    "pixel_groups": "Per-pixel features: intensity, neighbours, local (windows), background, edges, page.",
}


def constants(options: MediaOptions, kinds: tuple[str, ...]) -> list[tuple[str, Any, str]]:
    """(constant, value, docstring) for every option the kinds read, in a fixed order."""
    wanted = [name for kind in kinds for name in KIND_OPTIONS[kind]]
    return [(CONSTANTS[n], getattr(options, n), DOCS.get(n, "")) for n in dict.fromkeys(wanted)]


def same_for(kinds: tuple[str, ...], a: MediaOptions, b: MediaOptions) -> bool:
    """Whether two option sets extract the same from files of these kinds (others are not read)."""
    return all(getattr(a, n) == getattr(b, n) for kind in kinds for n in KIND_OPTIONS[kind])


def read_options(block: str) -> MediaOptions:
    """The options a files block was written with (defaults for constants it lacks)."""
    values: dict[str, Any] = {}
    by_constant = {c: n for n, c in CONSTANTS.items()}
    for node in syntax.parse(block).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = by_constant.get(node.targets[0].id)
            if name is not None:
                values[name] = ast.literal_eval(node.value)
    converted: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return MediaOptions(**converted)
