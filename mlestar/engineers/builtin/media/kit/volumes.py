"""Volumes per folder: a stack of same-size layer pictures (a scan's surface layers) and a picture
of where the object is. Every pixel is described by the layer values at it, their statistics
across the layers and small neighbourhood means; the answers are masks inside the object, cut at
the probability that scores best for the task's F-beta. Copied into volume scripts like the rest
of the kit."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage

from .masks import shrunk

PICTURE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp")
CUTS = (*np.round(np.arange(0.05, 0.96, 0.05), 2).tolist(), 1.01)
"""Probability cut-offs tried (1.01: no pixel at all, the empty answer)."""


def layer_paths(folder: Path, layers: str) -> list[Path]:
    """The layer pictures of one folder, in their numbers' order (2 before 10)."""
    found = [p for p in (folder / layers).iterdir() if p.suffix.lower() in PICTURE_SUFFIXES]
    if not found:
        raise ValueError(f"expected layer pictures in {folder / layers}, found none")
    return sorted(found, key=lambda p: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)])


def read_plane(path: Path) -> np.ndarray:
    """One picture as float32 values as stored (16-bit layers keep their depth; colour in grey)."""
    with Image.open(path) as image:
        if image.mode in ("1", "L", "P", "RGB", "RGBA", "LA", "CMYK"):
            return np.asarray(image.convert("L"), dtype=np.float32)
        return np.asarray(image, dtype=np.float32)


def object_mask(path: Path) -> np.ndarray:
    """The picture of where the object is, as booleans (any value over half the brightest)."""
    plane = read_plane(path)
    return plane > plane.max() / 2 if plane.max() > 0 else np.zeros(plane.shape, dtype=bool)


def read_volume(
    folder: Path, layers: str, mask_name: str, max_layers: int, side: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """(layers x height x width, object mask, shrink): at most max_layers layers evenly spread over
    the stack, each shrunk by block means until the longer side is at most `side` and scaled by
    the volume's own 1st to 99th percentile inside the object; the mask at full size."""
    mask = object_mask(folder / mask_name)
    paths = layer_paths(folder, layers)
    chosen = [
        paths[i]
        for i in np.unique(np.linspace(0, len(paths) - 1, min(max_layers, len(paths))).round().astype(int))
    ]
    factor = max(1, -(-max(mask.shape) // side))
    planes = []
    for path in chosen:
        plane = read_plane(path)
        if plane.shape != mask.shape:
            raise ValueError(
                f"expected layers the size of {mask_name} {mask.shape}, found {plane.shape} in {path}"
            )
        planes.append(shrunk(plane, factor))
    stack = np.stack(planes).astype(np.float32)
    inside = shrunk(mask, factor) >= 0.5
    values = stack[:, inside] if inside.any() else stack
    low, high = np.percentile(values, (1, 99))
    return np.clip((stack - low) / max(float(high - low), 1e-6), 0, 1).astype(np.float32), mask, factor


def volume_planes(stack: np.ndarray, windows: tuple[int, ...]) -> np.ndarray:
    """(height, width, features) for every pixel:
    layers      each layer's value, and its mean over the smallest window
    across      mean, spread, minimum, maximum, range over the layers; the deepest layer's share
                of the stack at which the value peaks
    local       mean and spread of the layers' mean over each window
    edges       gradient strength of the layers' mean (Sobel)
    """
    depth = stack.shape[0]
    planes = list(stack) + [ndimage.uniform_filter(layer, windows[0], mode="reflect") for layer in stack]
    mean, spread = stack.mean(axis=0), stack.std(axis=0)
    low, high = stack.min(axis=0), stack.max(axis=0)
    planes += [mean, spread, low, high, high - low, stack.argmax(axis=0) / max(depth - 1, 1)]
    for size in windows:
        local = ndimage.uniform_filter(mean, size, mode="reflect")
        square = ndimage.uniform_filter(mean * mean, size, mode="reflect")
        planes += [local, np.sqrt(np.clip(square - local * local, 0, None))]
    planes.append(np.hypot(ndimage.sobel(mean, axis=0), ndimage.sobel(mean, axis=1)))
    return np.moveaxis(np.stack(planes, axis=0).astype(np.float32, copy=False), 0, 2)


def owners(shape: tuple[int, int], factor: int, rects: list[tuple[int, int, int, int]]) -> np.ndarray:
    """For each pixel of a shrunk picture, the number of the rectangle (top, left, height,
    width, at full size) its first full-size pixel falls in; -1 outside every rectangle."""
    out = np.full(shape, -1, dtype=np.int64)
    for k, (top, left, height, width) in enumerate(rects):
        rows = slice(-(-top // factor), -(-(top + height) // factor))
        cols = slice(-(-left // factor), -(-(left + width) // factor))
        out[rows, cols] = k
    return out


def full_size(coarse: np.ndarray, factor: int, shape: tuple[int, int]) -> np.ndarray:
    """A shrunk picture spread back over shape (each value repeated factor x factor times)."""
    if factor <= 1:
        return coarse[: shape[0], : shape[1]]
    return np.repeat(np.repeat(coarse, factor, axis=0), factor, axis=1)[: shape[0], : shape[1]]


def balanced_sample(ink: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    """Positions (into ink) of at most `limit` pixels, half ink and half not where both have enough."""
    inside, outside = np.flatnonzero(ink), np.flatnonzero(~ink)
    take_in = min(len(inside), limit // 2)
    take_out = min(len(outside), limit - take_in)
    chosen = [rng.choice(inside, take_in, replace=False), rng.choice(outside, take_out, replace=False)]
    return np.sort(np.concatenate(chosen))


def fbeta(truth: np.ndarray, pred: np.ndarray, beta: float) -> float:
    """The pixel F-beta of one mask, as the metric scores it (0 when precision and recall are
    both zero or undefined)."""
    tp, t, p = int((truth & pred).sum()), int(truth.sum()), int(pred.sum())
    precision, recall = (tp / p if p else 0.0), (tp / t if t else 0.0)
    b2 = beta * beta
    denom = b2 * precision + recall
    return (1 + b2) * precision * recall / denom if denom else 0.0


def fbeta_cut(parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], beta: float) -> tuple[float, float]:
    """(cut-off, mean F-beta) over (probability, truth, where scored) triples: the cut that scores
    best on these out-of-fold parts (ties: the lower cut)."""
    best = (CUTS[-1], -1.0)
    for cut in CUTS:
        score = float(np.mean([fbeta(t[w], p[w] >= cut, beta) for p, t, w in parts]))
        if score > best[1] + 1e-12:
            best = (cut, score)
    return best


def predicted_map(model: Any, planes: np.ndarray, where: np.ndarray) -> np.ndarray:
    """The model's probability at every pixel where `where` holds, 0 elsewhere."""
    out = np.zeros(where.shape, dtype=np.float32)
    if where.any():
        out[where] = model.predict_proba(planes[where])[:, 1]
    return out
