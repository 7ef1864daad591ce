"""What an AutoML user reads off a Kaggle-style task folder, shared by both baseline scripts.

Runs inside the baselines' own environments (pandas only, no mlestar). The layout is inferred the
way a person would: the sample submission's first column is the id and the rest are what to fill;
the training table's columns that the test table lacks are the targets. When the columns to fill
are not in the training table, they are the classes of the one training-only column (for example
spooky: fill EAP/HPL/MWS, train has `author`), and the submission holds class probabilities.
Two more things a person does: an id that is a date-time also gives its parts (year, month, day,
hour, weekday) as features; rows that are files (images named by the id, in a folder or zip) get
per-file statistics as features (file_features.py), and with no test table the sample submission's
ids are the test rows. When the ids are `<image>_<row>_<col>` over folders of pictures (inputs and
cleaned targets of the same names, and the test inputs), each pixel is a row (pixel_features.py).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

# How each grading metric is fitted: the kind of prediction and whether targets are log1p-fitted.
PREDICTION_KIND = {
    "accuracy": "label",
    "multiclass_logloss": "proba",
    "roc_auc": "proba",
    "mean_rmsle": "log_regression",
    "rmsle": "log_regression",
    "mean_roc_auc": "proba",
    "pearson": "regression",
    "rmse": "regression",
}
TEXT_MIN_MEAN_CHARS = 30
PREDICT_S_PER_ROW = 1e-5
"""Predicting and writing time kept per test row, which matters for millions of rows (a row per
pixel): AutoGluon's refitted trees predicted 5.8 million pixels in 7 s here, under load."""
MAX_PREDICT_SHARE = 0.3
LARGE_TEST_ROWS = 1_000_000
ROWS_PER_FIT_SECOND = 250
"""Training rows a bagged AutoML fit gets through per second of its fit budget on a row per pixel
(11 columns, two cores, under load): at 200,000 rows and 156 s, AutoGluon's first family took 98 s
for its eight folds, every fold stopped by the clock, and the run overran its 5-minute budget."""
MIN_CAPPED_ROWS = 10_000


@dataclass(frozen=True)
class TaskTables:
    train: pd.DataFrame
    test: pd.DataFrame
    sample: pd.DataFrame
    id_column: str
    features: tuple[str, ...]
    targets: tuple[str, ...]
    """The submission's columns to fill, in the sample submission's order."""
    label: str | None
    """The training column whose classes are `targets`, when targets are not training columns."""
    text_column: str | None
    """The single feature, when the task is text only."""


def _one_csv(folder: Path, *keys: str, required: bool = True) -> Path | None:
    found = sorted(p for p in folder.glob("*.csv") if all(k in p.stem.lower() for k in keys))
    if not found and required:
        raise ValueError(f"expected a csv named like {'_'.join(keys)} in {folder}, found none")
    return min(found, key=lambda p: len(p.name)) if found else None


def _read(path: Path | None) -> pd.DataFrame:
    assert path is not None
    return pd.read_csv(path)


def read_task(public: Path) -> TaskTables:
    sample = _read(_one_csv(public, "sample", "submission"))
    id_column, targets = str(sample.columns[0]), tuple(str(c) for c in sample.columns[1:])
    pixels = _pixel_tables(public, sample, id_column, targets)
    if pixels is not None:
        return pixels
    train = _read(_one_csv(public, "train"))
    test_path = _one_csv(public, "test", required=False)
    test = _read(test_path) if test_path else sample[[id_column]].copy()
    train, test = _with_id_parts(train, test, id_column)
    train, test = _with_file_statistics(public, train, test, id_column)
    features = tuple(c for c in test.columns if c in train.columns and c != id_column)
    train_only = [c for c in train.columns if c not in test.columns]
    label = None
    if not set(targets) <= set(train.columns):
        if len(train_only) != 1:
            raise ValueError(f"expected one training-only label column for {targets}, found {train_only}")
        label = train_only[0]
        classes = {str(v) for v in train[label].dropna().unique()}
        if classes != set(targets):
            raise ValueError(f"expected {label}'s classes to be {sorted(targets)}, found {sorted(classes)}")
    return TaskTables(train, test, sample, id_column, features, targets, label, _text_column(train, features))


def _text_column(train: pd.DataFrame, features: tuple[str, ...]) -> str | None:
    """The feature with the longest strings, when they are long enough to be text."""
    lengths = {
        c: train[c].dropna().astype(str).str.len().mean()
        for c in features
        if train[c].dtype == object or pd.api.types.is_string_dtype(train[c])
    }
    longest = max(lengths, key=lambda c: lengths[c], default=None)
    return longest if longest is not None and lengths[longest] >= TEXT_MIN_MEAN_CHARS else None


def _with_id_parts(
    train: pd.DataFrame, test: pd.DataFrame, id_column: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A date-time id keeps keying the rows; its parts become features too (numbers are not dates)."""
    if any(id_column not in t.columns or pd.api.types.is_numeric_dtype(t[id_column]) for t in (train, test)):
        return train, test
    try:
        stamps = [pd.to_datetime(t[id_column], format="mixed") for t in (train, test)]
    except (ValueError, TypeError, KeyError):
        return train, test
    if any(s.isna().any() for s in stamps):
        return train, test
    parts = {"year": "year", "month": "month", "day": "day", "hour": "hour", "weekday": "dayofweek"}
    out = []
    for table, stamp in zip((train, test), stamps, strict=True):
        extra = {f"{id_column}_{name}": getattr(stamp.dt, attr).to_numpy() for name, attr in parts.items()}
        out.append(table.assign(**extra))
    return out[0], out[1]


def _with_file_statistics(
    public: Path, train: pd.DataFrame, test: pd.DataFrame, id_column: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    from file_features import find_source, statistics_table

    if id_column not in train.columns:
        return train, test
    sources = [find_source(public, t[id_column]) for t in (train, test)]
    if any(s is None for s in sources):
        return train, test
    out = []
    for table, source in zip((train, test), sources, strict=True):
        stats = statistics_table(source, table[id_column])  # type: ignore[arg-type]
        out.append(pd.concat([table.reset_index(drop=True), stats], axis=1))
    return out[0], out[1]


def _pixel_tables(
    public: Path, sample: pd.DataFrame, id_column: str, targets: tuple[str, ...]
) -> TaskTables | None:
    """One row per pixel when the ids are `<image>_<row>_<col>` over folders of pictures."""
    import pixel_features as pf

    if len(targets) != 1:
        return None
    pixels = pf.split_ids(sample[id_column])
    layout = pf.find_layout(public, pixels) if pixels is not None else None
    if layout is None or pixels is None:
        return None
    train = pf.training_rows(layout, targets[0])
    test = pf.prediction_rows(layout, pixels)
    test.insert(0, id_column, sample[id_column].to_numpy())
    return TaskTables(train, test, sample, id_column, pf.FEATURE_NAMES, targets, None, None)


def row_cap(fit_seconds: float, per_second: float = ROWS_PER_FIT_SECOND) -> int:
    """How many training rows a fit of this many seconds can use."""
    return max(MIN_CAPPED_ROWS, int(fit_seconds * per_second))


def capped_rows(train: pd.DataFrame, cap: int, seed: int) -> pd.DataFrame:
    """At most cap rows: a seeded sample without replacement, in the table's order. The per-pixel
    rows hold the same number of pixels from every picture, so a uniform sample keeps every
    picture (every background) about equally."""
    if len(train) <= cap:
        return train
    keep = np.sort(np.random.default_rng(seed).choice(len(train), cap, replace=False))
    return train.iloc[keep]


def prediction_kind(metric: str) -> str:
    if metric not in PREDICTION_KIND:
        raise ValueError(f"expected a metric among {sorted(PREDICTION_KIND)}, found {metric!r}")
    return PREDICTION_KIND[metric]


def fit_targets(tables: TaskTables) -> tuple[str, ...]:
    """The training columns to fit one model each: the label, or every target column."""
    return (tables.label,) if tables.label else tables.targets


def normalized(proba: np.ndarray) -> np.ndarray:
    """Rows in [0, 1] summing to 1, as the grader demands."""
    p = np.clip(np.asarray(proba, dtype=float), 1e-15, 1.0)
    return p / p.sum(axis=1, keepdims=True)


def write_submission(tables: TaskTables, columns: dict[str, np.ndarray], path: Path) -> None:
    """The sample submission's layout, ids in the test table's order."""
    out = pd.DataFrame({tables.id_column: tables.test[tables.id_column].to_numpy()})
    for name in tables.targets:
        out[name] = columns[name]
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False)


class Clock:
    """Splits a wall-clock budget: what remains for fitting after reading, less a reserve to predict."""

    def __init__(self, budget_s: float, started: float | None = None) -> None:
        self.budget_s = budget_s
        self.start = time.time() if started is None else started

    def fit_seconds(self, n_fits: int, test_rows: int = 0) -> float:
        """Seconds for the next of n_fits remaining fits; millions of test rows keep more to predict."""
        reserve = min(30.0, max(3.0, 0.1 * self.budget_s))
        reserve = max(reserve, min(MAX_PREDICT_SHARE * self.budget_s, test_rows * PREDICT_S_PER_ROW))
        remaining = self.budget_s - self.elapsed() - reserve
        return max(5.0, remaining / max(1, n_fits))

    def elapsed(self) -> float:
        return time.time() - self.start


def parse_args(description: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("public", type=Path, help="the task's public folder (a copy)")
    p.add_argument("--out", type=Path, required=True, help="folder for submission.csv")
    p.add_argument("--budget", type=float, required=True, help="wall-clock seconds for the whole run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--metric", required=True, help="the grading metric named in grading.json")
    p.add_argument(
        "--started",
        type=float,
        default=None,
        help="epoch seconds when the budget's clock started (default: now); the bench driver "
        "passes its launch time so that start-up counts against the budget",
    )
    return p.parse_args()


def report(**facts: object) -> None:
    """One JSON line on stdout for the bench log."""
    print("BASELINE " + json.dumps(facts, default=str), flush=True)
