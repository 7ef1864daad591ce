"""The tables as read at intake, so that callers need not parse them again."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class TaskTables:
    train: pd.DataFrame
    test: pd.DataFrame
    sample_submission: pd.DataFrame | None
