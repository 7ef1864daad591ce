"""Training tables with one row per box, answered per picture with a prediction string.

Detection tasks often give one training row per box (the picture's key, a class, the box as
numeric x/y columns or as one "[x, y, width, height]" cell) while the submission has one row per
picture and one prediction string ("class confidence x_min y_min x_max y_max ..."). No training
column holds that answer: it is made of several rows. Intake groups the box rows by the picture
key into one training row per picture whose answer is its boxes written as the submission writes
them (confidence 1), so the search can learn and score it like any text answer. A row without a
box (a "nothing found" row: blank coordinates) contributes the sample's own spelling of nothing
found, with the row's class.

The rule is on layout only: coordinate columns named like x_min/y_min/x_max/y_max or
x/y/width/height (or one box cell), a class column, and a sample of box strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlestar.task.infer import id_text
from mlestar.task.tables import TaskTables

CORNERS = (("xmin", "ymin", "xmax", "ymax"), ("x1", "y1", "x2", "y2"), ("left", "top", "right", "bottom"))
"""Coordinate column names (lower case, without "_" or "-") of boxes given by two corners."""
SIZES = (
    ("x", "y", "width", "height"), ("x", "y", "w", "h"), ("xmin", "ymin", "width", "height"),
    ("xmin", "ymin", "w", "h"), ("left", "top", "width", "height"),
)  # fmt: skip
"""Coordinate column names of boxes given by a corner and a size."""
BOX_CELL_WORDS = ("bbox", "box", "boxes", "bounding")
"""Words naming a column whose cells hold one box as four numbers (x, y, width, height, as COCO does)."""
CLASS_WORDS = ("class", "label", "category", "categ", "type")
MAX_CLASSES = 100
_LOOK = 200
"""A class column has at most this many distinct values."""
_NUMBER = r"-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?"
_CELL = re.compile(
    rf"^\s*[\[(]?\s*({_NUMBER})[\s,]+({_NUMBER})[\s,]+({_NUMBER})[\s,]+({_NUMBER})\s*[\])]?\s*$"
)


@dataclass(frozen=True)
class BoxColumns:
    """Where train keeps each row's box: four columns ("corners" or "sizes"), or one cell ("cell")."""

    columns: tuple[str, ...]
    form: str


def group_boxes(t: TaskTables, target: str, id_column: str | None) -> tuple[TaskTables, str] | None:
    """(tables with train grouped to one row per picture, how) when train holds one row per box and
    the sample answers each picture with a prediction string; None otherwise."""
    train, sample = t.train, t.sample_submission
    if sample is None or id_column is None or target in train.columns or id_column not in train.columns:
        return None
    if target not in sample.columns or not are_box_strings(sample[target], allow_empty=True):
        return None
    found = box_columns(train)
    if found is None:
        return None
    label = class_column(train, t.test, id_column, found, sample[target])
    nothing, single = _nothing_tail(sample[target])
    labels = train[label].map(_label_text) if label else pd.Series(single, index=train.index)
    grouped = _grouped(train, t.test, id_column, target, found, labels, nothing)
    grouped.attrs.update(train.attrs)
    how = (
        f"{len(train)} box rows grouped by {id_column} into {len(grouped)} rows, "
        f"answer {target}: the boxes ({', '.join(found.columns)}) of class {label or 'one class'}"
    )
    return TaskTables(grouped, t.test, sample), how


def are_box_strings(values: pd.Series, allow_empty: bool = False) -> bool:
    """Prediction strings: groups of a label and five numbers (confidence and a box) on every row,
    at least one box among them (blank cells count as no box only when allow_empty)."""
    if pd.api.types.is_numeric_dtype(values) or values.empty:
        return False
    if len(values) > _LOOK and not _spelled_as_boxes(values.head(_LOOK)):
        return False  # a look at the first rows rules most columns out without reading them all
    counts = values.fillna("").astype(str).str.split().str.len()
    return bool(_spelled_as_boxes(values) and (counts > 0).any() and (allow_empty or (counts > 0).all()))


def _spelled_as_boxes(values: pd.Series) -> bool:
    return bool(values.fillna("").astype(str).str.split().map(_is_box_list).all())


def _is_box_list(words: list[str]) -> bool:
    """Whether the words are boxes: a label, then five numbers, repeated."""
    return len(words) % 6 == 0 and all(_is_number(v) for i, v in enumerate(words) if i % 6)


def box_columns(train: pd.DataFrame) -> BoxColumns | None:
    """The box's coordinate columns: corners first, then corner and size, then one box cell."""
    names = {_plain(c): str(c) for c in train.columns}
    for form, choices in (("corners", CORNERS), ("sizes", SIZES)):
        for choice in choices:
            if all(n in names for n in choice):
                columns = tuple(names[n] for n in choice)
                if all(_mostly_numeric(train[c]) for c in columns):
                    return BoxColumns(columns, form)
    for col in map(str, train.columns):
        if any(w in _plain(col) for w in BOX_CELL_WORDS) and _are_box_cells(train[col]):
            return BoxColumns((col,), "cell")
    return None


def class_column(
    train: pd.DataFrame, test: pd.DataFrame, id_column: str, found: BoxColumns, sample: pd.Series
) -> str | None:
    """The train-only column naming each box's class: the one holding the sample's labels, else one
    spelled like them (numbers or words) and named like a class; None for a single class."""
    taken = {id_column, *found.columns}
    candidates = [
        str(c) for c in train.columns
        if c not in taken and c not in test.columns and 1 <= train[c].nunique() <= MAX_CLASSES
    ]  # fmt: skip
    if not candidates:
        return None
    labels = {_label_text(w[0]) for w in sample.fillna("").astype(str).str.split() if w}
    numeric = bool(labels) and all(_is_number(v) for v in labels)

    def rank(col: str) -> tuple[bool, bool, bool, int]:
        values = set(train[col].dropna().map(_label_text))
        spelled = all(_is_number(v) for v in values) == numeric
        named = any(w in _plain(col) for w in CLASS_WORDS)
        return (not bool(labels & values), not spelled, not named, candidates.index(col))

    return min(candidates, key=rank)


def _grouped(
    train: pd.DataFrame, test: pd.DataFrame, id_column: str, target: str,
    found: BoxColumns, labels: pd.Series, nothing: str | None,
) -> pd.DataFrame:  # fmt: skip
    corners = _corners(train, found)
    words = []
    for (x1, y1, x2, y2), name in zip(corners, labels, strict=True):
        if np.isfinite([x1, y1, x2, y2]).all():
            words.append(f"{name} 1 {_num(x1)} {_num(y1)} {_num(x2)} {_num(y2)}")
        else:
            words.append(f"{name} {nothing}" if nothing else "")
    keys = id_text(train[id_column])
    boxes = pd.Series(words, index=train.index).groupby(keys, sort=False).agg(_joined)
    kept = [c for c in test.columns if c in train.columns and c != id_column]
    first = train.groupby(keys, sort=False)[[id_column, *kept]].first()
    return first.assign(**{target: boxes}).reset_index(drop=True)


def _joined(boxes: pd.Series) -> str:
    """A picture's boxes, each once, in the order given."""
    return " ".join(b for b in dict.fromkeys(boxes) if b)


def _corners(train: pd.DataFrame, found: BoxColumns) -> np.ndarray:
    """(n, 4) boxes as x_min, y_min, x_max, y_max; NaN where a row has no box."""
    if found.form == "cell":
        parsed = train[found.columns[0]].map(_cell_numbers)
        values = np.array([p if p is not None else [np.nan] * 4 for p in parsed], dtype=float)
    else:
        values = train[list(found.columns)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float).copy()
    if found.form != "corners":
        values[:, 2:] += values[:, :2]
    return values


def _nothing_tail(sample: pd.Series) -> tuple[str | None, str]:
    """The confidence and box of the sample's first box ("1 0 0 1 1": its spelling of nothing
    found), and its label (the class of every box when train names none)."""
    for text in sample.fillna("").astype(str):
        words = text.split()
        if len(words) >= 6:
            return " ".join(words[1:6]), words[0]
    return None, "0"


def _cell_numbers(value: object) -> list[float] | None:
    match = _CELL.match(str(value)) if isinstance(value, str) else None
    return [float(v) for v in match.groups()] if match else None


def _are_box_cells(values: pd.Series) -> bool:
    text = values.dropna()
    return bool(len(text)) and bool(text.map(_cell_numbers).notna().mean() > 0.9)


def _mostly_numeric(values: pd.Series) -> bool:
    """Numbers on most rows (rows without a box leave theirs blank)."""
    numbers = pd.to_numeric(values, errors="coerce")
    return bool(numbers.notna().any() and numbers.notna().sum() >= 0.5 * values.notna().sum())


def _plain(name: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _label_text(value: object) -> str:
    """A class as the submission spells it: whole numbers without ".0"."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _num(value: float) -> str:
    return f"{round(float(value), 4):.10g}"
