"""A look at a few of a task's per-row media files for the task profile: how large the pictures
are and how many channels they have, how long the clips are (engineers pick sizes from it)."""

from __future__ import annotations

import functools
import io
import statistics
import tarfile
import zipfile
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import pandas as pd

from mlestar.task import documents
from mlestar.task.kinds import fill_template

SAMPLE = 12
MEDIA_KINDS = ("image", "audio", "signal", "volume")


def media_entries(row_files: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    """Intake's per-row files that hold pictures, sounds or numeric files, or per-pixel pictures."""
    return [dict(f) for f in row_files if f.get("kind") in MEDIA_KINDS or f.get("per") == "pixel"]


def describe(
    task_dir: Path, entries: list[dict[str, Any]], train: pd.DataFrame, id_column: str | None
) -> dict[str, Any]:
    """{"image": {width, height, channels}, "audio": {seconds, rate}} over up to SAMPLE training
    files each; kinds whose files cannot be read are left out."""
    found: dict[str, Any] = {}
    for entry in entries:
        kind, key = entry.get("kind"), entry.get("key") or id_column
        if (
            kind not in ("image", "audio")
            or kind in found
            or not entry.get("train")
            or key not in train.columns
        ):
            continue
        rows = first_distinct(train, key, SAMPLE).astype(str)
        paths = [fill_template(entry["train"], {**row, "id": row[key]}) for row in rows.to_dict("records")]
        datas = [d for d in (read_file(task_dir, p) for p in paths) if d is not None]
        described = _pictures(datas) if kind == "image" else _clips(datas)
        if described:
            found[str(kind)] = described
    return found


def first_distinct(table: pd.DataFrame, key: Hashable, count: int) -> pd.DataFrame:
    """table.drop_duplicates(key).head(count), found in ever longer heads of the table: the rows of
    the first `count` keys lie in its first rows when keys repeat (a picture's name on each of its
    pixel rows: millions of them hashed for a dozen pictures cost most of a second)."""
    size = 4096
    while size < len(table):
        found = table.head(size).drop_duplicates(key)
        if len(found) >= count:
            return found.head(count)
        size *= 8
    return table.drop_duplicates(key).head(count)


def read_file(task_dir: Path, relative: str) -> bytes | None:
    """A file of the task, also a member of a zip or tar archive on the way ("train.zip/1.jpg"),
    or a BSON document's first picture ("train.bson/<_id>.jpg")."""
    parts = relative.split("/")
    for i in range(1, len(parts)):
        archive = task_dir.joinpath(*parts[:i])
        member = "/".join(parts[i:])
        if archive.is_file() and archive.name.lower().endswith(documents.BSON_SUFFIX):
            offsets = _bson_offsets(archive)
            if member not in offsets:
                return None
            with archive.open("rb") as stream:
                return documents.first_picture(documents.read_document(stream, offsets[member]))
        if archive.is_file() and zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                return zf.read(member) if member in zf.namelist() else None
        if archive.is_file() and tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                names = {m.name.removeprefix("./"): m for m in tf.getmembers() if m.isfile()}
                handle = tf.extractfile(names[member]) if member in names else None
                return handle.read() if handle is not None else None
    path = task_dir / relative
    return path.read_bytes() if path.is_file() else None


@functools.lru_cache(maxsize=4)
def _bson_offsets(path: Path) -> dict[str, int]:
    """Where each document's picture is (one pass over the file for all the rows probed)."""
    return documents.picture_members(path)


def picture_size(data: bytes) -> tuple[int, int] | None:
    """(height, width) of a picture file; None when Pillow cannot open it."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size[1], image.size[0]
    except (UnidentifiedImageError, OSError):
        return None


def _pictures(datas: list[bytes]) -> dict[str, float]:
    from PIL import Image, UnidentifiedImageError

    sizes = []
    for data in datas:
        try:
            with Image.open(io.BytesIO(data)) as image:
                sizes.append((*image.size, len(image.getbands())))
        except (UnidentifiedImageError, OSError):
            array = _array_shape(data)  # a picture kept as a numeric array (height, width, bands)
            if array is not None:
                sizes.append(array)
            continue  # a TIFF Pillow cannot open: the script reads it with tifffile
    if not sizes:
        return {}
    return {
        key: float(statistics.median(s[i] for s in sizes))
        for i, key in enumerate(("width", "height", "channels"))
    }


def _array_shape(data: bytes) -> tuple[int, int, int] | None:
    """(width, height, bands) of a .npy array of two or three axes; None for other data."""
    import numpy as np

    try:
        shape = np.load(io.BytesIO(data), allow_pickle=False).shape
    except (ValueError, OSError):
        return None
    return (shape[1], shape[0], shape[2] if len(shape) == 3 else 1) if len(shape) in (2, 3) else None


def _clips(datas: list[bytes]) -> dict[str, float]:
    import soundfile

    lengths, rates = [], []
    for data in datas:
        try:
            info = soundfile.info(io.BytesIO(data))
        except (RuntimeError, soundfile.LibsndfileError):
            continue  # a format libsndfile cannot read; the script will say so
        lengths.append(info.duration)
        rates.append(info.samplerate)
    return (
        {"seconds": float(statistics.median(lengths)), "rate": float(statistics.median(rates))}
        if lengths
        else {}
    )
