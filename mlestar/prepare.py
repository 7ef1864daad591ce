"""Intake into the run folder: parse the task's tables once, encode the target, fix the folds.

Every attempt then reads the fast parquet copies through ./input instead of re-parsing CSV or JSON.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import Future, ThreadPoolExecutor
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
        raise TaskError(
            f"expected target column(s) {missing} in the training table; found {list(train.columns)}"
        )
    if not cols:  # nothing in the data holds the answers: a baseline answers (spec.solver)
        return np.zeros((len(train), 0), dtype=np.float64)
    if spec.problem_type is ProblemType.TEXT:
        return text_array(train[cols])
    if spec.problem_type is ProblemType.MULTICLASS and len(cols) > 1:  # one-hot answer columns
        return train[cols].to_numpy(dtype=float).argmax(axis=1).astype(np.int64)
    if spec.problem_type is ProblemType.MULTILABEL and spec.label_separator and len(cols) == 1:
        return _label_sets(train[cols[0]], spec.classes or (), spec.label_separator)
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


def text_array(frame: pd.DataFrame) -> np.ndarray:
    """Text answers as the contract stores them: a numpy unicode array of shape (n, k)."""
    values = frame.fillna("").astype(str).to_numpy()
    return np.asarray(values, dtype=np.str_).reshape(len(frame), -1)


def _label_sets(labels: pd.Series, classes: tuple[str, ...], sep: str) -> np.ndarray:
    index = {c: i for i, c in enumerate(classes)}
    out = np.zeros((len(labels), len(classes)), dtype=np.int64)
    for row, value in enumerate(labels.fillna("").astype(str)):
        for token in value.split(sep):
            if token.strip() in index:
                out[row, index[token.strip()]] = 1
    return out


def _cell_text(value: object) -> str | None:
    """One cell of a mixed or nested column as text: lists and mappings as JSON, so scripts can
    json.loads them (the profile says which columns)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, list | tuple | dict | np.ndarray):
        return json.dumps(value.tolist() if isinstance(value, np.ndarray) else value, default=str)
    return str(value)


def _parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Mixed-type and nested object columns cannot go to parquet; store them as text (JSON for
    lists and mappings). A shallow copy: the columns kept as they are are not copied (millions of
    rows), and copy-on-write keeps the caller's frame as it was."""
    out = frame.copy(deep=False)
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].map(_cell_text)
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


def group_codes(values: pd.Series) -> np.ndarray:
    """Each row's group as an integer, numbered in the sorted order of the groups' label keys: the
    folds a splitter makes of them are those it makes of the keys themselves, without spelling and
    sorting millions of strings (a per-pixel task's rows are grouped by picture)."""
    if pd.api.types.infer_dtype(values, skipna=True) in ("mixed", "mixed-integer", "mixed-integer-float"):
        values = values.map(label_key)  # True == 1 == 1.0 would be one value to factorize, not three keys
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    _, rank = np.unique(np.array([label_key(v) for v in uniques], dtype=object), return_inverse=True)
    return rank.astype(np.int64)[codes]


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
    repeated splits; without it the search's folds are also the screening split, nothing repeats.
    The tables are written on threads of their own (Arrow writes and hashes outside the GIL) while
    the answers are encoded and the folds made; the arrays are written on them too."""
    train = tables.train
    layout.data.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(3) as writers:  # the two tables, then the arrays
        written = {
            f"{role}.parquet": writers.submit(_write_table, frame, layout.data / f"{role}.parquet")
            for role, frame in (("train", train), ("test", tables.test))
        }
        y = encode_target(spec, train)
        if y.ndim == 2 and y.shape[1] == 0 or len(train) < n_folds:  # no answers to learn: no folds either
            return _write_data(spec, tables, layout, y, splits.unused(len(train)), writers, written)
        groups = None
        if group_column:
            if group_column not in train.columns:
                raise TaskError(
                    f"expected the group column {group_column!r} in train; found {list(train.columns)}"
                )
            groups = group_codes(train[group_column])
        rules = rules or splits.SplitRules(n_folds, subsample_rows, screen_rows=subsample_rows, repeats=1)
        made = splits.make_splits(y, spec.problem_type, seed, rules, groups)
        return _write_data(spec, tables, layout, y, made, writers, written)


def _write_table(frame: pd.DataFrame, path: Path) -> str:
    """One table as parquet; its content hash."""
    _parquet_safe(frame).to_parquet(path, index=False)
    return sha256_file(path)


def _write_array(values: np.ndarray, path: Path) -> str:
    np.save(path, values)
    return sha256_file(path)


def _write_data(
    spec: TaskSpec,
    tables: TaskTables,
    layout: RunLayout,
    y: np.ndarray,
    made: splits.Splits,
    writers: ThreadPoolExecutor,
    written: dict[str, Future[str]],
) -> PreparedData:
    written = {**written, "target.npy": writers.submit(_write_array, y, layout.data / "target.npy")}
    saved = writers.submit(splits.save_splits, made, layout)  # numpy writes files outside the GIL too
    spec.save(layout.data / "task.json")
    saved.result()
    hashed = {name: job.result() for name, job in written.items()}
    hashes = {
        p.name: hashed.get(p.name) or sha256_file(p) for p in sorted(layout.data.iterdir()) if p.is_file()
    }
    return PreparedData(len(tables.train), len(tables.test), made.subsampled, hashes, made.reason)
