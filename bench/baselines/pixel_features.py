"""Per-pixel rows for image-to-image tasks (a picture in, a cleaned picture out, one answer per pixel).

What an AutoML user does with such a task: the sample submission's ids are `<image>_<row>_<col>`,
the input pictures of the test ids sit in one folder, and the training pictures sit in two folders
holding the same file names (the inputs and their cleaned targets). Each pixel becomes a row of
numbers: its intensity, the mean, min, max and spread of its 3x3 and 5x5 neighbourhoods, and its
picture's mean and spread; the target is the same pixel of the cleaned picture. Training rows are a
sample spread evenly over all training pictures; every test pixel the sample submission names is
predicted. Runs in the baselines' environments (numpy, pandas, Pillow).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from file_features import FileSource, _key, _listing

PIXEL_ID = re.compile(r"^(.+)_(\d+)_(\d+)$")
WINDOWS = (3, 5)
MAX_TRAIN_ROWS = 200_000
"""As many training pixels as mlestar's per-pixel script fits on. With 500,000, AutoGluon's eight
bagged folds reached 10 to 20 boosting rounds in a 5-minute run on this machine (score 0.228)."""
SAMPLE_SEED = 0
FEATURE_NAMES = (
    "pixel",
    *(f"{stat}{k}" for k in WINDOWS for stat in ("mean", "min", "max", "std")),
    "image_mean",
    "image_std",
)


@dataclass(frozen=True)
class PixelLayout:
    """Where a per-pixel task's pictures live: test inputs, training inputs and their targets."""

    test: FileSource
    train: FileSource
    target: FileSource
    base: int
    """The index of the first row and column in the ids (0 or 1)."""


def split_ids(ids: pd.Series, chunk: int = 500_000) -> pd.DataFrame | None:
    """Columns image (categorical), row, col from `<image>_<row>_<col>` ids, or None when the ids
    are not pixels. Vectorised over the characters: millions of ids, pandas' string methods take
    minutes."""
    text = ids.astype(str)
    if text.empty or not text.head(100).str.fullmatch(PIXEL_ID.pattern).all():
        return None
    chars = np.asarray(text.to_numpy(), dtype=str)
    parts = [_split_chunk(chars[i : i + chunk]) for i in range(0, len(chars), chunk)]
    if any(p is None for p in parts):
        return None
    images, rows, cols = (np.concatenate([p[i] for p in parts if p is not None]) for i in range(3))
    return pd.DataFrame({"image": _categorical(images), "row": rows, "col": cols})


def _split_chunk(chars: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    width = chars.dtype.itemsize // 4
    codes = chars.view(np.uint32).reshape(len(chars), width).astype(np.int64)
    positions = np.arange(width)
    underscore = codes == ord("_")
    last = np.where(underscore, positions, -1).max(axis=1)
    before = np.where(underscore & (positions < last[:, None]), positions, -1).max(axis=1)
    length = (codes != 0).sum(axis=1)
    if (before < 1).any():
        return None
    row, col = _number(codes, before + 1, last), _number(codes, last + 1, length)
    if row is None or col is None:
        return None
    codes[positions >= before[:, None]] = 0  # the image's name: what comes before `_<row>_<col>`
    return codes.astype(np.uint32).view(f"<U{width}").ravel(), row, col


def _number(codes: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray | None:
    """The decimal number in each row's characters [start, end), or None when one is not a number."""
    positions = np.arange(codes.shape[1])
    inside = (positions >= start[:, None]) & (positions < end[:, None])
    digits = codes - ord("0")
    if (end <= start).any() or ((digits < 0) | (digits > 9))[inside].any():
        return None
    power = np.where(inside, end[:, None] - positions - 1, 0)
    return np.where(inside, digits * 10**power, 0).sum(axis=1)


def _categorical(images: np.ndarray) -> pd.Categorical:
    """Ids come grouped by image: compare neighbours, then name only the runs' first ids."""
    starts = np.flatnonzero(np.r_[True, images[1:] != images[:-1]])
    keys, run_codes = np.unique(images[starts], return_inverse=True)
    lengths = np.diff(np.r_[starts, len(images)])
    return pd.Categorical.from_codes(np.repeat(run_codes, lengths), categories=[str(k) for k in keys])


def _sources(public: Path) -> list[FileSource]:
    sources = []
    for container in sorted(public.iterdir()):
        names = {_key(n): n for n in _listing(container)}
        if names:
            sources.append(FileSource(container, names))
    return sources


def find_layout(public: Path, pixels: pd.DataFrame) -> PixelLayout | None:
    """The test folder (every image the ids name) and the training pair (two other folders with the
    same file names), or None when the folders do not fit that shape."""
    keys = set(pixels["image"].cat.categories)
    sources = _sources(public)
    covering = [s for s in sources if keys <= s.names.keys()]
    if not covering:
        return None
    test = min(covering, key=lambda s: len(s.names))
    others = [s for s in sources if s is not test and not keys & s.names.keys()]
    pairs = [
        (a, b) for i, a in enumerate(others) for b in others[i + 1 :] if a.names.keys() == b.names.keys()
    ]
    if len(pairs) != 1:
        return None
    train, target = _inputs_first(*pairs[0], test)
    base = 0 if (pixels["row"] == 0).any() or (pixels["col"] == 0).any() else 1
    return PixelLayout(test, train, target, base)


def _inputs_first(a: FileSource, b: FileSource, test: FileSource) -> tuple[FileSource, FileSource]:
    """(inputs, targets): the folder whose name the other extends (train, train_cleaned), else the
    one whose pictures look more like the test pictures (mean intensity)."""
    na, nb = a.container.name, b.container.name
    if nb.startswith(Path(na).stem) and na != nb:
        return a, b
    if na.startswith(Path(nb).stem) and na != nb:
        return b, a
    level = _mean_level(test)
    return (a, b) if abs(_mean_level(a) - level) <= abs(_mean_level(b) - level) else (b, a)


def _mean_level(source: FileSource, n: int = 5) -> float:
    keys = sorted(source.names)[:n]
    return float(np.mean([grey(source.read(k)).mean() for k in keys]))


def grey(data: bytes) -> np.ndarray:
    """A picture as a 2-D float32 array in [0, 1]."""
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    array = np.asarray(image.convert("L") if image.mode != "L" else image, dtype=np.float32)
    return array / 255.0


def pixel_features(image: np.ndarray) -> np.ndarray:
    """(height, width, len(FEATURE_NAMES)): each pixel's statistics; edges are mirrored."""
    planes = [image]
    for k in WINDOWS:
        padded = np.pad(image.astype(np.float64), k // 2, mode="reflect")
        mean, square = _window(padded, k, np.mean), _window(padded**2, k, np.mean)
        spread = np.sqrt(np.clip(square - mean**2, 0.0, None))
        planes += [mean, _window(padded, k, np.min), _window(padded, k, np.max), spread]
    planes += [np.full_like(image, image.mean()), np.full_like(image, image.std())]
    return np.stack(planes, axis=-1).astype(np.float32)


def _window(padded: np.ndarray, k: int, reduce: Callable[..., np.ndarray]) -> np.ndarray:
    """A k x k window statistic as two 1-D passes (mean, min and max are separable)."""
    view = np.lib.stride_tricks.sliding_window_view
    down = reduce(view(padded, k, axis=0), axis=-1)
    return reduce(view(down, k, axis=1), axis=-1)


def training_rows(layout: PixelLayout, target_column: str, max_rows: int = MAX_TRAIN_ROWS) -> pd.DataFrame:
    """A seeded sample of training pixels, the same number from every picture, with their targets."""
    keys = sorted(layout.train.names)
    per_image = max(1, max_rows // len(keys))
    rng = np.random.default_rng(SAMPLE_SEED)
    blocks = []
    for key, data in zip(keys, layout.train.read_all(keys), strict=True):
        image, target = grey(data), grey(layout.target.read(key))
        if image.shape != target.shape:
            continue  # a pair that does not line up teaches nothing per pixel
        chosen = rng.choice(image.size, size=min(per_image, image.size), replace=False)
        rows, cols = np.unravel_index(chosen, image.shape)
        block = pd.DataFrame(pixel_features(image)[rows, cols], columns=list(FEATURE_NAMES))
        block[target_column] = target[rows, cols]
        blocks.append(block)
    return pd.concat(blocks, ignore_index=True)


def prediction_rows(layout: PixelLayout, pixels: pd.DataFrame) -> pd.DataFrame:
    """The statistics of every pixel the ids name, in the ids' order."""
    codes, keys = pixels["image"].cat.codes.to_numpy(), pixels["image"].cat.categories
    out = np.zeros((len(pixels), len(FEATURE_NAMES)), dtype=np.float32)
    rows = pixels["row"].to_numpy() - layout.base
    cols = pixels["col"].to_numpy() - layout.base
    for code, key in enumerate(keys):
        where = np.flatnonzero(codes == code)
        features = pixel_features(grey(layout.test.read(str(key))))
        out[where] = features[rows[where], cols[where]]
    return pd.DataFrame(out, columns=list(FEATURE_NAMES))
