"""Refinements of the files block for media tasks: other picture sizes, feature groups, PCA
components, mel bands, neighbourhood windows. Each changes the MediaOptions the block is rendered
from; the refinement catalogue (refinements.py) offers them on the files block."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mlestar.engineers.builtin.media.options import MediaOptions


@dataclass(frozen=True)
class MediaRefinement:
    key: str
    kind: str
    """The kind of file it applies to: image, audio or pixels."""
    text: str
    change: Callable[[MediaOptions], MediaOptions | None]
    """The changed options; None when the change does not apply (already so)."""
    gain: float = 0.003


def _set(**values: object) -> Callable[[MediaOptions], MediaOptions | None]:
    def change(options: MediaOptions) -> MediaOptions | None:
        if all(getattr(options, k) == v for k, v in values.items()):
            return None
        return options.with_(**values)

    return change


def _without(group: str) -> Callable[[MediaOptions], MediaOptions | None]:
    def change(options: MediaOptions) -> MediaOptions | None:
        if group not in options.image_groups or len(options.image_groups) <= 2:
            return None
        return options.with_(image_groups=tuple(g for g in options.image_groups if g != group))

    return change


def wider_windows(options: MediaOptions) -> MediaOptions | None:
    widest = max(options.pixel_windows)
    if widest >= 63:
        return None
    return options.with_(pixel_windows=(*options.pixel_windows, 2 * widest + 1))


REFINEMENTS = (
    MediaRefinement("image_64", "image", "look at the pictures at 64 x 64 (finer gradients and textures)", _set(image_size=64), 0.004),
    MediaRefinement("pixels_32", "image", "keep 32 x 32 small pixels before PCA (more detail)", _set(pixel_size=32), 0.002),
    MediaRefinement("pca_64", "image", "keep 64 principal components of the small pixels", _set(pca_components=64), 0.003),
    MediaRefinement("pixels_raw", "image", "give the models the small pixels themselves, not their principal components", _set(pca_components=0), 0.002),
    MediaRefinement("pixels_grey", "image", "shrink the pictures in grey (shape over colour)", _set(pixel_colour=False), 0.001),
    MediaRefinement("no_hog", "image", "leave out the gradient histograms (HOG)", _without("hog"), 0.001),
    MediaRefinement("no_lbp", "image", "leave out the local binary patterns (LBP)", _without("lbp"), 0.001),
    MediaRefinement("mels_64", "audio", "use 64 mel bands and 30 MFCCs (finer pitch)", _set(n_mels=64, n_mfcc=30), 0.003),
    MediaRefinement("clips_60", "audio", "read the first 60 seconds of each clip", _set(audio_seconds=60.0), 0.001),
    MediaRefinement("wider_windows", "pixels", "add a neighbourhood twice as wide (background over larger stains)", wider_windows, 0.004),
)  # fmt: skip
