"""Rows per picture and class: one row for each (picture, class) pair, the picture found by its key.

A layout like a segmentation task keyed by a slice and an organ together: train and test hold a
key column that repeats (one picture) beside a class column with a few values, so the pair names
each row once and the submission copies both by position. The pictures sit in nested folders whose
names carry the key's parts ("case1_day1_slice_0001" is
"train/case1/case1_day1/scans/slice_0001_266_266_1.50_1.50.png"), which no "{id}" template spells.

`with_pictures` finds each key's picture by those parts (the key's words, in order, among the words
of exactly one picture's path), writes its path into a column of train and test and returns the
row-files entry `{"train": "{picture}", "test": "{picture}", "kind": "image", "key": <key>,
"class": <class>}`: the mask script then learns one mask model per class on the shared pictures.
Decided from the tables' shape and the file listing, never a task's name.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

import pandas as pd

from mlestar.task import files
from mlestar.task.tables import TaskTables

CLASS_ROWS = "class_rows"
"""train.attrs key: {"key": column, "class": column}; the folds keep a picture's rows together."""
MAX_CLASSES = 20
"""A class column has at most this many values (and at least two)."""
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".npy")
_SPLIT = re.compile(r"[/_\-.\s]+")
_SAMPLE = 20
"""Keys of each table tried before every key is looked up."""


def key_and_class(t: TaskTables, copy_columns: tuple[str, ...]) -> tuple[str, str] | None:
    """(key, class): test's key column repeats, the class column has a few values, and the pair
    names each test and train row once."""
    test, train = t.test, t.train
    shared = [c for c in copy_columns if c in test.columns and c in train.columns]
    for key in shared:
        if pd.api.types.is_numeric_dtype(test[key]) or test[key].is_unique:
            continue
        for cls in shared:
            if cls == key or not 2 <= test[cls].nunique() <= MAX_CLASSES:
                continue
            if not (test.duplicated([key, cls]).any() or train.duplicated([key, cls]).any()):
                return str(key), str(cls)
    return None


def with_pictures(
    task_dir: Any, t: TaskTables, copy_columns: tuple[str, ...], built: dict[str, str]
) -> tuple[TaskTables, tuple[dict[str, Any], ...]]:
    """The tables with each row's picture path in a new column, and the entry naming it; the
    tables as they were and () when the rows are not (picture, class) pairs or most keys of train
    or of test have no picture of their own."""
    found = key_and_class(t, copy_columns)
    if found is None:
        return t, ()
    key, cls = found
    pictures = [p for p in files.listing_of(task_dir) if p.lower().endswith(PICTURE_SUFFIXES)]
    index = _WordIndex(pictures)
    for frame in (t.train, t.test):
        keys = frame[key].astype(str).drop_duplicates().head(_SAMPLE)
        if sum(index.find(k) is not None for k in keys) < max(1, int(0.8 * len(keys))):
            return t, ()
    column = next(
        c for c in ("picture", *(f"picture_{i}" for i in range(1, 100))) if c not in t.train.columns
    )
    frames = []
    for frame in (t.train, t.test):
        paths = {k: index.find(k) or "" for k in frame[key].astype(str).unique()}
        out = frame.assign(**{column: frame[key].astype(str).map(paths)})
        out.attrs.update(frame.attrs)
        frames.append(out)
    frames[0].attrs[CLASS_ROWS] = {"key": key, "class": cls}
    n_pictures = frames[0][column].replace("", pd.NA).nunique()
    built["train"] = "; ".join(
        filter(
            None,
            (
                built.get("train"),
                f"one row per ({key}, {cls}): {len(frames[0])} rows on {n_pictures} pictures found by "
                f"the words of {key} in their paths (column {column})",
            ),
        )
    )
    entry = {"train": f"{{{column}}}", "test": f"{{{column}}}", "kind": "image", "key": key, "class": cls}
    return TaskTables(frames[0], frames[1], t.sample_submission), (entry,)


class _WordIndex:
    """Picture paths by the words of their path ("train/case1/slice_0001_8_8.png": train, case1,
    slice, 0001, 8, png)."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        self.words = [_words(str(PurePosixPath(p).with_suffix(""))) for p in paths]
        self.by_word: dict[str, set[int]] = {}
        for i, words in enumerate(self.words):
            for word in words:
                self.by_word.setdefault(word, set()).add(i)

    def find(self, key: str) -> str | None:
        """The one path holding every word of the key, in the key's order; None when none or several do."""
        words = _words(key)
        if len(words) < 2:
            return None
        sets = sorted((self.by_word.get(w, set()) for w in words), key=len)
        hits = [i for i in set.intersection(*sets) if _in_order(words, self.words[i])]
        return self.paths[hits[0]] if len(hits) == 1 else None


def _words(text: str) -> list[str]:
    return [w for w in _SPLIT.split(text.lower()) if w]


def _in_order(words: list[str], path_words: list[str]) -> bool:
    at = iter(path_words)
    return all(any(w == p for p in at) for w in words)
