"""Reading each row's own files: paths from templates, members of zip, tar and 7z archives and of
BSON files (a document's first picture), a pool of threads within the script's allowance, and a
cache of computed features shared by a run's attempts."""

from __future__ import annotations

import functools
import hashlib
import json
import re
import tarfile
import tempfile
import threading
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlestar.task.documents import first_picture, picture_members, read_document

ARCHIVES = (".zip", ".tar", ".tar.gz", ".tgz", ".7z", ".bson")
SHARED_CACHE = Path("input") / "cache"
"""Features other attempts of this run computed (read-only; the harness fills it)."""
OWN_CACHE = Path("cache")
"""Features this attempt computed; the harness shares them with later attempts."""


def archive_split(relative: str) -> tuple[str, str]:
    """("train.zip", "train/1.jpg") for "train.zip/train/1.jpg"; ("", path) outside archives."""
    parts = relative.split("/")
    for i, part in enumerate(parts[:-1]):
        if part.lower().endswith(ARCHIVES):
            return "/".join(parts[: i + 1]), "/".join(parts[i + 1 :])
    return "", relative


class FileReader:
    """The bytes of per-row files under root; each archive is opened once and read under a lock
    (decoding, the slow part, runs outside it)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.archives: dict[str, tuple[Any, threading.Lock, dict[str, Any]]] = {}
        self.lock = threading.Lock()

    def __enter__(self) -> FileReader:
        return self

    def __exit__(self, *exc: object) -> None:
        for handle, _, _ in self.archives.values():
            handle.close()
        self.archives.clear()

    def read(self, relative: str) -> bytes | None:
        """The file's bytes; None when it does not exist."""
        archive, member = archive_split(relative)
        if not archive:
            path = self.root / relative
            return path.read_bytes() if path.is_file() else None
        handle, lock, members = self._open(archive)
        with lock:
            if isinstance(handle, zipfile.ZipFile):
                return handle.read(member) if member in members else None
            if isinstance(handle, Unpacked):
                return (handle.root / member).read_bytes() if member in members else None
            if archive.lower().endswith(".bson"):
                return first_picture(read_document(handle, members[member])) if member in members else None
            found = members.get(member)
            extracted = handle.extractfile(found) if found is not None else None
            return extracted.read() if extracted is not None else None

    def _open(self, archive: str) -> tuple[Any, threading.Lock, dict[str, Any]]:
        with self.lock:
            if archive not in self.archives:
                path = self.root / archive
                members: dict[str, Any]
                if archive.lower().endswith(".zip"):
                    handle: Any = zipfile.ZipFile(path)
                    members = dict.fromkeys(handle.namelist())
                elif archive.lower().endswith(".7z"):
                    handle, members = unpacked_7z(path)
                elif archive.lower().endswith(".bson"):
                    members = dict(picture_members(path))  # "<_id>.jpg": the document's offset
                    handle = open(path, "rb")  # noqa: SIM115 (kept open: documents are read on demand)
                else:
                    handle = tarfile.open(path)  # noqa: SIM115 (kept open: members are read on demand)
                    members = {m.name.removeprefix("./"): m for m in handle.getmembers() if m.isfile()}
                self.archives[archive] = (handle, threading.Lock(), members)
            return self.archives[archive]


class Unpacked:
    """An archive unpacked into a temporary folder, removed on close()."""

    def __init__(self) -> None:
        self.folder = tempfile.TemporaryDirectory(prefix="mlestar-unpacked-")
        self.root = Path(self.folder.name)

    def close(self) -> None:
        self.folder.cleanup()


def unpacked_7z(path: Path) -> tuple[Unpacked, dict[str, Any]]:
    """A 7z archive unpacked once (7z compresses files together in blocks, so reading members one
    by one would decompress the same blocks again and again), and its member names."""
    import py7zr

    unpacked = Unpacked()
    with py7zr.SevenZipFile(path) as archive:
        archive.extractall(path=unpacked.root)
    files = unpacked.root.rglob("*")
    return unpacked, {str(f.relative_to(unpacked.root)): None for f in files if f.is_file()}


def map_rows(function: Callable[[Any], Any], items: Sequence[Any], threads: int) -> list[Any]:
    """function over items, in order, on up to `threads` threads (decoders release the GIL)."""
    from threadpoolctl import threadpool_limits

    # One row's work is small: BLAS and OpenMP threads of their own would wake up and spin beside
    # the pool's threads at every product (a clip's mel filter bank: three times the CPU).
    with threadpool_limits(limits=1):
        if threads <= 1 or len(items) < 64:
            return [function(item) for item in items]
        with ThreadPoolExecutor(max_workers=threads) as pool:
            return list(pool.map(function, items))


def cache_key(name: str, settings: dict[str, Any], paths: Sequence[str]) -> str:
    """Names what was computed: the feature kind, its settings and exactly which files."""
    digest = hashlib.sha256(json.dumps([name, settings], sort_keys=True).encode())
    digest.update(
        pd.util.hash_pandas_object(pd.Series(list(paths), dtype=object), index=False).values.tobytes()
    )
    return f"{name}-{digest.hexdigest()[:24]}"


def cached_groups(
    kind: str,
    settings: dict[str, dict[str, Any]],
    paths: Sequence[str],
    compute: Callable[[list[str]], dict[str, np.ndarray]],
) -> dict[str, np.ndarray]:
    """Each feature group of the files, from the cache when an earlier attempt stored it under the
    same key (kind, the group's settings, exactly these files); compute(missing) makes the rest in
    one pass over the files. Only under the harness (./input/cache exists) is anything stored."""
    if not SHARED_CACHE.is_dir():
        return compute(list(settings))
    files = {
        group: cache_key(f"{kind}-{group}", values, paths) + ".npy" for group, values in settings.items()
    }
    found = {}
    for group, file in files.items():
        stored = [folder / file for folder in (SHARED_CACHE, OWN_CACHE) if (folder / file).is_file()]
        if stored:
            found[group] = np.load(stored[0])
    missing = [group for group in settings if group not in found]
    if missing:
        computed = compute(missing)
        OWN_CACHE.mkdir(exist_ok=True)
        for group in missing:
            partial = OWN_CACHE / (files[group] + ".partial")
            with open(partial, "wb") as handle:
                np.save(handle, computed[group])
            partial.replace(OWN_CACHE / files[group])
            found[group] = computed[group]
    return {group: found[group] for group in settings}


PLACEHOLDER = re.compile(r"\{([^{}\[\]]+)(?:\[(\d+)\]|\[:(\d+)\])?\}")
"""In a template: {id} (the row's key), {column} (the row's value there), {id[0]} (its first
character: folders that spread files by key) or {id[:2]} (its first two characters)."""


def row_paths(entry: dict[str, Any], frame: pd.DataFrame, split: str, id_column: str) -> list[str]:
    """Each row's file, relative to the task folder: the split's template filled with the row's key
    and, where the template names other columns ("train/{label}/{id}.jpg"), the row's values."""
    template = entry.get(split) or entry["train"]
    key = entry.get("key") or id_column
    names = sorted({m.group(1) for m in PLACEHOLDER.finditer(template)})
    if template.count("{") == 1 and "{id}" in template:
        return [template.replace("{id}", k) for k in frame[key].astype(str)]
    columns = [frame[key if name == "id" else name].astype(str) for name in names]
    rows = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
    return [PLACEHOLDER.sub(functools.partial(cell, row=row), template) for row in rows]


def cell(match: re.Match[str], row: dict[str, str]) -> str:
    """What one placeholder stands for in this row."""
    value = row[match.group(1)]
    index, prefix = match.group(2), match.group(3)
    return value[int(index)] if index else value[: int(prefix)] if prefix else value


def stack_groups(
    rows: Sequence[dict[str, np.ndarray] | None], groups: Sequence[str]
) -> dict[str, np.ndarray]:
    """One float32 array per feature group; rows whose file is missing (None) are NaN."""
    out = {}
    for group in groups:
        width = next((len(row[group]) for row in rows if row is not None), 0)
        array = np.full((len(rows), width), np.nan, dtype=np.float32)
        for i, row in enumerate(rows):
            if row is not None:
                array[i] = row[group]
        out[group] = array
    return out
