"""Answers of the nearest training rows: a text answer per row (an identifier, a sequence, boxes)
taken from the training rows most like it. Edit distances between answers choose the medoid of a
few neighbours' answers; the table's own columns become numbers beside the files' features;
answers are written in the spelling the metric reads (centres of boxes where it reads points)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

UNIT = "tokens"
"""What an edit between two answers changes: one "characters" or one space-separated "tokens"."""
SPELLING = "as_is"
"""How a training answer is written as a prediction: "as_is", or "centres" ("label x y w h"
groups written as "label cx cy", the centre of each box)."""
MEDOID_ROWS = 300
"""Training answers the medoid of all answers is taken over (a seeded sample of them)."""
CATEGORIES = 20
"""Values of a text column kept as their own 0/1 columns (the most frequent ones)."""
SEED = 0


def answer_units(text: str, unit: str) -> list[str]:
    return list(text) if unit == "characters" else text.split()


def edit_distance(a: Sequence[Any], b: Sequence[Any]) -> int:
    """Insertions, deletions and substitutions turning a into b (two rows of the table at a time)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, item in enumerate(a, 1):
        current = [i]
        for j, other in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (item != other)))
        previous = current
    return previous[-1]


def medoid(answers: Sequence[str], unit: str) -> str:
    """The answer with the least total edit distance to the others; ties go to the earliest (the
    nearest row's, when the answers come nearest first)."""
    if len(answers) <= 2:
        return answers[0]
    units = [answer_units(a, unit) for a in answers]
    totals = [sum(edit_distance(u, v) for v in units) for u in units]
    return answers[int(np.argmin(totals))]


def overall_medoid(answers: Sequence[str], unit: str) -> str:
    """The medoid of (a seeded sample of) all training answers: the answer for rows with nothing
    to compare them by."""
    rng = np.random.default_rng(SEED)
    rows = rng.choice(len(answers), min(MEDOID_ROWS, len(answers)), replace=False)
    return medoid([answers[i] for i in sorted(rows)], unit)


def centres(text: str) -> str:
    """ "label x y width height" groups written as "label x+width/2 y+height/2" (points in boxes)."""
    words = text.split()
    if len(words) % 5:
        raise ValueError(
            f"expected groups of 5 values (a label, x, y, width, height), found {len(words)} values"
        )
    out = []
    for i in range(0, len(words), 5):
        x, y, w, h = (float(v) for v in words[i + 1 : i + 5])
        out += [words[i], f"{x + w / 2:g}", f"{y + h / 2:g}"]
    return " ".join(out)


def spelled(text: str, spelling: str) -> str:
    """A training answer as the prediction the metric reads."""
    return centres(text) if spelling == "centres" else text


class TableColumns:
    """The table's own columns as numbers: numeric ones as they are, text ones as 0/1 columns of
    their most frequent values (learned on the training rows)."""

    def __init__(self, frame: pd.DataFrame, columns: Sequence[str]) -> None:
        self.numeric = [c for c in columns if pd.api.types.is_numeric_dtype(frame[c])]
        self.values = {
            c: frame[c].astype(str).value_counts().index[:CATEGORIES].tolist()
            for c in columns
            if c not in self.numeric
        }

    def table(self, frame: pd.DataFrame) -> pd.DataFrame:
        parts = {f"col_{c}": pd.to_numeric(frame[c], errors="coerce").astype(float) for c in self.numeric}
        for c, values in self.values.items():
            text = frame[c].astype(str)
            parts.update({f"col_{c}_{i}": (text == v).astype(float) for i, v in enumerate(values)})
        return pd.DataFrame(parts, index=frame.index)
