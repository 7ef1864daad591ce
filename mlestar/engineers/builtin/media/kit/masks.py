"""Run-length masks per picture: the training masks decoded, each pixel described by its
neighbourhood and its place in the picture, probabilities turned into cleaned masks, and the
threshold chosen for the task's metric. Copied into mask scripts like the rest of the kit."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image
from scipy import ndimage

from .pixels import grey_image, pixel_grid
from .rowfiles import row_paths
from .tables import decoded_rows

ID_COLUMN = "id"
"""The script's files block sets it; the value here serves the tests."""

IOU_STEPS = np.arange(0.5, 1.0, 0.05)
"""The IoU thresholds 0.50 .. 0.95 a mask's precision is averaged over (built as graders build them)."""
THRESHOLDS = (*np.round(np.arange(0.1, 0.91, 0.05), 2).tolist(), 1.01)
"""Probability cut-offs tried (1.01: no pixel at all, the empty answer)."""
MIN_SHARES = (0.0, 0.002, 0.005, 0.01, 0.02, 0.05)
"""Smallest component kept, as a share of the picture's pixels (0: every component)."""
EMPTY_MARKS = ("", "-", "nan")
WIDE_MODES = ("I", "I;16", "I;16B", "I;16L", "F")
"""Picture modes holding more than 8 bits a pixel (16-bit scans, floats): scaled by their own range."""


def read_greys(entry: dict[str, Any], frame: pd.DataFrame, split: str) -> list[np.ndarray | None]:
    """Each row's picture in grey floats, full size (None where the row has no picture)."""
    paths = row_paths(entry, frame, split, ID_COLUMN)
    rows = decoded_rows(paths, grey_picture, lambda grey: {"grey": grey})
    return [None if row is None else row["grey"] for row in rows]


def grey_picture(data: bytes, path: str) -> np.ndarray:
    """A picture file in grey floats in [0, 1]; a numeric array (.npy: height x width, or with
    bands or time steps on a third axis, averaged over them) or a 16-bit or float picture (scans)
    scaled by its own 1st to 99th percentile (such values are physical: temperatures,
    reflectances, scanner counts), not cut at 255."""
    if not path.lower().endswith(".npy"):
        with Image.open(io.BytesIO(data)) as image:
            if image.mode not in WIDE_MODES:
                return grey_image(data)
            array = np.asarray(image, dtype=np.float32)
    else:
        array = np.load(io.BytesIO(data), allow_pickle=False).astype(np.float32)
    if array.ndim == 3:
        array = array.mean(axis=2)
    if array.ndim != 2:
        raise ValueError(f"expected a picture of 2 or 3 axes in {path}, found the shape {array.shape}")
    low, high = np.nanpercentile(array, (1, 99))
    return np.nan_to_num(np.clip((array - low) / max(float(high - low), 1e-6), 0, 1)).astype(np.float32)


def run_pairs(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(starts, lengths) of "start length" pairs, starts 1-based; empty for a blank mask.
    ValueError when the text is not pairs of integers."""
    words = str(text).split()
    if not words or str(text).strip() in EMPTY_MARKS:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if len(words) % 2 or not all(w.isdigit() for w in words):
        raise ValueError(f"expected run-length pairs 'start length', found {str(text)[:60]!r}")
    numbers = np.array(words, dtype=np.int64)
    return numbers[0::2], numbers[1::2]


def decode_runs(text: str, shape: tuple[int, int], order: str) -> np.ndarray:
    """The (height, width) boolean mask of a run-length text; pixels numbered down each column
    ("F") or along each row ("C"). Runs past the last pixel are cut there, as graders read them."""
    flat = np.zeros(shape[0] * shape[1], dtype=bool)
    for start, length in zip(*run_pairs(text), strict=True):
        flat[max(start - 1, 0) : start - 1 + length] = True
    return flat.reshape(shape, order="F" if order == "F" else "C")


def check_fit(texts: list[str], sizes: list[int]) -> None:
    """Masks must fit their pictures: a few that run past the last pixel are cut (and said so);
    when most do, the pictures are not the ones the masks were drawn on (thumbnails, another
    file of the row) and learning from them would be noise: stop and say why."""
    ends = [(int((s + n - 1).max()), size) for text, size in zip(texts, sizes, strict=True)
            for s, n in [run_pairs(text)] if len(s)]  # fmt: skip
    over = sum(end > size for end, size in ends)
    if over > len(ends) / 2:
        raise ValueError(
            f"expected masks inside their pictures, found {over} of {len(ends)} running past the last pixel"
        )
    if over:
        print(f"{over} of {len(ends)} masks run past their picture's last pixel: cut there", flush=True)


def encode_runs(mask: np.ndarray, order: str) -> str:
    """The run-length string of a mask, numbered as decode_runs reads it; "" for no pixel."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F" if order == "F" else "C").astype(np.int8)
    edges = np.diff(np.concatenate([[0], flat, [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return " ".join(f"{s + 1} {e - s}" for s, e in zip(starts, ends, strict=True))


def mask_planes(grey: np.ndarray, windows: tuple[int, ...], groups: tuple[str, ...]) -> np.ndarray:
    """(height, width, features): the per-pixel neighbourhood features, then the pixel's place
    (row and column as shares of the picture: masks often favour a part of the frame)."""
    height, width = grey.shape
    rows = np.repeat((np.arange(height, dtype=np.float32) / max(height - 1, 1))[:, None], width, axis=1)
    cols = np.repeat((np.arange(width, dtype=np.float32) / max(width - 1, 1))[None, :], height, axis=0)
    return np.concatenate([pixel_grid(grey, windows, groups), rows[:, :, None], cols[:, :, None]], axis=2)


def balanced_pixels(mask: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    """Flat indices of at most `limit` pixels, half inside the mask and half outside where both
    have enough (masks are often a small part of the picture: a plain sample would see few)."""
    flat = mask.ravel()
    inside, outside = np.flatnonzero(flat), np.flatnonzero(~flat)
    take_in = min(len(inside), limit // 2)
    take_out = min(len(outside), limit - take_in)
    chosen = [rng.choice(inside, take_in, replace=False), rng.choice(outside, take_out, replace=False)]
    return np.sort(np.concatenate(chosen))


def shrunk(picture: np.ndarray, factor: int) -> np.ndarray:
    """The picture averaged over factor x factor blocks (its far edges repeated to fill the last
    ones): large pictures are worked on small. factor 1 leaves it as it is."""
    if factor <= 1:
        return picture
    height, width = picture.shape
    padded = np.pad(picture.astype(np.float32), ((0, -height % factor), (0, -width % factor)), mode="edge")
    blocks = padded.reshape(padded.shape[0] // factor, factor, padded.shape[1] // factor, factor)
    return blocks.mean(axis=(1, 3))


def coarse_probabilities(
    model: Any, greys: list[np.ndarray], stride: int, shrink: int, planes: Any
) -> list[np.ndarray]:
    """Each picture's probability of every pixel being inside the mask: the picture shrunk by
    `shrink`, predicted on every stride-th row and column (one call for all the pictures), then
    spread back to full size."""
    grids = [planes(shrunk(grey, shrink))[::stride, ::stride].copy() for grey in greys]
    if not grids:
        return []
    width = grids[0].shape[2]
    scores = model.predict_proba(np.concatenate([g.reshape(-1, width) for g in grids]))[:, 1]
    out, at, step = [], 0, stride * shrink
    for grey, grid in zip(greys, grids, strict=True):
        coarse = scores[at : at + grid.shape[0] * grid.shape[1]].reshape(grid.shape[:2]).astype(np.float32)
        at += coarse.size
        full = np.repeat(np.repeat(coarse, step, axis=0), step, axis=1)
        out.append(full[: grey.shape[0], : grey.shape[1]])
    return out


def cleaned(probability: np.ndarray, threshold: float, min_share: float) -> np.ndarray:
    """The mask at this cut-off, without components smaller than min_share of the picture."""
    mask = probability >= threshold
    if min_share <= 0 or not mask.any():
        return mask
    labels, _ = ndimage.label(mask)
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_share * mask.size
    keep[0] = False
    return keep[labels]


def mask_score(truth: np.ndarray, pred: np.ndarray, metric: str) -> float:
    """One picture's score: "iou_map" (the share of IoU thresholds passed; an empty answer scores
    1 only for an empty prediction) or "dice" (1 when both are empty)."""
    inter, t, p = int((truth & pred).sum()), int(truth.sum()), int(pred.sum())
    if metric == "dice":
        return 2 * inter / (t + p) if t + p else 1.0
    if t == 0 or p == 0:
        return float(t == p)
    return float(np.mean(inter / (t + p - inter) > IOU_STEPS))


def tuned_cut(
    probabilities: list[np.ndarray], truths: list[np.ndarray], metric: str
) -> tuple[float, float, float]:
    """(threshold, min_share, mean score): the cut-off and smallest component that score best on
    these out-of-fold pictures (ties: the earlier, lower settings)."""
    best = (THRESHOLDS[-1], 0.0, -1.0)
    for threshold in THRESHOLDS:
        for share in MIN_SHARES:
            masks = [cleaned(p, threshold, share) for p in probabilities]
            score = float(np.mean([mask_score(t, m, metric) for t, m in zip(truths, masks, strict=True)]))
            if score > best[2] + 1e-12:
                best = (threshold, share, score)
    return best


def pixel_order(greys: list[np.ndarray], texts: list[str], windows: tuple[int, ...]) -> str:
    """ "F" (down the columns) or "C" (along the rows): the numbering under which the decoded
    masks line up with what the pictures show. With the wrong one a mask lands transposed or
    scrambled, and the pixels inside it look no different from those outside."""
    separation = {}
    for order in ("F", "C"):
        gaps = []
        for grey, text in zip(greys, texts, strict=True):
            mask = decode_runs(text, grey.shape, order)
            if mask.any() and not mask.all():
                planes = pixel_grid(grey, windows, ("intensity", "local", "edges"))
                inside, outside = planes[mask], planes[~mask]
                spread = planes.reshape(-1, planes.shape[2]).std(axis=0) + 1e-6
                gaps.append(np.abs(inside.mean(axis=0) - outside.mean(axis=0)) / spread)
        separation[order] = float(np.mean(gaps)) if gaps else 0.0
    return "C" if separation["C"] > separation["F"] else "F"
