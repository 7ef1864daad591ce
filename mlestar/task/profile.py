"""The task profile: what the columns and extra files of a task look like, for engineers to read.

`profile_task` returns a plain JSON-able dict (it goes into TaskContext.profile and the journal):

    n_train, n_test, problem_type, metric, n_outputs, id_column, targets
    columns:   {name: {kind, dtype, n_unique, missing, ...}} for every train column; kind is one of
               numeric | categorical | text | date | id | structured | boolean | constant
               structured strings (and ids made of parts) also carry separator and parts [{kind, n_unique}]
               numeric columns carry min, skew, zero_share, integer
               text columns carry mean_words and mean_chars
    features:  the usable input columns, in train order: in test, not the id, not an answer
    train_only: columns of train that test lacks (answers and their proxies: never features)
    files:     per-row extra files: [{train, test, kind, ext}] where train/test are path templates
               relative to the task folder with "{id}" for the row id, e.g. "train/{id}/readings.txt";
               media entries (image, audio, signal; per-pixel pictures) are intake's row_files
    media:     a few training files looked at: {"image": {width, height, channels}, "audio": {seconds, rate}}
    target:    {skew} for regression targets, {balance} (smallest class share) for classification
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlestar.task import media_probe
from mlestar.task.infer import known_distinct
from mlestar.task.spec import TaskSpec

KINDS = ("numeric", "categorical", "text", "date", "id", "structured", "boolean", "constant", "list", "dict")
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_SEPARATORS = ("/", "_", "-", ":", "|", ";", " ")
_TRUE_FALSE = {"true", "false", "yes", "no", "y", "n", "t", "f", "0", "1", "0.0", "1.0"}
_DATE_LIKE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?")
_SAMPLE = 2000


def profile_task(spec: TaskSpec, train: pd.DataFrame, test: pd.DataFrame, task_dir: Path) -> dict[str, Any]:
    """Profile the task's tables and extra files (deterministic; samples at most a few thousand rows)."""
    answers = set(spec.train_target_columns) | ({spec.label_column} if spec.label_column else set())
    columns = {
        name: profile_column(train[name], name == spec.id_column, known_distinct(train, str(name)))
        for name in train.columns
    }
    if spec.id_is_feature and spec.id_column in columns:
        columns[spec.id_column].update(kind="date", datetime=True, id=True)
    media = media_probe.media_entries(spec.row_files)
    file_keys = {f.get("key") for f in media}  # a per-pixel row's picture name: a key, not an input
    features = [
        c for c in train.columns
        if c in test.columns and (c != spec.id_column or spec.id_is_feature) and c not in answers
        and c not in file_keys
    ]  # fmt: skip
    per_pixel = any(f.get("per") == "pixel" for f in media)  # millions of pixel ids name no files
    found = [] if per_pixel else find_row_files(task_dir, train, test, spec.id_column, spec.extra_paths)
    # Intake's media entries also see inside archives and per-pixel tables; text files come from here.
    taken = {f.get("train") for f in media}
    files = media + [f for f in found if f["train"] not in taken and not (media and f["kind"] == "image")]
    return {
        "n_train": len(train),
        "n_test": len(test),
        "problem_type": str(spec.problem_type),
        "metric": spec.metric,
        "n_outputs": spec.n_outputs,
        "id_column": spec.id_column,
        "targets": list(spec.train_target_columns),
        "columns": columns,
        "features": features,
        "train_only": [c for c in train.columns if c not in test.columns and c != spec.id_column],
        "files": files,
        "media": media_probe.describe(task_dir, media, train, spec.id_column),
        "target": _target_profile(spec, train),
    }


def profile_column(values: pd.Series, is_id: bool = False, distinct: bool = False) -> dict[str, Any]:
    """The kind and a few statistics of one column (`distinct`: known to name each row once)."""
    nested = nested_kind(values)
    if nested is not None:
        return _nested_profile(values, nested)
    non_null = values.dropna()
    info: dict[str, Any] = {
        "dtype": str(values.dtype),
        "n_unique": len(non_null) if distinct else int(non_null.nunique()),
        "missing": round(float(values.isna().mean()), 4) if len(values) else 0.0,
    }
    kind = _kind(values, non_null, is_id, None if distinct else info["n_unique"])
    info["kind"] = kind
    if kind == "numeric":
        info.update(_numeric_stats(_as_numbers(non_null)))
    elif kind == "structured":
        info.update(_structure(non_null.astype(str)))
    elif kind == "id" and not pd.api.types.is_numeric_dtype(values) and len(non_null):
        # Ids such as "0042_03" often carry a group key: record their parts like a structured string.
        if _separator(non_null.astype(str).head(_SAMPLE)) is not None:
            info.update(_structure(non_null.astype(str)))
    elif kind == "text":
        sample = non_null.astype(str).head(_SAMPLE)
        info["mean_words"] = round(float(sample.str.split().str.len().mean()), 2)
        info["mean_chars"] = round(float(sample.str.len().mean()), 2)
    return info


def nested_kind(values: pd.Series) -> str | None:
    """ "list" or "dict" when the cells hold lists (tuples, arrays) or mappings."""
    if values.dtype != object:
        return None
    head = values.dropna().head(_SAMPLE)
    if head.empty:
        return None
    if head.map(lambda v: isinstance(v, list | tuple | np.ndarray)).mean() > 0.5:
        return "list"
    if head.map(lambda v: isinstance(v, dict)).mean() > 0.5:
        return "dict"
    return None


def _nested_profile(values: pd.Series, kind: str) -> dict[str, Any]:
    """Lists: their lengths and tokens; mappings: their keys. Stored as JSON text in the run's data."""
    non_null = values.dropna().head(_SAMPLE * 5)
    info: dict[str, Any] = {
        "dtype": "object",
        "kind": kind,
        "encoding": "json",
        "missing": round(float(values.isna().mean()), 4) if len(values) else 0.0,
    }
    if kind == "list":
        lengths = non_null.map(len)
        tokens = Counter(str(t) for v in non_null for t in (v if len(v) < 1000 else []))
        info.update(mean_len=round(float(lengths.mean()), 2) if len(lengths) else 0.0,
                    n_unique=len(tokens), top=[t for t, _ in tokens.most_common(10)])  # fmt: skip
    else:
        keys = Counter(str(k) for v in non_null for k in v)
        info.update(n_unique=len(keys), keys=[k for k, _ in keys.most_common(20)])
    return info


def _kind(values: pd.Series, non_null: pd.Series, is_id: bool, n_unique: int | None = None) -> str:
    if is_id:
        return "id"
    n_unique = non_null.nunique() if n_unique is None else n_unique
    if n_unique <= 1:
        return "constant"
    if pd.api.types.is_bool_dtype(values) or _is_boolean(non_null, n_unique):
        return "boolean"
    if pd.api.types.is_numeric_dtype(values):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "date"
    text = non_null.astype(str)
    sample = text.head(_SAMPLE)
    if _is_numeric_text(sample):
        return "numeric"
    if sample.str.match(_DATE_LIKE).mean() > 0.9:
        return "date"
    unique_share = n_unique / max(len(non_null), 1)
    mean_words = float(sample.str.split().str.len().mean())
    if mean_words >= 4:
        return "text"
    if n_unique > 20 and _separator(sample) is not None:
        return "structured"
    if unique_share > 0.95 and n_unique > 50 and mean_words < 1.5:
        return "id"
    return "categorical"


def _as_numbers(values: pd.Series) -> pd.Series:
    """The values as floats. Text of numbers (a picture's name "101" on each of its million pixel
    rows) is converted once per distinct spelling, Arrow encoding the column: as fast as the
    conversion of each cell, which took most of a second on millions of rows."""
    if len(values) < 100_000 or not pd.api.types.is_string_dtype(values) or values.dtype == object:
        return values.astype(float)
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(values)
    encoded = pc.dictionary_encode(text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text)
    spelled = pd.Series(encoded.dictionary.to_pandas(), dtype=values.dtype).astype(float).to_numpy()
    return pd.Series(spelled[encoded.indices.to_numpy(zero_copy_only=False)], index=values.index)


def _is_boolean(non_null: pd.Series, n_unique: int) -> bool:
    if n_unique != 2:
        return False
    return {str(v).strip().lower() for v in non_null.unique()} <= _TRUE_FALSE


def _is_numeric_text(sample: pd.Series) -> bool:
    return bool(pd.to_numeric(sample, errors="coerce").notna().mean() > 0.95)


def _separator(sample: pd.Series) -> str | None:
    """The separator splitting (almost) every value into the same number (2..6) of parts."""
    for sep in _SEPARATORS:
        counts = sample.str.count(re.escape(sep))
        if (counts > 0).mean() < 0.9:
            continue
        mode = counts.mode().iloc[0]
        if 1 <= mode <= 5 and (counts == mode).mean() >= 0.9:
            return sep
    return None


def _structure(text: pd.Series) -> dict[str, Any]:
    sample = text.head(_SAMPLE * 5)
    sep = _separator(sample.head(_SAMPLE))
    assert sep is not None
    split = sample.str.split(re.escape(sep), regex=True)
    n_parts = int(split.str.len().mode().iloc[0])
    parts = []
    for i in range(n_parts):
        part = split.str[i].dropna()
        numeric = _is_numeric_text(part.head(_SAMPLE)) if len(part) else False
        parts.append({"kind": "numeric" if numeric else "categorical", "n_unique": int(part.nunique())})
    return {"separator": sep, "parts": parts}


def _numeric_stats(x: pd.Series) -> dict[str, Any]:
    if not len(x):
        return {"min": 0.0, "skew": 0.0, "zero_share": 0.0, "integer": True}
    finite = x[np.isfinite(x)]
    skew = float(finite.skew()) if len(finite) > 2 else 0.0
    return {
        "min": float(finite.min()) if len(finite) else 0.0,
        "skew": round(skew, 3) if math.isfinite(skew) else 0.0,
        "zero_share": round(float((finite == 0).mean()), 4) if len(finite) else 0.0,
        "integer": bool((finite == finite.round()).all()),
    }


def _target_profile(spec: TaskSpec, train: pd.DataFrame) -> dict[str, Any]:
    columns = [c for c in spec.train_target_columns if c in train.columns]
    if not columns:
        return {}
    if spec.problem_type.is_classification:
        shares = train[columns[0]].value_counts(normalize=True)
        return {"balance": round(float(shares.min()), 4) if len(shares) else 0.0}
    skews = [float(pd.to_numeric(train[c], errors="coerce").skew()) for c in columns]
    mins = [float(pd.to_numeric(train[c], errors="coerce").min()) for c in columns]
    return {"skew": [round(s, 3) if math.isfinite(s) else 0.0 for s in skews], "min": mins}


def find_row_files(
    task_dir: Path,
    train: pd.DataFrame,
    test: pd.DataFrame,
    id_column: str | None,
    extra: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """Per-row files keyed by the row id: one entry per file name pattern found for train rows."""
    if id_column is None or id_column not in train.columns or not task_dir.is_dir():
        return []
    folders = _candidate_folders(task_dir, extra)
    test_all = set(test[id_column].astype(str)) if id_column in test.columns else set()
    train_all = train[id_column].astype(str)
    # Ids that only train has tell train's folder apart when train and test number rows alike.
    train_ids = list(train_all[~train_all.isin(test_all)].head(20)) or list(train_all.head(20))
    test_ids = sorted(test_all)[:20]
    found = []
    for template in _templates(task_dir, folders, train_ids):
        test_template = _matching_test_template(task_dir, folders, template, test_ids)
        ext = Path(template).suffix.lower()
        kind = "image" if ext in IMAGE_EXTS else "text"
        found.append({"train": template, "test": test_template, "kind": kind, "ext": ext})
    return found


def _candidate_folders(task_dir: Path, extra: tuple[str, ...]) -> list[str]:
    names = [p for p in extra if (task_dir / p).is_dir()]
    if not names:
        names = sorted(p.name for p in task_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    return names


def _templates(task_dir: Path, folders: list[str], ids: list[str]) -> list[str]:
    """Path templates (with "{id}") that resolve for most of the sample ids."""
    votes: Counter[str] = Counter()
    for row_id in ids:
        for folder in folders:
            for template in _templates_for(task_dir, folder, row_id):
                votes[template] += 1
    return sorted(t for t, n in votes.items() if n >= max(1, int(0.8 * len(ids))))


def _templates_for(task_dir: Path, folder: str, row_id: str) -> list[str]:
    base = task_dir / folder
    if (base / row_id).is_dir():
        return [f"{folder}/{{id}}/{f.name}" for f in sorted((base / row_id).iterdir()) if f.is_file()]
    return [
        f"{folder}/{{id}}{f.suffix}" for f in sorted(base.glob(f"{glob_escape(row_id)}.*")) if f.is_file()
    ]


def _matching_test_template(task_dir: Path, folders: list[str], template: str, ids: list[str]) -> str | None:
    """The test rows' version of a train template: same file name, in whichever folder holds them."""
    if not ids:
        return None
    train_folder, tail = template.split("/", 1)
    # Prefer another folder (a "test" one first): ids often repeat across the two splits.
    for folder in sorted(folders, key=lambda f: (f == train_folder, "test" not in f.lower(), f)):
        candidate = f"{folder}/{tail}"
        hits = sum((task_dir / candidate.format(id=i)).is_file() for i in ids)
        if hits >= max(1, int(0.8 * len(ids))):
            return candidate
    return None


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]])", r"[\1]", text)
