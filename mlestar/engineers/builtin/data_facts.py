"""Facts about the prepared tables that the task profile does not hold, read once per run folder.

time_interleaved: most test rows have training rows both before and after them in time (the first
date column), so the answers of a row's neighbours in time are known when it is predicted. False
when test follows train in time (a forecast), where such features would look good in random folds
and fail on test.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlestar import contract

INTERLEAVED_SHARE = 0.8


def with_facts(profile: dict[str, Any], data_dir: Path) -> dict[str, Any]:
    """The profile with the data facts added (the profile itself is left as it is)."""
    dates = [
        c for c in profile.get("features", []) if profile.get("columns", {}).get(c, {}).get("kind") == "date"
    ]
    if not dates:
        return profile
    return {**profile, "time_interleaved": time_interleaved(Path(data_dir), dates[0])}


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
