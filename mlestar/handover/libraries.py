"""The ML libraries a pickled model refers to, found in its bytes without loading it.

A pickle names the module of every class it holds, so a model of scikit-learn forests holds the
text "sklearn". The files are mapped, not read: a model may be hundreds of MB.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Sequence
from pathlib import Path

MODEL_LIBRARIES = {
    "sklearn": "scikit-learn",
    "lightgbm": "lightgbm",
    "xgboost": "xgboost",
    "catboost": "catboost",
    "scipy": "scipy",
    "optuna": "optuna",
}
"""Module -> the distribution that installs it, for the libraries a pickled predictor may refer to
(a fixed table: asking importlib for every installed distribution takes seconds)."""

_WINDOW = 1 << 24
"""Bytes searched at a time: between windows a thread beside the search (the hand-over writing the
model) gets the interpreter back."""


def libraries_in(paths: Sequence[Path]) -> list[str]:
    """The distributions of the libraries named in any of the files, in the table's order."""
    found: set[str] = set()
    for path in paths:
        with path.open("rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                continue
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                found |= {d for m, d in MODEL_LIBRARIES.items() if d not in found and _names(data, m)}
    return [dist for dist in MODEL_LIBRARIES.values() if dist in found]


def _names(data: mmap.mmap, module: str) -> bool:
    word = module.encode()
    return any(
        data.find(word, start, start + _WINDOW + len(word) - 1) >= 0 for start in range(0, len(data), _WINDOW)
    )
