"""What the answers are: label columns under another name, one-hot columns, label lists, text.

Pure functions of the tables. They extend mlestar.task.infer: a prediction column train lacks is
answered by the train-only column that holds the label; several 0/1 columns with one 1 per row are
one multi-class answer; space- or comma-separated label lists over a small vocabulary are a
multi-label answer; answers that are sentences, masks or prediction strings are text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from mlestar.task.spec import ProblemType

_TARGET_WORDS = ("target", "label", "labels", "class", "category", "answer", "y", "score")
_TEXT_METRICS = (
    "jaccard", "levenshtein", "edit_distance", "kendall", "dice", "iou", "fbeta", "hausdorff",
    "map_3d", "coco", "kuzushiji", "nq_", "tag_f1", "bleu", "rouge",
)  # fmt: skip
_RLE = re.compile(r"^\d+( \d+)+$")
MAX_LABEL_VOCAB = 500
"""Label lists over more labels than this are answered as text, not as one column per label."""


def pick_label(train: pd.DataFrame, test: pd.DataFrame, id_column: str | None, wanted: str) -> str | None:
    """The train-only column holding the answer to a prediction column train lacks."""
    only = [str(c) for c in train.columns if c not in test.columns and c != id_column]
    if len(only) == 1:
        return only[0]
    named = [
        c for c in only
        if any(w == c.lower() or c.lower().endswith("_" + w) or c.lower().startswith(w + "_") for w in _TARGET_WORDS)
    ]  # fmt: skip
    if len(named) >= 1:
        return sorted(named, key=lambda c: (c.lower() not in _TARGET_WORDS, only.index(c)))[0]
    texts = [c for c in only if is_texty(train[c]) and looks_like_text(train[c])]
    if len(texts) == 1:
        return texts[0]
    wanted_words = set(re.split(r"[^a-z0-9]+", wanted.lower()))
    similar = [c for c in only if wanted_words & set(re.split(r"[^a-z0-9]+", c.lower()))]
    return similar[0] if len(similar) == 1 else None


def is_one_hot(train: pd.DataFrame, columns: Sequence[str]) -> bool:
    """Several 0/1 columns with exactly one 1 on every (answered) row."""
    if len(columns) < 2:
        return False
    frame = train[list(columns)].dropna()
    if frame.empty or not all(pd.api.types.is_numeric_dtype(frame[c]) for c in columns):
        return False
    values = frame.to_numpy(dtype=float)
    return bool(np.isin(values, (0.0, 1.0)).all() and (values.sum(axis=1) == 1).all())


def label_sets(values: pd.Series) -> tuple[str, tuple[str, ...]] | None:
    """(separator, vocabulary) when the values are lists of labels joined by spaces or commas."""
    if pd.api.types.is_numeric_dtype(values):  # before any text copy: numbers are never label sets
        return None
    text = values.dropna().astype(str)
    if text.empty or not is_texty(values) or is_nested(values):
        return None
    for sep in (" ", ","):
        parts = text.str.split(sep)
        lengths = parts.str.len()
        if (lengths > 1).mean() < 0.05:
            continue
        vocab = sorted({t for p in parts for t in p if t})
        if len(vocab) <= max(2, len(text) // 2) and lengths.max() <= 50:
            return sep, tuple(vocab)
    return None


def are_spans(values: pd.Series, frame: pd.DataFrame) -> bool:
    """Answers that are pieces of another text column of the same row (most rows)."""
    answers = values.fillna("").astype(str)
    for col in frame.columns:
        if not is_texty(frame[col]) or col == values.name:
            continue
        texts = frame[col].fillna("").astype(str)
        if texts.head(500).str.split().str.len().mean() < 3:
            continue
        inside = [a in t for a, t in zip(answers.head(500), texts.head(500), strict=True) if a]
        if inside and sum(inside) >= 0.8 * len(inside) and texts.str.len().mean() > answers.str.len().mean():
            return True
    return False


def is_nested(values: pd.Series) -> bool:
    """Cells holding lists, mappings or tuples (JSON records), not text."""
    return bool(values.dropna().head(200).map(lambda v: isinstance(v, list | dict | tuple)).any())


def is_texty(values: pd.Series) -> bool:
    """Text cells (object or string dtype), not numbers or booleans."""
    return (
        not pd.api.types.is_numeric_dtype(values)
        and not pd.api.types.is_bool_dtype(values)
        and (values.dtype == object or pd.api.types.is_string_dtype(values))
    )


def rewrites_input(values: pd.Series, frame: pd.DataFrame) -> bool:
    """Answers that equal another column of the same row on most rows (normalising a text)."""
    answers = values.fillna("").astype(str)
    for col in frame.columns:
        if col != values.name and is_texty(frame[col]):
            same = (frame[col].fillna("").astype(str) == answers).mean()
            if same >= 0.5:
                return True
    return False


def is_text_metric(metric: str) -> bool:
    """A metric over text answers (the registry says so; unknown names by their words)."""
    from mlestar.errors import ConfigError
    from mlestar.metrics import get_metric

    try:
        return get_metric(metric).needs == "text"
    except ConfigError:
        return any(word in metric for word in _TEXT_METRICS)


def looks_like_text(values: pd.Series) -> bool:
    """Answers that are sentences, run-length masks or prediction strings rather than labels."""
    if pd.api.types.is_numeric_dtype(values):  # before any text copy (millions of pixel answers)
        return False
    text = values.dropna().astype(str)
    if text.empty:
        return False
    words = text.str.split().str.len()
    if text.str.match(_RLE).mean() > 0.5:
        return True
    return bool(words.mean() >= 3 or text.nunique() > 0.5 * len(text) and words.mean() >= 1.5)


def problem_for_text(values: pd.Series, metric: str | None) -> ProblemType | None:
    if metric and is_text_metric(metric):
        return ProblemType.TEXT
    return ProblemType.TEXT if looks_like_text(values) else None


def are_run_lengths(values: pd.Series) -> bool:
    """Run-length masks: every answered cell is pairs of integers. There a blank cell is an answer
    (the empty mask: nothing of the kind in the picture), not a missing one."""
    if pd.api.types.is_numeric_dtype(values):  # before spelling millions of numbers as text
        return False
    text = values.dropna().astype(str).str.strip()
    text = text[text != ""]
    if text.empty:
        return False
    return bool(text.str.fullmatch(_RLE).all() and (text.str.split().str.len() % 2 == 0).all())


def unanswered(train: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """Rows of train with no answer in any of the given columns (empty, NaN or blank)."""
    frame = train[list(columns)]
    blank = frame.isna()
    for col in frame.columns:  # only text can be blank; numbers are answered unless missing
        if not pd.api.types.is_numeric_dtype(frame[col]):
            blank[col] |= frame[col].astype(str).str.strip() == ""
    return blank.all(axis=1)
