"""The data a run saw, as MLflow dataset inputs with content digests.

Each file of the run's data/ folder (the parsed parquet tables and the .npy arrays: target and
folds) becomes one MLflow dataset. MLflow caps a digest at 36 characters, so the digest is the
first 32 hex digits of the file's SHA-256; the full SHA-256, size and shape are in the profile.
Nothing is loaded: digests come from the journal's inputs_hashed event or from hashing the file,
and the schema from the parquet footer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DIGEST_CHARS = 32
DATA_SUFFIXES = (".parquet", ".npy")
_CONTEXTS = {"train": "training", "test": "test", "target": "training", "folds": "validation"}


@dataclass(frozen=True)
class DataFile:
    name: str
    """The dataset's name: the file's stem ("train", "test", "folds")."""
    path: Path
    sha256: str
    context: str
    profile: dict[str, Any]
    schema: str | None
    """MLflow schema JSON ({"mlflow_colspec": [...]}) for tables."""

    @property
    def digest(self) -> str:
        return self.sha256[:DIGEST_CHARS]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def data_files(data_dir: Path, known: dict[str, str]) -> list[DataFile]:
    """The data folder's files; known maps a file name to its SHA-256 when the journal has it."""
    if not data_dir.is_dir():
        return []
    files = sorted(p for p in data_dir.iterdir() if p.is_file() and p.suffix in DATA_SUFFIXES)
    return [_describe(p, known.get(p.name) or sha256_file(p)) for p in files]


def _describe(path: Path, sha256: str) -> DataFile:
    profile: dict[str, Any] = {"sha256": sha256, "bytes": path.stat().st_size, "file": path.name}
    schema = None
    if path.suffix == ".parquet":
        profile.update(_parquet_profile(path))
        schema = _parquet_schema(path)
    else:
        profile.update(_npy_profile(path))
    context = _CONTEXTS.get(path.stem.split("_")[0], "input")
    return DataFile(path.stem, path, sha256, context, profile, schema)


def _parquet_profile(path: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    return {"num_rows": meta.num_rows, "num_columns": meta.num_columns}


def _parquet_schema(path: Path) -> str | None:
    """MLflow's column-spec JSON from the parquet footer; None when a column type has no match."""
    import pyarrow.parquet as pq

    specs = []
    for column in pq.read_schema(path):
        kind = _mlflow_type(column.type)
        if kind is None:
            return None
        specs.append({"type": kind, "name": column.name, "required": True})
    return json.dumps({"mlflow_colspec": specs})


def _mlflow_type(arrow_type: Any) -> str | None:
    import pyarrow as pa
    import pyarrow.types as t

    if t.is_dictionary(arrow_type):
        return _mlflow_type(arrow_type.value_type)
    checks = (
        (t.is_boolean, "boolean"),
        (lambda x: t.is_integer(x) and x.bit_width <= 32 and x != pa.uint32(), "integer"),
        (t.is_integer, "long"),
        (lambda x: t.is_floating(x) and x.bit_width <= 32, "float"),
        (t.is_floating, "double"),
        (lambda x: t.is_string(x) or t.is_large_string(x) or t.is_string_view(x), "string"),
        (lambda x: t.is_binary(x) or t.is_large_binary(x), "binary"),
        (lambda x: t.is_timestamp(x) or t.is_date(x), "datetime"),
    )
    return next((name for check, name in checks if check(arrow_type)), None)


def _npy_profile(path: Path) -> dict[str, Any]:
    import numpy as np

    array = np.load(path, mmap_mode="r", allow_pickle=False)
    return {"shape": list(array.shape), "dtype": str(array.dtype)}


def dataset_inputs(files: list[DataFile]) -> list[Any]:
    """mlflow DatasetInput entities for the files (same entity for every run that saw them)."""
    from mlflow.entities import Dataset, DatasetInput, InputTag

    return [
        DatasetInput(
            dataset=Dataset(
                name=f.name,
                digest=f.digest,
                source_type="local",
                source=json.dumps({"uri": str(f.path.resolve())}),
                schema=f.schema,
                profile=json.dumps(f.profile),
            ),
            tags=[InputTag(key="mlflow.data.context", value=f.context)],
        )
        for f in files
    ]
