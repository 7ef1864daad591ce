"""The files block's entry point: one feature table per kind of per-row file (pictures, sounds,
numeric files, per-pixel pictures), each computed once per run and reused by every attempt."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from .arrays import BYTE_STATS, MAX_CHANNELS, STATS, byte_stats, channel_stats, load_array
from .audio import audio_features, load_audio
from .images import image_groups, load_image
from .pixels import grey_image, pixel_grid, pixels_at
from .rowfiles import FileReader, cached_groups, map_rows, row_paths, stack_groups

# The script's header and the block's constants set these; the values here serve the tests.
ID_COLUMN = "id"
THREADS = 1
SEED = 0
FILES = Path("input") / "files"
ROW_FILES: list[dict[str, Any]] = []
IMAGE_SIZE = 32
IMAGE_GROUPS = ("shape", "colour", "pixels", "hog", "lbp")
PIXEL_SIZE = 16
PIXEL_COLOUR = True
PCA_COMPONENTS = 32
AUDIO_SECONDS = 30.0
N_MELS = 40
N_MFCC = 20
PIXEL_WINDOWS = (3, 7, 15)
PIXEL_GROUPS = ("intensity", "neighbours", "local", "background", "edges", "page")

UNREADABLE = (OSError, ValueError, RuntimeError)
"""What the decoders raise on a broken file (Pillow, libsndfile, numpy, tifffile)."""
FITTED: dict[str, Any] = {}
"""Unsupervised fits made on the first rows seen (the training rows): reused for test rows, and
kept with the saved model."""


def file_features(frame: pd.DataFrame, split: str) -> pd.DataFrame:
    """Features from each row's own files, found through its key; one column per value."""
    makers = [TABLES["pixels" if entry.get("per") == "pixel" else entry["kind"]] for entry in ROW_FILES]
    tables = [
        make(entry, frame, split).add_prefix(f"file{i}_")
        for i, (make, entry) in enumerate(zip(makers, ROW_FILES, strict=True))
    ]
    return pd.concat(tables, axis=1)


def image_table(entry: dict[str, Any], frame: pd.DataFrame, split: str) -> pd.DataFrame:
    """Each row's picture: its shape, colours, texture (HOG, LBP) and small pixels reduced by PCA."""
    paths = row_paths(entry, frame, split, ID_COLUMN)
    settings = {
        g: {"size": IMAGE_SIZE, **({"small": PIXEL_SIZE, "colour": PIXEL_COLOUR} if g == "pixels" else {})}
        for g in IMAGE_GROUPS
    }
    groups = cached_groups("image", settings, paths, lambda missing: read_images(paths, missing))
    if "pixels" in groups and PCA_COMPONENTS:
        groups["pixels"] = reduced("pixels", groups["pixels"], PCA_COMPONENTS)
    return named_table(groups, frame.index)


def read_images(paths: list[str], groups: list[str]) -> dict[str, np.ndarray]:
    settings = {"pixel_size": PIXEL_SIZE, "pixel_colour": PIXEL_COLOUR}
    rows = decoded_rows(
        paths,
        lambda data, path: load_image(data, Path(path).suffix, IMAGE_SIZE),
        lambda loaded: image_groups(loaded[0], loaded[1], settings, groups),  # (rgb, shape)
    )
    return stack_groups(rows, groups)


def decoded_rows(
    paths: list[str], decode: Callable[[bytes, str], Any], features: Callable[[Any], dict[str, np.ndarray]]
) -> list[dict[str, np.ndarray] | None]:
    """Each path's file decoded (a broken one reported by checked(), its row None) and turned into
    feature groups; a row without a file is None."""
    with FileReader(FILES) as reader:
        broken: list[str] = []  # files that exist but cannot be decoded

        def one(path: str) -> dict[str, np.ndarray] | None:
            data = reader.read(path)
            if data is None:
                return None
            try:
                loaded = decode(data, path)
            except UNREADABLE as error:
                broken.append(f"{path}: {error}")
                return None
            return features(loaded)

        rows = map_rows(one, paths, THREADS)
    return checked(rows, broken)


def checked(rows: list[Any], broken: list[str]) -> list[Any]:
    """The rows, once a few broken files (their rows stay NaN) have been reported; when most of the
    files that exist cannot be decoded, the features would be noise: stop and say why."""
    if broken:
        print(
            f"{len(broken)} file(s) could not be decoded, their rows are missing values; first: {broken[0]}",
            flush=True,
        )
    if len(broken) > 0.5 * (len(broken) + sum(row is not None for row in rows)):
        raise ValueError(f"most files could not be decoded ({len(broken)}); first: {broken[0]}")
    return rows


def reduced(name: str, values: np.ndarray, components: int) -> np.ndarray:
    """values on their first principal components, fitted once, on the first rows seen (train);
    rows without a file stay NaN."""
    missing = np.isnan(values).all(axis=1)
    values = np.nan_to_num(values)
    if name not in FITTED:
        n = min(components, values.shape[1], int((~missing).sum()))
        FITTED[name] = PCA(n_components=n, random_state=SEED).fit(values[~missing])
    out = FITTED[name].transform(values).astype(np.float32)
    out[missing] = np.nan
    return out


def audio_table(entry: dict[str, Any], frame: pd.DataFrame, split: str) -> pd.DataFrame:
    """Each row's sound clip summarised over time (log-mel bands, MFCCs, contrast, crossings)."""
    paths = row_paths(entry, frame, split, ID_COLUMN)
    settings = {"audio": {"seconds": AUDIO_SECONDS, "mels": N_MELS, "mfcc": N_MFCC}}
    return named_table(
        cached_groups("audio", settings, paths, lambda missing: read_sounds(paths)), frame.index
    )


def read_sounds(paths: list[str]) -> dict[str, np.ndarray]:
    rows = decoded_rows(
        paths,
        lambda data, path: load_audio(data, AUDIO_SECONDS),
        lambda loaded: {"audio": audio_features(loaded[0], loaded[1], loaded[2], N_MELS, N_MFCC)},
    )
    return stack_groups(rows, ["audio"])


def signal_table(entry: dict[str, Any], frame: pd.DataFrame, split: str) -> pd.DataFrame:
    """Each row's numeric file (readings, arrays, JSON numbers) summarised channel by channel."""
    paths = row_paths(entry, frame, split, ID_COLUMN)
    settings = {"signal": {"channels": MAX_CHANNELS, "stats": list(STATS)}}
    groups = cached_groups("signal", settings, paths, lambda missing: read_signals(paths))
    names = [f"c{c}_{s}" for c in range(MAX_CHANNELS) for s in STATS] + ["steps"]
    return pd.DataFrame(groups["signal"], index=frame.index, columns=names)


def read_signals(paths: list[str]) -> dict[str, np.ndarray]:
    rows = decoded_rows(
        paths,
        lambda data, path: channel_stats(load_array(data, Path(path).suffix)),  # both may find it broken
        lambda stats: {"signal": stats},
    )
    return stack_groups(rows, ["signal"])


def volume_table(entry: dict[str, Any], frame: pd.DataFrame, split: str) -> pd.DataFrame:
    """Each row's scan (or any file the kit cannot decode) described by its bytes."""
    paths = row_paths(entry, frame, split, ID_COLUMN)
    settings = {"bytes": {"columns": BYTE_STATS}}
    groups = cached_groups("volume", settings, paths, lambda missing: read_volumes(paths))
    return named_table(groups, frame.index)


def read_volumes(paths: list[str]) -> dict[str, np.ndarray]:
    rows = decoded_rows(paths, lambda data, path: byte_stats(data), lambda stats: {"bytes": stats})
    return stack_groups(rows, ["bytes"])


def pixel_table(entry: dict[str, Any], frame: pd.DataFrame, split: str) -> pd.DataFrame:
    """One row per pixel: its features from its own picture (found through the row's key),
    computed picture by picture."""
    codes, pictures = pd.factorize(frame[entry["key"]].astype(str))
    rows, cols = frame[entry["row"]].to_numpy(dtype=int), frame[entry["col"]].to_numpy(dtype=int)
    with FileReader(FILES) as reader:

        def one(key: str) -> np.ndarray:
            data = reader.read((entry.get(split) or entry["train"]).replace("{id}", key))
            if data is None:
                raise FileNotFoundError(f"no picture for the pixel rows of {key!r}")
            return pixel_grid(grey_image(data), PIXEL_WINDOWS, PIXEL_GROUPS)

        grids = map_rows(one, list(pictures), THREADS)
    width = grids[0].shape[2]
    out = np.empty((len(frame), width), dtype=np.float32)
    for code, grid in enumerate(grids):
        at = np.flatnonzero(codes == code)
        out[at] = pixels_at(grid, rows[at], cols[at])
    return pd.DataFrame(out, index=frame.index, columns=[f"px{j}" for j in range(width)])


def named_table(groups: dict[str, np.ndarray], index: pd.Index) -> pd.DataFrame:
    """The groups side by side, columns named group_0, group_1, ..."""
    names = [f"{group}_{j}" for group, values in groups.items() for j in range(values.shape[1])]
    return pd.DataFrame(np.hstack(list(groups.values())), index=index, columns=names)


TABLES = {
    "image": image_table,
    "audio": audio_table,
    "signal": signal_table,
    "volume": volume_table,
    "pixels": pixel_table,
}
"""The table maker for each kind of per-row file (a script lists only the kinds its task has)."""
