"""Tables larger than a pandas object may take (task.yaml `table_memory_mb`).

Before a csv/tsv or parquet file is read whole, its size in memory is estimated from a head of
rows (their in-memory bytes per row times the rows the file holds). Over the cap, the file is read
in chunks: numbers are downcast (int64 to the smallest integer that holds the chunk, float64 to
float32 where that changes no value), and, for a table whose rows may be thinned (train), every
k-th row is kept, k doubling whenever the kept rows outgrow the cap. Each chunk is dropped once
thinned, so memory stays near the cap plus one chunk. The test table is never thinned (every row
is answered): it is only downcast. The profile and the search then see the kept rows.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

DEFAULT_TABLE_MEMORY_MB = 2048
LARGE_NOTE = "large"
"""DataFrame.attrs key: how a table over its memory cap was read (Thinned.note)."""
HEAD_ROWS = 5_000
CHUNK_ROWS = 100_000
_MB = 1 << 20


@dataclass(frozen=True)
class Thinned:
    """How a large table was read: rows in the file, rows kept, the step between kept rows."""

    rows_read: int
    rows_kept: int
    every: int
    megabytes: float
    cap_mb: int

    def note(self, name: str) -> str:
        kept = f"1 row in {self.every} kept ({self.rows_kept:,} rows)" if self.every > 1 else "every row kept"
        return (
            f"{name}: {self.rows_read:,} rows, more than table_memory_mb={self.cap_mb} allows as one pandas "
            f"table: read in chunks, numbers downcast, {kept}, {self.megabytes:.0f} MB in memory"
        )


def estimate_mb(head: pd.DataFrame, rows: float) -> float:
    """Megabytes the whole table would take as pandas, from a head of its rows."""
    if head.empty:
        return 0.0
    per_row = float(head.memory_usage(deep=True, index=False).sum()) / len(head)
    return per_row * rows / _MB


def downcast(frame: pd.DataFrame, keep: Iterable[str] = ()) -> pd.DataFrame:
    """Smaller number types where no value changes; `keep` columns (ids) stay as they are."""
    kept = set(keep)
    out = {}
    for col in frame.columns:
        values = frame[col]
        if col in kept or values.dtype == bool:
            out[col] = values
        elif pd.api.types.is_integer_dtype(values) and values.dtype.kind == "i":
            out[col] = pd.to_numeric(values, downcast="integer")
        elif values.dtype == np.float64:
            small = values.astype(np.float32)
            exact = np.array_equal(small.to_numpy(np.float64), values.to_numpy(), equal_nan=True)
            out[col] = small if exact else values
        else:
            out[col] = values
    return pd.DataFrame(out, index=frame.index)


def read_chunks(
    chunks: Iterator[pd.DataFrame], cap_mb: int, thin: bool, keep: Iterable[str] = ()
) -> tuple[pd.DataFrame, Thinned]:
    """The chunks as one table within cap_mb: downcast, and thinned to every k-th row when `thin`."""
    keep = tuple(keep)
    kept: list[pd.DataFrame] = []
    every, total, kept_mb = 1, 0, 0.0
    for chunk in chunks:
        chunk = downcast(chunk, keep)
        chunk.index = pd.RangeIndex(total, total + len(chunk))
        total += len(chunk)
        part = chunk[chunk.index % every == 0] if every > 1 else chunk
        kept.append(part)
        kept_mb += _mb(part)
        while thin and kept_mb > cap_mb and sum(len(k) for k in kept) > 1:
            every *= 2
            kept = [k[k.index % every == 0] for k in kept]
            kept_mb = sum(_mb(k) for k in kept)
    frame = pd.concat(kept) if kept else pd.DataFrame()
    frame = frame.reset_index(drop=True)
    return frame, Thinned(total, len(frame), every, round(kept_mb, 1), cap_mb)


def _mb(frame: pd.DataFrame) -> float:
    return float(frame.memory_usage(deep=True, index=False).sum()) / _MB


def rows_in_text(size_bytes: int, head_bytes: int, head_rows: int, compressed: bool) -> float:
    """Rows a text table holds, from the bytes its first rows take (compressed files guessed 5x)."""
    if head_rows <= 0 or head_bytes <= 0:
        return 0.0
    size = size_bytes * (5 if compressed else 1)
    return max(float(head_rows), size / (head_bytes / head_rows))


def chunk_rows(cap_mb: int, head: pd.DataFrame) -> int:
    """Rows per chunk: a tenth of the cap, at most CHUNK_ROWS."""
    per_row = max(1.0, float(head.memory_usage(deep=True, index=False).sum()) / max(1, len(head)))
    return int(max(100, min(CHUNK_ROWS, math.floor(cap_mb * _MB / 10 / per_row))))


def read_csv(
    path: Path, options: dict[str, Any], id_column: str | None, cap_mb: int, thin: bool
) -> pd.DataFrame | None:
    """None when the whole csv fits cap_mb as pandas, else the table read in chunks.
    `options` are read_csv's (sep, encoding, compression, dtype)."""
    head = pd.read_csv(path, nrows=HEAD_ROWS, **options)
    compressed = options.get("compression") is not None
    if len(head) < HEAD_ROWS and not compressed:
        return None  # the head is the whole table
    head_bytes = _text_head_bytes(path, options.get("compression"), len(head))
    rows = rows_in_text(path.stat().st_size, head_bytes, len(head), compressed)
    if estimate_mb(head, rows) <= cap_mb:
        return None
    chunks = pd.read_csv(path, chunksize=chunk_rows(cap_mb, head), **options)
    return _thinned(chunks, path.name, id_column, cap_mb, thin)


def read_parquet(path: Path, id_column: str | None, cap_mb: int, thin: bool) -> pd.DataFrame:
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    first = next(file.iter_batches(batch_size=HEAD_ROWS), None)
    head = first.to_pandas() if first is not None else pd.DataFrame()
    if estimate_mb(head, file.metadata.num_rows) <= cap_mb:
        return pd.read_parquet(path)
    batches = file.iter_batches(batch_size=chunk_rows(cap_mb, head))
    return _thinned((b.to_pandas() for b in batches), path.name, id_column, cap_mb, thin)


def _thinned(
    chunks: Iterator[pd.DataFrame], name: str, id_column: str | None, cap_mb: int, thin: bool
) -> pd.DataFrame:
    frame, how = read_chunks(chunks, cap_mb, thin, keep=[id_column] if id_column else [])
    frame.attrs[LARGE_NOTE] = how.note(name)
    return frame


def _text_head_bytes(path: Path, compression: str | None, rows: int) -> int:
    """Bytes the header and the first `rows` lines take (decompressed)."""
    openers: dict[str | None, Callable[..., Any]] = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}
    total = 0
    with openers.get(compression, open)(path, "rb") as f:
        for i, line in enumerate(f):
            if i > rows:
                break
            total += len(line)
    return total
