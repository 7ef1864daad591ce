"""Answers of the nearest training rows: a text answer per row (an identifier, a sequence, boxes)
taken from the training rows most like it. Edit distances between answers choose the medoid of a
few neighbours' answers; the table's own columns become numbers beside the files' features;
answers are written in the spelling the metric reads (centres of boxes where it reads points)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mlestar.metrics.edit_distance import levenshtein

UNIT = "tokens"
"""What an edit between two answers changes: one "characters" or one space-separated "tokens"."""
SPELLING = "as_is"
"""How a training answer is written as a prediction: "as_is"; "centres" ("label x y w h" groups
written as "label cx cy", the centre of each box); "confident" (each group of numbers ending with
a name written with a confidence of 1 before it)."""
MEDOID_ROWS = 200
"""Training answers the medoid of all answers is taken over (a seeded sample of them)."""
MEDOID_CHOICES = 50
"""Of those, the answers that may be chosen (each compared with all MEDOID_ROWS)."""
CATEGORIES = 20
"""Values of a text column kept as their own 0/1 columns (the most frequent ones)."""
SEED = 0


def answer_units(text: str, unit: str) -> list[str]:
    return list(text) if unit == "characters" else text.split()


def medoid(answers: Sequence[str], unit: str) -> str:
    """The answer with the least total edit distance to the others; ties go to the earliest (the
    nearest row's, when the answers come nearest first)."""
    if len(answers) <= 2:
        return answers[0]
    units = [answer_units(a, unit) for a in answers]
    totals = [sum(levenshtein(u, v) for v in units) for u in units]
    return answers[int(np.argmin(totals))]


def overall_medoid(answers: Sequence[str], unit: str) -> str:
    """The answer for rows with nothing to compare them by: of a seeded sample of the training
    answers, the one with the least total edit distance to a larger sample of them."""
    rng = np.random.default_rng(SEED)
    rows = sorted(rng.choice(len(answers), min(MEDOID_ROWS, len(answers)), replace=False))
    units = [answer_units(answers[i], unit) for i in rows]
    choices = units[:MEDOID_CHOICES]
    totals = [sum(levenshtein(u, v) for v in units) for u in choices]
    return answers[rows[int(np.argmin(totals))]]


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


def confident(text: str) -> str:
    """Each group of numbers ending with a name ("x y z w l h yaw car") written with a confidence
    of 1 before it ("1 x y z w l h yaw car"), as predictions of scored objects are."""
    out, group = [], []
    for word in text.split():
        group.append(word)
        try:
            float(word)
        except ValueError:
            out += ["1", *group]
            group = []
    if group:
        raise ValueError(
            f"expected groups of numbers ending with a name, found {' '.join(group)!r} at the end"
        )
    return " ".join(out)


def spelled(text: str, spelling: str) -> str:
    """A training answer as the prediction the metric reads."""
    if spelling == "centres":
        return centres(text)
    return confident(text) if spelling == "confident" else text


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
