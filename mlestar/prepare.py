"""Intake into the run folder: parse the task's tables once, encode the target, fix the folds.

Every attempt then reads the fast parquet copies through ./input instead of re-parsing CSV or JSON.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mlestar import splits
from mlestar.errors import TaskError
from mlestar.run_layout import RunLayout
from mlestar.task.load import TaskTables
from mlestar.task.spec import ProblemType, TaskSpec


@dataclass(frozen=True)
class PreparedData:
    n_train: int
    n_test: int
    subsampled: bool
    data_hashes: dict[str, str]
    validation: str = ""
    """How attempts are validated (one split, or several averaged on small data), and why."""


def label_key(value: object) -> str:
    """One spelling per label, so that True, "True" and 1.0 vs "1" compare as the task means."""
    if isinstance(value, bool | np.bool_):
        return "True" if value else "False"
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def encode_target(spec: TaskSpec, train: pd.DataFrame) -> np.ndarray:
    """The answers as the contract encodes them (see mlestar.contract)."""
    cols = list(spec.train_target_columns)
    missing = [c for c in cols if c not in train.columns]
    if missing:
        raise TaskError(f"expected target column(s) {missing} in the training table; found {list(train.columns)}")
    if spec.problem_type in (ProblemType.BINARY, ProblemType.MULTICLASS):
        classes = [label_key(c) for c in (spec.classes or ())]
        labels = train[spec.label_column or cols[0]]
        if labels.isna().any():
            raise TaskError(f"expected a label on every training row; {int(labels.isna().sum())} are empty")
        keys = labels.map(label_key)
        unknown = sorted(set(keys) - set(classes))
        if unknown:
            raise TaskError(f"expected labels among the classes {classes}; found also {unknown[:5]}")
        return keys.map({c: i for i, c in enumerate(classes)}).to_numpy(dtype=np.int64)
    values = train[cols].apply(pd.to_numeric, errors="coerce")
    if values.isna().any().any():
        raise TaskError(f"expected numeric answers in {cols}; some are empty or not numbers")
    arr = values.to_numpy(dtype=np.float64)
    if spec.problem_type is ProblemType.MULTILABEL:
        return arr.astype(np.int64)
    return arr[:, 0] if arr.shape[1] == 1 else arr


def _parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Mixed-type object columns cannot go to parquet; store them as text."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    out.columns = [str(c) for c in out.columns]
    return out


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def hash_task_files(task_dir: Path) -> dict[str, str]:
    """Content hash of every file of the task, so two runs on different data are never confused."""
    return {
        str(p.relative_to(task_dir)): sha256_file(p)
        for p in sorted(task_dir.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def prepare_run_data(
    spec: TaskSpec,
    tables: TaskTables,
    layout: RunLayout,
    n_folds: int,
    seed: int,
    subsample_rows: int,
    group_column: str | None = None,
    rules: splits.SplitRules | None = None,
) -> PreparedData:
    """`rules` (see mlestar.splits) replaces n_folds and subsample_rows and adds the screening and
    repeated splits; without it the search's folds are also the screening split, nothing repeats."""
    train, test = tables.train, tables.test
    y = encode_target(spec, train)
    groups = None
    if group_column:
        if group_column not in train.columns:
            raise TaskError(f"expected the group column {group_column!r} in train; found {list(train.columns)}")
        groups = train[group_column].map(label_key).to_numpy()
    rules = rules or splits.SplitRules(n_folds, subsample_rows, screen_rows=subsample_rows, repeats=1)
    made = splits.make_splits(y, spec.problem_type, seed, rules, groups)

    layout.data.mkdir(parents=True, exist_ok=True)
    _parquet_safe(train).to_parquet(layout.data / "train.parquet", index=False)
    _parquet_safe(test).to_parquet(layout.data / "test.parquet", index=False)
    np.save(layout.data / "target.npy", y)
    splits.save_splits(made, layout)
    spec.save(layout.data / "task.json")
    hashes = {p.name: sha256_file(p) for p in sorted(layout.data.iterdir()) if p.is_file()}
    return PreparedData(len(train), len(test), made.subsampled, hashes, made.reason)
