"""What kind of task it is: the rows' inputs, their per-row files, a date-time id, who can solve it.

Decided from the data, never from a task's name.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from mlestar.metrics import get_metric
from mlestar.task import answers, box_rows, files
from mlestar.task.rows import PIXEL_FILES
from mlestar.task.spec import ProblemType, TaskSpec
from mlestar.task.tables import TaskTables

KIND_OF_SUFFIX = {
    **dict.fromkeys((".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"), "image"),
    **dict.fromkeys((".wav", ".mp3", ".flac", ".aif", ".aiff", ".ogg"), "audio"),
    **dict.fromkeys((".npy", ".csv", ".parquet"), "signal"),
    **dict.fromkeys((".dcm", ".dicom", ".nii"), "volume"),
    **dict.fromkeys((".json", ".txt", ".xyz"), "text"),
    **dict.fromkeys((".mp4", ".avi"), "video"),
}
_SAMPLE_KEYS = 20
_REGION_WORDS = ("mask", "dice", "iou", "box", "hausdorff", "fbeta")
"""Metrics of regions (run-length masks, boxes), whose empty answer means nothing found."""


def row_files(task_dir: Path, t: TaskTables, id_column: str | None) -> tuple[dict[str, Any], ...]:
    """Path templates ("train/{id}.jpg") that resolve for most rows of train and of test; per-pixel
    tables carry their own (one picture per "image" key).

    "{id}" stands for the row's key. Where the file's place varies with another column of the row
    (one folder per class: "train/{label}/{id}.jpg"; a column holding the path: "train/{file_name}"),
    the template names that column in braces."""
    if t.train.attrs.get(PIXEL_FILES):
        return (dict(t.train.attrs[PIXEL_FILES]),)
    if id_column is None or id_column not in t.test.columns:
        return ()
    listing = files.listing_of(task_dir)
    if not listing:
        return ()
    index = _PathIndex(listing)
    train_rows = t.train.head(_SAMPLE_KEYS) if id_column in t.train.columns else t.train.head(0)
    test_rows = t.test.head(_SAMPLE_KEYS)
    test_t = _template(index, test_rows, id_column)
    train_t = _like_test(_templates(index, train_rows, id_column), test_t)
    if not (train_t or test_t):
        return ()
    template, rows = (train_t, train_rows) if train_t else (test_t, test_rows)
    example = fill_template(
        template or "", {**_values(rows.iloc[0], id_column), "id": str(rows.iloc[0][id_column])}
    )
    suffix = PurePosixPath(example).suffix.lower()
    return ({"train": train_t, "test": test_t, "kind": KIND_OF_SUFFIX.get(suffix, "files")},)


def templates_in(listing: list[str], rows: pd.DataFrame, key_column: str) -> list[str]:
    """The templates most of the first rows' files among `listing` fit, best first."""
    return _templates(_PathIndex(listing), rows.head(_SAMPLE_KEYS), key_column)


_PLACEHOLDER = re.compile(r"\{([^{}\[\]]+)(?:\[(\d+)\]|\[:(\d+)\])?\}")
"""{column}, {column[i]} (its i-th character) or {column[:n]} (its first n characters)."""


def fill_template(template: str, values: dict[str, str]) -> str:
    """A row's file: the template with each "{column}" replaced by the row's value ("id": its key)."""

    def cell(m: re.Match[str]) -> str:
        value = values[m.group(1)]
        return value[int(m.group(2))] if m.group(2) else value[: int(m.group(3))] if m.group(3) else value

    return _PLACEHOLDER.sub(cell, template)


class _PathIndex:
    """The task's files by name, by stem, by folder name and by trailing path ("a/b/1.jpg")."""

    def __init__(self, listing: list[str]) -> None:
        self.by_part: dict[str, list[str]] = {}
        self.by_tail: dict[str, list[str]] = {}
        for path in listing:
            p = PurePosixPath(path)
            for part in {p.name, p.stem, *p.parts[:-1]}:
                self.by_part.setdefault(part, []).append(path)
            for i in range(1, len(p.parts) - 1):
                self.by_tail.setdefault("/".join(p.parts[i:]), []).append(path)


def _template(index: _PathIndex, rows: pd.DataFrame, key_column: str) -> str | None:
    found = _templates(index, rows, key_column)
    return found[0] if found else None


def _like_test(candidates: list[str], test_template: str | None) -> str | None:
    """Of train templates that fit equally well (pictures and their masks side by side), the one
    laid out as test's ("train/images/{id}.png" for "test/images/{id}.png"); else the first."""
    for template in candidates:
        if test_template and template.replace("train", "test") == test_template:
            return template
    return candidates[0] if candidates else None


def _templates(index: _PathIndex, rows: pd.DataFrame, key_column: str) -> list[str]:
    """The templates most rows' files fit (at least 80% of them), equally often, by name: the key
    in the path as it is; else the key with a folder named by another column; else a column that
    holds the path."""
    if rows.empty:
        return []
    need = max(1, int(0.8 * len(rows)))
    plain: Counter[str] = Counter()
    named: Counter[str] = Counter()
    for _, row in rows.astype(
        object
    ).iterrows():  # as object: an int key beside a float column stays "7", not "7.0"
        key, values = str(row[key_column]), _values(row, key_column)
        keyed = {_with_key(path, key) for path in index.by_part.get(key, ())}
        plain.update(keyed)
        named.update({_with_columns(t, values) for t in keyed} - keyed)
        for column, value in values.items():  # a column holding the file's name or its path
            hits = {
                *index.by_tail.get(value, ()),
                *(p for p in index.by_part.get(value, ()) if p.endswith(value)),
            }
            named.update({path[: len(path) - len(value)] + f"{{{column}}}" for path in hits})
    best = max(plain.values(), default=0)
    if sum(n == best for n in plain.values()) > 1 and max(named.values(), default=0) >= max(best, need):
        plain = Counter()  # the same name in several folders, and a column of the row names the folder
    for votes in (plain, named):
        best = max(votes.values(), default=0)
        if best >= need:
            return sorted(t for t, n in votes.items() if n == best)
    return []


def _values(row: pd.Series, key_column: str) -> dict[str, str]:
    """The row's other cells that could name a file or folder (text, or whole numbers)."""
    out = {}
    for column, value in row.items():
        if (
            column == key_column
            or str(column) == "id"
            or not isinstance(value, str | int | np.integer)
            or isinstance(value, bool)
        ):
            continue
        text = str(value).strip()
        if text and "{" not in text and "}" not in text:
            out[str(column)] = text
    return out


def _with_key(path: str, key: str) -> str:
    parts = list(PurePosixPath(path).parts)
    at = next((i for i, p in enumerate(parts) if p == key or PurePosixPath(p).stem == key), None)
    if at is None:
        return path
    parts[at] = parts[at].replace(key, "{id}", 1)
    return "/".join([*_sharded(parts[:at], key), *parts[at:]])


def _sharded(folders: list[str], key: str) -> list[str]:
    """Folders that spread files by the first characters of their key ("3/3f2a.npy",
    "a/b/c/abc9.jpg", "ab/ab12.png") named as such: {id[0]}, {id[1]}, ..., or {id[:2]}."""
    out, used = [], 0
    for part in folders:
        if part and used + len(part) < len(key) and part == key[used : used + len(part)]:
            if len(part) == 1:
                out.append(f"{{id[{used}]}}")
                used += 1
                continue
            if used == 0:
                out.append(f"{{id[:{len(part)}]}}")
                used = len(part)
                continue
        out.append(part)
    return out


def _with_columns(template: str, values: dict[str, str]) -> str:
    """The template with each folder that equals one of the row's values named by its column."""
    parts = template.split("/")
    by_value = {v: c for c, v in reversed(values.items())}
    named = [f"{{{by_value[p]}}}" if p in by_value and "{" not in p else p for p in parts[:-1]]
    return "/".join([*named, parts[-1]])


def id_carries_time(test: pd.DataFrame, id_column: str | None) -> bool:
    """A date-time id (hourly counts keyed by their hour): it keys rows and is a feature too."""
    if id_column is None or id_column not in test.columns or pd.api.types.is_numeric_dtype(test[id_column]):
        return False
    head = test[id_column].dropna().astype(str).head(200)
    if head.empty or not head.str.match(r"^\d{4}-\d{1,2}-\d{1,2}").all():
        return False
    return bool(pd.to_datetime(head, errors="coerce").notna().all())


def inputs(t: TaskTables, found: tuple[dict[str, Any], ...], id_column: str | None) -> str:
    if found:
        return str(found[0]["kind"])
    features = [c for c in t.test.columns if c != id_column]
    for col in features:
        values = t.test[col]
        if answers.is_texty(values) and answers.looks_like_text(values.head(500)):
            return "text"
    return "tabular" if features else "files"


def solver(spec: TaskSpec, t: TaskTables) -> tuple[str, str]:
    """("engineers", baseline) when the answers can be learned and scored, else ("baseline", baseline)."""
    base = baseline(spec, t)
    if not spec.train_target_columns:
        return "baseline", base
    metric = get_metric(spec.metric)
    if (
        spec.problem_type is ProblemType.TEXT
        and metric.needs != "text"
        and getattr(metric, "text_fn", None) is None
    ):
        return "baseline", base
    return "engineers", base


def baseline(spec: TaskSpec, t: TaskTables) -> str:
    """The documented answer when no engineer answers (docs/conformance.md, Baselines)."""
    problem, sample = spec.problem_type, t.sample_submission
    if problem is ProblemType.TEXT:
        return _text_baseline(spec, t)
    if spec.submission.value_kind == "ranked" and spec.train_target_columns:
        return "popular"
    if not spec.train_target_columns:
        return "sample" if sample is not None else "mean"
    if problem.is_classification:
        return "prior" if spec.submission.value_kind == "probability" else "majority"
    return "mean"


def _text_baseline(spec: TaskSpec, t: TaskTables) -> str:
    target = spec.target_columns[0]
    sample = t.sample_submission
    placeholder = sample[target].astype(str) if sample is not None and target in sample.columns else None
    for col in t.test.columns:
        if col == spec.id_column:
            continue
        values = t.test[col].astype(str)
        if (
            placeholder is not None
            and len(values) == len(placeholder)
            and (values.to_numpy() == placeholder.to_numpy()).all()
        ):
            return f"copy:{col}"
    if sample is None and target in t.test.columns:
        return f"copy:{target}"
    if placeholder is not None and not spec.train_target_columns:
        # Nothing to learn from: the sample's own answers are in the grader's spelling; "empty" when
        # the sample itself spells answers as empty.
        return "empty" if placeholder.isin(["", "-", "nan"]).any() else "sample"
    if placeholder is not None and "box" in spec.metric and box_rows.are_box_strings(placeholder):
        return "sample"  # the sample's box is its "nothing found", an answer the grader scores
    numbers = placeholder is not None and placeholder.str.fullmatch(r"\d+( \d+)+|-|nan").mean() > 0.5
    if numbers and any(w in spec.metric for w in _REGION_WORDS):
        return "empty"  # run-length masks or boxes: "nothing found" is a valid answer
    if spec.train_target_columns and answers.are_spans(t.train[spec.train_target_columns[0]], t.train):
        texts = [c for c in t.test.columns if answers.is_texty(t.test[c]) and c != spec.id_column]
        if texts:
            return "copy:" + max(texts, key=lambda c: t.test[c].astype(str).str.len().mean())
    if spec.train_target_columns and not answers.is_nested(t.train[spec.train_target_columns[0]]):
        return "popular"
    return "sample"  # no answers, or answers as records (lists, mappings) in no submission's spelling
