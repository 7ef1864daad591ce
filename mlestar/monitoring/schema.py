"""The data schema of a run, in the spirit of TFX data validation.

Written from the training table when a run's data is prepared (RUN_DIR/schema.json) and logged
with the MLflow model. It describes the model's inputs (the test table's columns) with the
statistics that validation and drift tests need: each column's storage type, kind, missing rate,
range, categories and their shares, text lengths, and a reference distribution (201 quantiles and
decile bins) for drift tests. The answer columns are described too, for label drift.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlestar.task.profile import profile_column
from mlestar.task.spec import TaskSpec

SCHEMA_FILE = "schema.json"
SCHEMA_VERSION = 1
QUANTILES = 201
"""Reference quantiles kept per numeric column (and per text column's lengths)."""
MAX_CATEGORIES = 200
"""Categories kept per column; a column with more values has an open set (no 'unseen' check)."""
DISCRETE_MAX = 20
"""A numeric column with at most this many distinct values is tested as categories (chi-square)."""
_BINS = 10


@dataclass(frozen=True)
class ColumnSchema:
    name: str
    storage: str
    """How values are stored: "number", "integer", "boolean", "string" or "datetime"."""
    kind: str
    """What they mean: "number", "category", "text", "datetime" or "id"."""
    missing_rate: float
    n_unique: int
    count: int = 0
    """Non-missing reference values behind the statistics (the reference sample size of the tests)."""
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None
    categories: tuple[str, ...] = ()
    """Values seen in training, most frequent first (numbers too, when there are few of them)."""
    shares: tuple[float, ...] = ()
    """Share of non-missing training rows per category."""
    closed: bool = False
    """True when categories holds every value seen in training (so a new value is 'unseen')."""
    quantiles: tuple[float, ...] = ()
    """QUANTILES evenly spaced quantiles of the values (numbers) or of the lengths (text)."""
    bins: tuple[float, ...] = ()
    """Inner edges of the reference bins (deciles) used by PSI."""
    bin_shares: tuple[float, ...] = ()
    required: bool = True
    """False for the id column: it only labels rows."""

    @property
    def discrete(self) -> bool:
        """Tested as categories: strings with a closed set, booleans, and numbers with few values."""
        return self.closed and self.kind in ("category", "number")


@dataclass(frozen=True)
class DataSchema:
    columns: tuple[ColumnSchema, ...]
    """The model's input columns, in the test table's order."""
    targets: tuple[ColumnSchema, ...]
    n_rows: int
    id_column: str | None
    version: int = SCHEMA_VERSION
    task: str = ""
    by_name: dict[str, ColumnSchema] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.by_name.update({c.name: c for c in (*self.columns, *self.targets)})

    @property
    def features(self) -> tuple[ColumnSchema, ...]:
        """Columns that carry signal (the id is not one)."""
        return tuple(c for c in self.columns if c.kind != "id")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("by_name")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DataSchema:
        def column(d: dict[str, Any]) -> ColumnSchema:
            tuples = ("categories", "shares", "quantiles", "bins", "bin_shares")
            fields: dict[str, Any] = {k: tuple(v) if k in tuples else v for k, v in d.items()}
            return ColumnSchema(**fields)

        return cls(
            columns=tuple(column(c) for c in data["columns"]),
            targets=tuple(column(c) for c in data.get("targets", ())),
            n_rows=int(data["n_rows"]),
            id_column=data.get("id_column"),
            version=int(data.get("version", SCHEMA_VERSION)),
            task=str(data.get("task", "")),
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1))

    @classmethod
    def load(cls, path: Path) -> DataSchema:
        return cls.from_json(json.loads(path.read_text()))


def infer_schema(spec: TaskSpec, train: pd.DataFrame, test: pd.DataFrame) -> DataSchema:
    """The schema of the model's inputs (test's columns), described from the training rows."""
    columns = []
    for name in test.columns:
        source = train[name] if name in train.columns else test[name]
        columns.append(describe_column(str(name), source, is_id=name == spec.id_column))
    targets = [describe_column(c, train[c]) for c in spec.train_target_columns if c in train.columns]
    return DataSchema(tuple(columns), tuple(targets), len(train), spec.id_column, task=spec.name)


def describe_column(name: str, values: pd.Series, is_id: bool = False) -> ColumnSchema:
    """One column's schema entry from its reference values."""
    profile = profile_column(values, is_id)
    storage = storage_of(values)
    kind = _kind(profile["kind"], storage)
    non_null = values.dropna()
    base: dict[str, Any] = {
        "name": name,
        "storage": storage,
        "kind": kind,
        "missing_rate": round(float(values.isna().mean()), 6) if len(values) else 0.0,
        "n_unique": int(profile["n_unique"]),
        "count": int(len(non_null)),
        "required": not is_id,
    }
    if storage in ("number", "integer"):
        base.update(_number_stats(non_null.astype(float)))
    if kind == "text":
        base.update(_distribution(non_null.astype(str).str.len().astype(float)))
    elif kind in ("category", "number") and (storage != "number" or base["n_unique"] <= DISCRETE_MAX):
        base.update(_categories(non_null, storage))
    return ColumnSchema(**base)


def storage_of(values: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(values):
        return "boolean"
    if pd.api.types.is_integer_dtype(values):
        return "integer"
    if pd.api.types.is_numeric_dtype(values):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "datetime"
    return "string"


def _kind(profiled: str, storage: str) -> str:
    if profiled == "id":
        return "id"
    if profiled == "date" or storage == "datetime":
        return "datetime"
    if storage in ("number", "integer"):
        return "number"
    if profiled == "text":
        return "text"
    return "category"


def _number_stats(x: pd.Series) -> dict[str, Any]:
    if x.empty:
        return {}
    stats = {
        "min": float(x.min()),
        "max": float(x.max()),
        "mean": float(x.mean()),
        "std": float(x.std(ddof=0)),
    }
    return {**stats, **_distribution(x)}


def _distribution(x: pd.Series) -> dict[str, Any]:
    """Quantiles for KS, decile edges and shares for PSI."""
    if x.empty:
        return {}
    arr = x.to_numpy(dtype=float)
    quantiles = np.quantile(arr, np.linspace(0, 1, QUANTILES))
    edges = np.unique(np.quantile(arr, np.linspace(0, 1, _BINS + 1)[1:-1]))
    shares = np.bincount(np.searchsorted(edges, arr, side="right"), minlength=len(edges) + 1) / len(arr)
    return {
        "quantiles": tuple(_round(quantiles)),
        "bins": tuple(_round(edges)),
        "bin_shares": tuple(round(float(s), 6) for s in shares),
    }


def _categories(non_null: pd.Series, storage: str) -> dict[str, Any]:
    counts = non_null.map(category_key).value_counts()
    kept = counts.iloc[:MAX_CATEGORIES]
    total = max(int(counts.sum()), 1)
    return {
        "categories": tuple(str(k) for k in kept.index),
        "shares": tuple(round(float(v) / total, 6) for v in kept.to_numpy()),
        "closed": len(counts) <= MAX_CATEGORIES,
    }


def category_key(value: Any) -> str:
    """One spelling per value: 2, 2.0 and "2" are the same category; True and "true" too."""
    if isinstance(value, bool | np.bool_):
        return "True" if value else "False"
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    text = str(value).strip()
    lowered = text.lower()
    return {"true": "True", "false": "False"}.get(lowered, text)


def _round(values: np.ndarray) -> list[float]:
    return [float(f"{v:.10g}") for v in values]


def write_schema(spec: TaskSpec, train: pd.DataFrame, test: pd.DataFrame, run_dir: Path) -> DataSchema:
    """Infer the schema and write it to RUN_DIR/schema.json (called when a run's data is prepared)."""
    schema = infer_schema(spec, train, test)
    schema.save(run_dir / SCHEMA_FILE)
    return schema


def load_schema(run_dir: Path) -> DataSchema:
    """RUN_DIR/schema.json; a run made before schemas existed gets one from its data/ folder."""
    path = run_dir / SCHEMA_FILE
    if path.is_file():
        return DataSchema.load(path)
    spec = TaskSpec.load(run_dir / "task.json")
    train = pd.read_parquet(run_dir / "data" / "train.parquet")
    test = pd.read_parquet(run_dir / "data" / "test.parquet")
    return write_schema(spec, train, test, run_dir)
