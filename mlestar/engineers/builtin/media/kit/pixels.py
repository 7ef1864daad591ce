"""Per-pixel features: for tasks that answer every pixel of a picture (a cleaned page, a mask),
each pixel is described by its own value and by its neighbourhood at a few scales, so a tabular
model learns the mapping from a noisy picture to the answer pixel by pixel."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from scipy import ndimage

PIXEL_FEATURES = ("intensity", "neighbours", "local", "background", "edges", "page")
"""Every group pixel_grid can make (see pixel_grid)."""


def grey_image(data: bytes) -> np.ndarray:
    """The picture as grey floats in [0, 1], full size (the way the pixel rows spell intensities)."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("L"), dtype=np.float32) / 255


def pixel_grid(grey: np.ndarray, windows: tuple[int, ...], groups: tuple[str, ...]) -> np.ndarray:
    """(height, width, features) for every pixel:
    intensity   the pixel itself
    neighbours  the 8 pixels around it
    local       mean, spread, minimum and maximum over each window
    background  the page behind the ink: the brightest value over the largest window, smoothed,
                and the pixel's difference from and ratio to it
    edges       gradient strength (Sobel)
    page        the picture's own brightness percentiles (5, 50, 95), the same on every pixel
    """
    planes: list[np.ndarray] = []
    if "intensity" in groups:
        planes.append(grey)
    if "neighbours" in groups:
        padded = np.pad(grey, 1, mode="edge")
        h, w = grey.shape
        planes += [
            padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
            if dy or dx
        ]
    if "local" in groups:
        for size in windows:
            mean = ndimage.uniform_filter(grey, size, mode="reflect")
            square = ndimage.uniform_filter(grey * grey, size, mode="reflect")
            spread = np.sqrt(np.clip(square - mean * mean, 0, None))
            planes += [mean, spread, ndimage.minimum_filter(grey, size), ndimage.maximum_filter(grey, size)]
    if "background" in groups:
        background = ndimage.uniform_filter(ndimage.maximum_filter(grey, max(windows)), max(windows))
        planes += [background, grey - background, grey / np.maximum(background, 1e-3)]
    if "edges" in groups:
        planes.append(np.hypot(ndimage.sobel(grey, axis=0), ndimage.sobel(grey, axis=1)))
    if "page" in groups:
        planes += [np.full_like(grey, q) for q in np.percentile(grey, [5, 50, 95])]
    # Planes stacked first and viewed last: writing them interleaved costs more than the features
    # (a fifth of a second per page), while a caller reads only the pixels it needs.
    return np.moveaxis(np.stack(planes, axis=0).astype(np.float32, copy=False), 0, 2)


def pixels_at(grid: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The features of the pixels at 1-based (row, col), the way per-pixel ids count them."""
    return grid[rows - 1, cols - 1]
