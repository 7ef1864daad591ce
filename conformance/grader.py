"""Each replica's own grader check: is a submission valid for that layout?

Valid means what the competition's grader needs before it scores: the sample's columns, the same
rows (by key, or by order with the repeated input columns unchanged), and answers of the right kind
(numbers, probabilities in [0, 1], rows of a distribution summing to one, labels of the answers'
type, text where text is asked, run-length masks as pairs of integers).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

_RLE = re.compile(r"^\s*(\d+\s+\d+\s*)*$")


def problems(entry: dict[str, Any], answers_path: Path, submission_path: Path) -> list[str]:
    """Everything that makes the submission invalid; empty when it is valid."""
    if not submission_path.is_file():
        return [f"no submission at {submission_path}"]
    answers = pd.read_csv(answers_path, dtype=str, keep_default_na=False)
    try:
        sub = pd.read_csv(submission_path, dtype=str, keep_default_na=False)
    except Exception as exc:  # an unreadable file is the finding
        return [f"unreadable submission: {exc}"]
    sub = sub.loc[:, [c for c in sub.columns if not c.startswith("Unnamed:")]]
    wanted = [c for c in answers.columns if not c.startswith("Unnamed:")]
    missing = [c for c in wanted if c not in sub.columns]
    if missing:
        return [f"expected columns {wanted}, found {list(sub.columns)}"]
    if len(sub) != len(answers):
        return [f"expected {len(answers)} rows, found {len(sub)}"]
    found = list(_key_problems(entry, answers, sub))
    targets = [c for c in wanted if c in _target_columns(entry, answers)]
    for col in targets:
        found += _value_problems(entry["expect"]["values"], col, answers[col], sub[col])
        if entry["expect"].get("nonempty") and (sub[col] == "").any():
            found.append(f"{col}: empty answers (this grader reads only text)")
    if entry["expect"]["values"] == "distribution":
        total = sub[targets].apply(pd.to_numeric, errors="coerce").sum(axis=1)
        if not np.allclose(total, 1.0, atol=1e-4):
            found.append("rows of the distribution do not sum to one")
    return found


def _target_columns(entry: dict[str, Any], answers: pd.DataFrame) -> list[str]:
    targets = entry["expect"]["targets"]
    if isinstance(targets, list):
        return targets
    copies = set(entry.get("sample", {}).get("copy", []))
    key = entry["expect"].get("id")
    return [c for c in answers.columns if c != key and c not in copies]


def _key_problems(entry: dict[str, Any], answers: pd.DataFrame, sub: pd.DataFrame) -> list[str]:
    # "key": the submission's key where it is not the rows' id (pair rows made of a row and a class)
    key = entry["expect"].get("key", entry["expect"].get("id"))
    if key:
        if set(sub[key]) != set(answers[key]):
            return [f"the {key} values differ from the test rows'"]
        return []
    copies = [c for c in answers.columns if c not in _target_columns(entry, answers)]
    for col in copies:
        if not (sub[col].to_numpy() == answers[col].to_numpy()).all():
            return [f"column {col} is not the test rows' {col} in order"]
    return []


def _value_problems(kind: str, col: str, truth: pd.Series, values: pd.Series) -> list[str]:
    if kind in ("probability", "number", "distribution"):
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers.isna().any() or not np.isfinite(numbers).all():
            return [f"{col}: expected numbers, found {values[numbers.isna()].head(3).tolist()}"]
        if kind == "probability" and ((numbers < 0) | (numbers > 1)).any():
            return [f"{col}: probabilities outside [0, 1]"]
        return []
    if kind == "label":
        if (values == "").any():
            return [f"{col}: empty labels"]
        if truth.str.fullmatch(r"-?\d+").all() and not values.str.fullmatch(r"-?\d+(\.0)?").all():
            return [f"{col}: expected integer labels, found {values.head(3).tolist()}"]
        return []
    if kind == "ranked" and (values == "").any():
        return [f"{col}: expected ranked labels on every row"]
    if kind == "text" and truth.map(_is_rle).all() and not values.map(_is_rle).all():
        return [f"{col}: expected run-length masks, found {values[~values.map(_is_rle)].head(3).tolist()}"]
    return []


def _is_rle(value: str) -> bool:
    return value in ("", "-") or (bool(_RLE.match(value)) and len(value.split()) % 2 == 0)
