"""Per-file statistics for tasks whose rows are files (images keyed by the id column).

What an AutoML user does with such a task: turn each file into a row of numbers and hand the
table to the AutoML system. Runs in the baselines' environments (numpy, pandas, Pillow). The files
are found where the ids name them: in a folder or a zip of the public folder whose file names
(without their folder) match the ids, with or without the ids' own extension.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".gif")
HIST_BINS = 8


@dataclass(frozen=True)
class FileSource:
    """Where one set of files lives: a folder, or a zip archive; names map a file's stem to its path."""

    container: Path
    names: dict[str, str]

    def read(self, key: str) -> bytes:
        name = self.names[key]
        if self.container.is_dir():
            return (self.container / name).read_bytes()
        with zipfile.ZipFile(self.container) as archive:
            return archive.read(name)

    def read_all(self, keys: Iterable[str]) -> Iterator[bytes]:
        """One pass over a zip (opening it per file costs more than reading the file)."""
        if self.container.is_dir():
            yield from (self.read(k) for k in keys)
            return
        with zipfile.ZipFile(self.container) as archive:
            for key in keys:
                yield archive.read(self.names[key])


def _listing(container: Path) -> list[str]:
    if container.is_dir():
        return [
            str(p.relative_to(container)) for p in container.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES
        ]
    if container.suffix == ".zip":
        with zipfile.ZipFile(container) as archive:
            return [n for n in archive.namelist() if Path(n).suffix.lower() in IMAGE_SUFFIXES]
    return []


def _key(name: str) -> str:
    return Path(name).stem


def find_source(public: Path, ids: Iterable[object]) -> FileSource | None:
    """The folder or zip holding a file for every id, or None when the rows are not files."""
    wanted = {_key(str(i)) for i in ids}
    for container in sorted(public.iterdir()):
        names = {_key(n): n for n in _listing(container)}
        if wanted and wanted <= names.keys():
            return FileSource(container, names)
    return None


def image_statistics(data: bytes) -> np.ndarray:
    """Per channel: mean, std, 10/50/90th percentiles; grey histogram; edge energy; size."""
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    channels = pixels.reshape(-1, 3)
    per_channel = np.concatenate(
        [channels.mean(0), channels.std(0), *np.percentile(channels, [10, 50, 90], axis=0)]
    )
    grey = pixels.mean(axis=2)
    histogram = np.histogram(grey, bins=HIST_BINS, range=(0.0, 1.0))[0] / grey.size
    edges = [np.abs(np.diff(grey, axis=0)).mean(), np.abs(np.diff(grey, axis=1)).mean()]
    return np.concatenate([per_channel, histogram, edges, [image.width, image.height]])


FEATURE_NAMES = (
    [f"{s}_{c}" for s in ("mean", "std", "p10", "p50", "p90") for c in "rgb"]
    + [f"hist_{i}" for i in range(HIST_BINS)]
    + ["edge_rows", "edge_cols", "width", "height"]
)


def statistics_table(source: FileSource, ids: Iterable[object]) -> pd.DataFrame:
    keys = [_key(str(i)) for i in ids]
    rows = [image_statistics(data) for data in source.read_all(keys)]
    return pd.DataFrame(np.vstack(rows), columns=FEATURE_NAMES)
