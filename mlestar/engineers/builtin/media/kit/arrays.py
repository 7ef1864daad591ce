"""Numeric per-row files (signals, readings, arrays, JSON documents) summarised channel by
channel: level, spread, range, percentiles and how much the values move from one step to the next."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pandas as pd

MAX_CHANNELS = 16
"""Channels summarised one by one; files with more are summarised as one flattened channel."""
STATS = ("mean", "std", "min", "max", "p5", "p50", "p95", "step", "missing")


def load_array(data: bytes, suffix: str) -> np.ndarray:
    """A numeric file as floats: .npy as stored, tables by their numeric columns, JSON by its numbers."""
    suffix = suffix.lower()
    if suffix == ".npy":
        return np.asarray(np.load(io.BytesIO(data), allow_pickle=False), dtype=np.float32)
    if suffix == ".json":
        return np.asarray(numbers_in(json.loads(data)), dtype=np.float32)
    if suffix == ".parquet":
        table = pd.read_parquet(io.BytesIO(data))
    else:
        table = pd.read_csv(io.BytesIO(data), sep="\t" if suffix == ".tsv" else ",")
    return table.select_dtypes("number").to_numpy(dtype=np.float32)


BYTE_STATS = 26
"""Columns byte_stats gives a file."""


def byte_stats(data: bytes) -> np.ndarray:
    """A file whose format the kit cannot decode (scans such as DICOM or NIfTI), described by its
    bytes: its size, the spread of its byte values (a 16-bin histogram, mean, spread, entropy) and
    its 16-bit little-endian words (the usual depth of scanner pixels: mean, spread, percentiles)."""
    raw = np.frombuffer(data, dtype=np.uint8)
    if len(raw) == 0:
        raise ValueError("an empty file")
    counts = np.bincount(raw, minlength=256) / len(raw)
    present = counts[counts > 0]
    words = np.frombuffer(data[: len(data) // 2 * 2], dtype="<u2").astype(np.float32) / 65535
    if len(words) == 0:
        words = raw.astype(np.float32) / 255
    return np.concatenate(
        [
            [np.log1p(len(raw)), raw.mean() / 255, raw.std() / 255, -(present * np.log2(present)).sum() / 8],
            counts.reshape(16, 16).sum(axis=1),
            [words.mean(), words.std(), *np.percentile(words, [5, 25, 50, 75])],
        ]
    ).astype(np.float32)


def numbers_in(value: Any) -> list[float]:
    """Every number in a JSON document, depth first (booleans count as 0/1)."""
    if isinstance(value, dict):
        return [n for item in value.values() for n in numbers_in(item)]
    if isinstance(value, list):
        return [n for item in value for n in numbers_in(item)]
    if isinstance(value, bool | int | float):
        return [float(value)]
    return []


def as_channels(array: np.ndarray) -> np.ndarray:
    """(steps, channels): columns of a table, bands stored first, or everything as one channel."""
    if array.ndim <= 1:
        return array.reshape(-1, 1)
    if array.ndim == 2 and array.shape[1] <= MAX_CHANNELS:
        return array
    if array.shape[0] <= MAX_CHANNELS:
        return array.reshape(array.shape[0], -1).T
    return array.reshape(-1, 1)


def channel_stats(array: np.ndarray) -> np.ndarray:
    """STATS for each of MAX_CHANNELS channels (NaN where a file has fewer), then the step count."""
    steps = as_channels(array)
    out = np.full((MAX_CHANNELS, len(STATS)), np.nan, dtype=np.float32)
    for c in range(min(steps.shape[1], MAX_CHANNELS)):
        values = steps[:, c]
        present = values[np.isfinite(values)]
        if len(present) == 0:
            out[c, -1] = 1.0
            continue
        p5, p50, p95 = np.percentile(present, [5, 50, 95])
        step = np.abs(np.diff(present)).mean() if len(present) > 1 else 0.0
        out[c] = [
            present.mean(),
            present.std(),
            present.min(),
            present.max(),
            p5,
            p50,
            p95,
            step,
            1 - len(present) / len(values),
        ]
    return np.concatenate([out.ravel(), [len(steps)]]).astype(np.float32)
