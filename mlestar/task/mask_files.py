"""Answers kept as per-row mask files: each training row has its own numeric array file named like
a mask ("train/{id}/human_pixel_masks.npy"), of 0/1 values and the shape of the row's picture,
and the submission wants one run-length mask per row. Intake encodes those files as the answer
column (run-length text, pixels numbered down the columns, 1-based), so the masks are learned like
any run-length answers; the row's input files are its picture.

Decided from the layout and the values, never from a task's name.
"""

from __future__ import annotations

import io
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from mlestar.task import answers, files, kinds, media_probe
from mlestar.task.tables import TaskTables

MASK_WORD = "mask"
ARRAY_SUFFIXES = (".npy",)
PROBE_ROWS = 8
"""Rows whose files are read to decide (all rows are read once the rule holds)."""


def with_mask_answers(
    task_dir: Path, t: TaskTables, id_column: str | None, built: dict[str, str]
) -> tuple[TaskTables, str | None]:
    """The tables with the answer column made from the rows' mask files, and the template those
    files follow; the tables unchanged (and None) when the task is not laid out so."""
    target = _wanted_mask_column(t, id_column)
    if target is None or id_column is None:
        return t, None
    listing = [p for p in files.listing_of(task_dir) if MASK_WORD in PurePosixPath(p).name.lower()]
    arrays = [p for p in listing if p.lower().endswith(ARRAY_SUFFIXES)]
    if not arrays:
        return t, None
    inputs = kinds.row_files(task_dir, t, id_column)
    shape = _picture_shape(task_dir, inputs, t.train, id_column)
    if shape is None:
        return t, None
    for template in _templates(arrays, t.train, id_column):
        paths = [_path(template, row, id_column) for row in t.train.to_dict("records")]
        probed = [_mask(task_dir, p, shape) is not None for p in paths[:PROBE_ROWS]]
        if sum(probed) >= 0.75 * len(probed):  # most rows: a missing file or two is a row to drop
            masks = [_mask(task_dir, p, shape) for p in paths]
            texts = [None if m is None else encode_runs(m) for m in masks]
            kept = [text is not None for text in texts]  # a row without its mask file has no answer
            train = t.train.assign(**{target: texts}).loc[kept].reset_index(drop=True)
            train.attrs.update(t.train.attrs)
            how = f"{target}: the masks in {template}" + (
                f" ({kept.count(False)} rows without one dropped)" if not all(kept) else ""
            )
            built["train"] = "; ".join(filter(None, (built.get("train"), how)))
            return TaskTables(train, t.test, t.sample_submission), template
    return t, None


def _templates(arrays: list[str], train: pd.DataFrame, id_column: str) -> list[str]:
    """The templates the training rows' mask files follow: over all of them ("masks/{id}.npy"),
    and one file name at a time ("{id}/pixel_masks.npy": a row missing one kind of mask file must
    not hide that kind behind another)."""
    by_name: dict[str, list[str]] = {}
    for path in arrays:
        by_name.setdefault(PurePosixPath(path).name, []).append(path)
    groups = [arrays] + [paths for paths in by_name.values() if len(paths) > 1]  # names folders share
    return sorted({template for group in groups for template in kinds.templates_in(group, train, id_column)})


def _wanted_mask_column(t: TaskTables, id_column: str | None) -> str | None:
    """The sample's one prediction column, when it holds run-length masks (or their empty marks)
    and train lacks it."""
    sample = t.sample_submission
    if sample is None or id_column is None or id_column not in t.train.columns:
        return None
    wanted = [str(c) for c in sample.columns if c != id_column]
    if len(wanted) != 1 or wanted[0] in t.train.columns:
        return None
    values = sample[wanted[0]].dropna().astype(str).str.strip()
    marks = values.isin(["", "-"])
    if pd.api.types.is_numeric_dtype(sample[wanted[0]]) or not (
        marks.all() or answers.are_run_lengths(values[~marks])
    ):
        return None
    return wanted[0]


def _picture_shape(
    task_dir: Path, inputs: tuple[dict[str, Any], ...], train: pd.DataFrame, id_column: str
) -> tuple[int, int] | None:
    """(height, width) of the first training row's input array or picture."""
    entry = next((e for e in inputs if e.get("train")), None)
    if entry is None or train.empty:
        return None
    first = train.head(1).to_dict("records")[0]  # per column types: an int key stays "7", not "7.0"
    data = media_probe.read_file(task_dir, _path(str(entry["train"]), first, id_column))
    if data is None:
        return None
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError):
        return media_probe.picture_size(data)
    return (int(array.shape[0]), int(array.shape[1])) if array.ndim >= 2 else None


def _path(template: str, row: dict[str, Any], id_column: str) -> str:
    values = {str(k): str(v) for k, v in row.items()}
    return kinds.fill_template(template, {**values, "id": str(row[id_column])})


def _mask(task_dir: Path, relative: str, shape: tuple[int, int]) -> np.ndarray | None:
    """The file's 0/1 array as a (height, width) boolean mask; None when it is no such mask."""
    data = media_probe.read_file(task_dir, relative)
    if data is None:
        return None
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError):
        return None
    array = np.squeeze(array)
    if array.shape != shape or array.dtype.kind not in "biuf" or not np.isin(array, (0, 1)).all():
        return None
    return array.astype(bool)


def encode_runs(mask: np.ndarray) -> str:
    """ "start length" pairs of a mask, pixels numbered down each column from 1; "" when empty."""
    flat = np.concatenate([[0], mask.ravel(order="F").astype(np.int8), [0]])
    edges = np.diff(flat)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return " ".join(f"{s + 1} {e - s}" for s, e in zip(starts, ends, strict=True))
