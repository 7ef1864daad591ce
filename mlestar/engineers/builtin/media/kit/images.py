"""Image features: each picture decoded once, resized, and described by groups of numbers that
tabular models can use: its shape, colour statistics and histograms, small pixels (for PCA),
gradient orientations (HOG) and local binary patterns (LBP)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image
from skimage.feature import hog, local_binary_pattern

EIGHT_BIT_MODES = ("1", "L", "P", "RGB", "RGBA", "CMYK", "YCbCr", "LA", "PA", "La", "RGBa")
"""Pillow modes decoded and resized by Pillow itself (the fast path)."""
GREY = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def load_image(data: bytes, suffix: str, size: int) -> tuple[np.ndarray, tuple[float, float, float]]:
    """The picture as size x size RGB floats in [0, 1], and its original width, height and channels.
    8-bit pictures go through Pillow (JPEGs decoded at a reduced scale when much larger); 16-bit,
    float and multi-band TIFFs are read as arrays and scaled by their own range."""
    if suffix.lower() in (".tif", ".tiff"):
        import tifffile

        array = channels_last(tifffile.imread(io.BytesIO(data)))
        return resize_array(to_rgb(to_unit(array)), size), (array.shape[1], array.shape[0], array.shape[2])
    with Image.open(io.BytesIO(data)) as image:
        shape = (float(image.size[0]), float(image.size[1]), float(len(image.getbands())))
        if image.mode in EIGHT_BIT_MODES:
            image.draft("RGB", (size, size))
            rgb = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(rgb, dtype=np.float32) / 255, shape
        array = channels_last(np.asarray(image))
    return resize_array(to_rgb(to_unit(array)), size), shape


def channels_last(array: np.ndarray) -> np.ndarray:
    """(height, width, channels), also for grey pictures and bands stored first."""
    if array.ndim == 2:
        return array[:, :, None]
    if array.ndim == 3 and array.shape[0] <= 16 < min(array.shape[1], array.shape[2]):
        return np.moveaxis(array, 0, -1)
    return array


def to_unit(array: np.ndarray) -> np.ndarray:
    """Floats in [0, 1]: 8-bit by 255, other integers by their bit depth (12-bit data in 16-bit
    files by 4095), floats by the picture's own range."""
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255
    if array.dtype.kind in "ui":
        top = 4095 if array.max() <= 4095 else np.iinfo(array.dtype).max
        return np.clip(array.astype(np.float32) / top, 0, 1)
    values = array.astype(np.float32)
    low, high = np.nanmin(values), np.nanmax(values)
    return (values - low) / (high - low) if high > low else np.zeros_like(values)


def to_rgb(array: np.ndarray) -> np.ndarray:
    """Three channels: grey repeated, two bands with their mean, the first three of many bands."""
    channels = array.shape[2]
    if channels == 1:
        return np.repeat(array, 3, axis=2)
    if channels == 2:
        return np.concatenate([array, array.mean(axis=2, keepdims=True)], axis=2)
    return array[:, :, :3]


def resize_array(array: np.ndarray, size: int) -> np.ndarray:
    """A float picture resized to size x size, channel by channel (Pillow's antialiased bilinear)."""
    if array.shape[0] == size and array.shape[1] == size:
        return array.astype(np.float32)
    channels = [
        np.asarray(
            Image.fromarray(array[:, :, c].astype(np.float32), mode="F").resize(
                (size, size), Image.Resampling.BILINEAR
            )
        )
        for c in range(array.shape[2])
    ]
    return np.stack(channels, axis=2)


def image_groups(
    rgb: np.ndarray, shape: tuple[float, float, float], settings: dict[str, Any], groups: list[str]
) -> dict[str, np.ndarray]:
    """The requested feature groups of one resized picture."""
    grey = rgb @ GREY
    makers = {
        "shape": lambda: np.array([shape[0], shape[1], shape[0] / max(shape[1], 1.0), shape[2]]),
        "colour": lambda: colour_features(rgb, grey),
        "pixels": lambda: small_pixels(rgb, grey, settings["pixel_size"], settings["pixel_colour"]),
        "hog": lambda: hog(
            grey, orientations=9, pixels_per_cell=(len(grey) // 4,) * 2, cells_per_block=(2, 2)
        ),
        "lbp": lambda: lbp_histograms(grey),
    }
    return {group: np.asarray(makers[group](), dtype=np.float32) for group in groups}


def colour_features(rgb: np.ndarray, grey: np.ndarray) -> np.ndarray:
    """Per channel: mean, spread and percentiles; hue, saturation and value histograms; edge strength."""
    flat = rgb.reshape(-1, 3)
    ordered = np.sort(flat, axis=0)
    at = [round(q * (len(flat) - 1)) for q in (0.05, 0.25, 0.5, 0.75, 0.95)]
    hsv = hue_saturation_value(flat)
    bins = np.minimum((hsv * 8).astype(int), 7)
    counts = [np.bincount(bins[:, c], minlength=8) / len(flat) for c in range(3)]
    edges = np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean()
    return np.concatenate([flat.mean(axis=0), flat.std(axis=0), ordered[at].ravel(), *counts, [edges]])


def hue_saturation_value(flat: np.ndarray) -> np.ndarray:
    """(n, 3) RGB in [0, 1] to hue, saturation and value in [0, 1]."""
    high, low = flat.max(axis=1), flat.min(axis=1)
    spread = high - low
    safe = np.where(spread > 0, spread, 1.0)
    r, g, b = flat[:, 0], flat[:, 1], flat[:, 2]
    hue = np.where(
        high == r, ((g - b) / safe) % 6, np.where(high == g, (b - r) / safe + 2, (r - g) / safe + 4)
    )
    hue = np.where(spread > 0, hue / 6, 0.0)
    return np.column_stack([hue, np.where(high > 0, spread / np.where(high > 0, high, 1.0), 0.0), high])


def small_pixels(rgb: np.ndarray, grey: np.ndarray, size: int, colour: bool) -> np.ndarray:
    """The picture shrunk to size x size, grey or colour, as one vector (PCA reduces it later)."""
    return resize_array(rgb if colour else grey[:, :, None], size).ravel()


def lbp_histograms(grey: np.ndarray) -> np.ndarray:
    """Uniform local binary patterns (8 neighbours): their histogram over the picture and over
    each quarter of it (texture, and roughly where it is)."""
    codes = local_binary_pattern((grey * 255).astype(np.uint8), P=8, R=1, method="uniform")
    half = len(codes) // 2
    parts = [codes, codes[:half, :half], codes[:half, half:], codes[half:, :half], codes[half:, half:]]
    return np.concatenate(
        [np.bincount(p.astype(int).ravel(), minlength=10)[:10] / max(p.size, 1) for p in parts]
    )


def flips(rgb: np.ndarray) -> list[np.ndarray]:
    """The picture and its mirror images (left-right, up-down): views a model should answer alike."""
    return [rgb, rgb[:, ::-1], rgb[::-1, :]]
