"""Facts about the prepared tables that the task profile does not hold, read once per run folder.

time_interleaved: most test rows have training rows both before and after them in time (the first
date column), so the answers of a row's neighbours in time are known when it is predicted. False
when test follows train in time (a forecast), where such features would look good in random folds
and fail on test.

span_source, span_contexts: for text answers, the input text column the answers are pieces of (in
most rows), and the columns with a few values that may say which piece is wanted.

text_pairs: pairs of string columns holding words of one vocabulary, compared row by row (two
phrases, a question and its duplicate): many rows share a word across the two, or the two
columns' vocabularies overlap. A pair is judged by how alike its two texts are, which features
of each text alone cannot tell.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlestar import contract

INTERLEAVED_SHARE = 0.8
SAMPLE_ROWS = 3000
PAIR_SHARED_ROWS = 0.2
"""A pair shares a word on at least this share of rows..."""
PAIR_VOCABULARY = 0.3
"""...or the two columns' vocabularies overlap at least this much (Jaccard)."""
_PAIR_KINDS = ("text", "categorical", "structured", "id")


def with_facts(profile: dict[str, Any], data_dir: Path) -> dict[str, Any]:
    """The profile with the data facts added (the profile itself is left as it is)."""
    columns = profile.get("columns", {})
    features = list(profile.get("features", []))
    facts: dict[str, Any] = {}
    dates = [c for c in features if columns.get(c, {}).get("kind") == "date"]
    if dates:
        facts["time_interleaved"] = time_interleaved(Path(data_dir), dates[0])
    wordy = tuple(c for c in features if columns.get(c, {}).get("kind") in _PAIR_KINDS)
    if profile.get("problem_type") == "text":
        source = span_source(Path(data_dir), wordy)
        if source:
            facts["span_source"] = source
            facts["span_contexts"] = [
                c for c in features if c != source and 2 <= columns.get(c, {}).get("n_unique", 0) <= 20
            ]
    if len(wordy) >= 2:
        facts["text_pairs"] = [list(pair) for pair in text_pairs(Path(data_dir), wordy)]
    return {**profile, **facts} if facts else profile


@lru_cache(maxsize=16)
def time_interleaved(data_dir: Path, column: str) -> bool:
    try:
        train = pd.read_parquet(data_dir / contract.TRAIN_FILE, columns=[column])[column]
        test = pd.read_parquet(data_dir / contract.TEST_FILE, columns=[column])[column]
    except (OSError, KeyError, ValueError):
        return False
    known = np.sort(pd.to_datetime(train, errors="coerce").dropna().to_numpy())
    asked = pd.to_datetime(test, errors="coerce").dropna().to_numpy()
    if len(known) < 2 or len(asked) == 0:
        return False
    before = np.searchsorted(known, asked, side="left") > 0
    after = np.searchsorted(known, asked, side="right") < len(known)
    return bool(np.mean(before & after) >= INTERLEAVED_SHARE)


SPAN_SHARE = 0.8
"""The answers are pieces of a column when this share of (non-empty) answers occur in its text."""


@lru_cache(maxsize=16)
def span_source(data_dir: Path, columns: tuple[str, ...]) -> str:
    """The column whose text holds the answers in most rows ("" when none does)."""
    try:
        rows = pd.read_parquet(data_dir / contract.TRAIN_FILE, columns=list(columns)).head(SAMPLE_ROWS)
        answers = np.load(data_dir / contract.TARGET_FILE, allow_pickle=False).reshape(-1)[: len(rows)]
    except (OSError, KeyError, ValueError):
        return ""
    if answers.dtype.kind != "U":
        return ""
    shares = {}
    for column in columns:
        texts = rows[column].fillna("").astype(str).tolist()
        pairs = [(str(a), t) for a, t in zip(answers, texts, strict=True) if str(a)]
        inside = [a in t for a, t in pairs]
        longer = np.mean([len(t) for _, t in pairs]) > np.mean([len(a) for a, _ in pairs]) if pairs else False
        shares[column] = float(np.mean(inside)) if inside and longer else 0.0
    best = max(shares, key=lambda k: shares[k], default="")
    return best if best and shares[best] >= SPAN_SHARE else ""


@lru_cache(maxsize=16)
def text_pairs(data_dir: Path, columns: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Pairs of columns (in table order, each column in one pair at most) that share words."""
    try:
        rows = pd.read_parquet(data_dir / contract.TRAIN_FILE, columns=list(columns)).head(SAMPLE_ROWS)
    except (OSError, KeyError, ValueError):
        return ()
    words = {c: rows[c].fillna("").astype(str).str.lower().str.findall(r"\w+").map(set) for c in columns}
    found: list[tuple[str, str]] = []
    used: set[str] = set()
    for i, a in enumerate(columns):
        for b in columns[i + 1 :]:
            if a not in used and b not in used and _alike(words[a], words[b]):
                found.append((a, b))
                used.update((a, b))
    return tuple(found)


def _alike(a: pd.Series, b: pd.Series) -> bool:
    """Two columns of word sets, both varied, sharing words row by row or in their vocabularies."""
    if (
        a.map(len).mean() < 1
        or b.map(len).mean() < 1
        or min(a.map(frozenset).nunique(), b.map(frozenset).nunique()) < 20
    ):
        return False
    shared = np.mean([bool(x & y) for x, y in zip(a, b, strict=True)])
    vocab_a, vocab_b = set().union(*a), set().union(*b)
    overlap = len(vocab_a & vocab_b) / max(len(vocab_a | vocab_b), 1)
    return bool(shared >= PAIR_SHARED_ROWS or overlap >= PAIR_VOCABULARY)
