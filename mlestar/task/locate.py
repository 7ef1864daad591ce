"""Which files play train, test and sample submission, and the tables read or built from them.

Names decide first (mlestar.task.files.pick_table); where names leave several candidates the one
whose header holds the answers wins, and parts with one header are read as one table. A role no
file plays is built from the task's files (mlestar.task.rows) or, for test, from the sample
submission's rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mlestar.errors import TaskError
from mlestar.task import files, large, levels, rows, side_labels
from mlestar.task.overrides import Overrides


@dataclass(frozen=True)
class Located:
    train: tuple[Path, ...]
    test: Path | None
    sample: Path | None


@dataclass
class Read:
    train: pd.DataFrame | None
    test: pd.DataFrame | None
    sample: pd.DataFrame | None
    built: dict[str, str] = field(default_factory=dict)


def locate(task_dir: Path, ov: Overrides, sources: dict[str, str]) -> Located:
    tables = files.list_tables(task_dir)
    given = {
        key: _given_path(task_dir, ov, key) for key in ("train", "test", "sample_submission") if key in ov
    }
    for key in ("train", "test", "sample_submission"):
        sources[f"{key}_path"] = ov.source(key)
    sample = given.get("sample_submission") or _pick(tables, "sample")
    header = (files.read_columns(sample) or []) if sample else []
    test = given.get("test") or _test(tables, header)
    train = (given["train"],) if "train" in given else _train(tables, header, {sample, test}, sample)
    if sample is None and test is not None:
        sample = _sample_by_content(tables, test, train)
    return Located(train, test, sample)


def _test(tables: list[files.TableFile], sample_header: list[str]) -> Path | None:
    """The test table by name; among several, the one holding the sample's key (else none: the
    sample's rows are the test rows)."""
    try:
        return _pick(tables, "test")
    except TaskError:
        named = [t for t in tables if files._name_rank(t.stem, "test") is not None]
        keyed = [t for t in named if sample_header and sample_header[0] in (files.read_columns(t.path) or [])]
        if len({t.stem for t in keyed}) == 1:
            return keyed[0].path
        if not keyed and sample_header:
            return None
        raise


def _pick(tables: list[files.TableFile], role: str) -> Path | None:
    found = files.pick_table(tables, role)
    return found.path if found else None


def _given_path(task_dir: Path, ov: Overrides, key: str) -> Path:
    path = (task_dir / str(ov.get(key))).resolve()
    if not path.is_file():
        raise TaskError(
            f"expected the {key} file {ov.get(key)!r} named in {ov.source(key)} in {task_dir}, found no such file"
        )
    return path


def _train(
    tables: list[files.TableFile],
    sample_header: list[str],
    taken: set[Path | None],
    sample: Path | None = None,
) -> tuple[Path, ...]:
    """The training table(s): by name, then by holding the sample's key and answer columns."""
    try:
        found = files.pick_table(tables, "train")
        return (found.path,) if found else _by_header(tables, sample_header, taken)
    except TaskError as ambiguous:
        named = [t for t in tables if files._name_rank(t.stem, "train") is not None]
        best = min(files._name_rank(t.stem, "train") or 0 for t in named)
        candidates = [t for t in named if files._name_rank(t.stem, "train") == best]
        parts = _resolve(candidates, sample_header) or levels.level_parts(
            [t.path for t in candidates], sample
        )
        return parts or _raise(ambiguous)  # several levels' tables (ids "<x>_study", "<x>_image"): one each


def _raise(error: TaskError) -> tuple[Path, ...]:
    raise error


def _resolve(candidates: list[files.TableFile], sample_header: list[str]) -> tuple[Path, ...]:
    by_stem: dict[str, files.TableFile] = {}
    for t in sorted(candidates, key=files.format_rank):
        by_stem.setdefault(t.stem, t)
    headers = {stem: files.read_columns(t.path) or [] for stem, t in by_stem.items()}
    answers = set(sample_header[1:])
    holding = [s for s, h in headers.items() if answers & set(h)]
    if len(holding) == 1:
        return (by_stem[holding[0]].path,)
    pool = holding or list(headers)
    if len({tuple(headers[s]) for s in pool}) == 1 and headers[pool[0]]:
        return tuple(by_stem[s].path for s in sorted(pool))
    keyed = [s for s in pool if sample_header and sample_header[0] in headers[s]]
    return (by_stem[keyed[0]].path,) if len(keyed) == 1 else ()


def _by_header(
    tables: list[files.TableFile], sample_header: list[str], taken: set[Path | None]
) -> tuple[Path, ...]:
    others = [t for t in tables if t.path not in taken and not files.is_sample_submission(t.stem)]
    if not sample_header or not others:
        return ()
    return _resolve(others, sample_header)


def _sample_by_content(tables: list[files.TableFile], test: Path, train: tuple[Path, ...]) -> Path | None:
    """A table keyed like test whose other columns are answers train holds (randomPredictions.csv)."""
    test_cols = files.read_columns(test) or []
    train_cols = set(files.read_columns(train[0]) or []) if train else set()
    for t in tables:
        if t.path in (test, *train):
            continue
        cols = files.read_columns(t.path) or []
        if len(cols) >= 2 and cols[0] in test_cols and set(cols[1:]) <= train_cols - set(test_cols):
            return t.path
    return None


def read(task_dir: Path, found: Located, ov: Overrides) -> Read:
    id_guess = ov.get("id_column") if "id_column" in ov else None
    sample = None
    if found.sample is not None:
        header = files.read_columns(found.sample)
        id_guess = id_guess or (header[0] if header else None)
        sample = files.read_table(found.sample, id_guess)
        id_guess = id_guess or str(sample.columns[0])
    cap = int(ov.get("table_memory_mb", large.DEFAULT_TABLE_MEMORY_MB))
    train = (
        _concat([files.read_table(p, id_guess, cap, thin=True) for p in found.train])
        if found.train and not _is_metadata(found.train[0])
        else None
    )
    test = (
        files.read_table(found.test, id_guess, cap)
        if found.test is not None and not _is_metadata(found.test)
        else None
    )
    out = Read(train, test, sample)
    for role, frame in (("train", train), ("test", test)):
        if frame is not None and frame.attrs.get(large.LARGE_NOTE):
            out.built[role] = frame.attrs[large.LARGE_NOTE]
    if len(found.train) > 1:
        out.built["train"] = "the parts " + ", ".join(p.name for p in found.train) + " read as one table"
    _build_missing(task_dir, out)
    return out


def _is_metadata(path: Path) -> bool:
    """A JSON document of lists keyed by name (COCO-style metadata), not one table."""
    if not path.name.lower().endswith(".json") or path.stat().st_size > 2_000_000_000:
        return False
    with path.open("rb") as f:
        head = f.read(4096).lstrip()
    return head.startswith(b"{") and b'"images"' in path.read_bytes()[:10_000_000]


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    if len(frames) == 1:
        return frames[0]
    joined = pd.concat(frames, ignore_index=True)
    joined.attrs.update(frames[0].attrs)
    return joined


def _build_missing(task_dir: Path, out: Read) -> None:
    if out.train is not None and out.test is not None:
        return
    sample = out.sample
    key = str(sample.columns[0]) if sample is not None else "id"
    target = str(sample.columns[-1]) if sample is not None else "label"
    built = None
    if out.train is None and sample is not None:
        built = (
            rows.pixel_tables(task_dir, sample, key, target)
            or rows.array_tables(task_dir, key, target)
            or side_labels.side_label_tables(task_dir, sample)
        )
    if built is None and out.train is None:
        coco = rows.coco_tables(task_dir)
        if coco is not None:
            built = (coco[0], coco[1]) if coco[1] is not None else (coco[0], None)  # type: ignore[assignment]
    if built is not None:
        (train, how), test_built = built[0], built[1]
        out.train, out.built["train"] = _key_named(train, key), how
        if out.test is None and test_built is not None:
            out.test, out.built["test"] = _key_named(test_built[0], key), test_built[1]
    if out.train is None and sample is not None:
        keys = set(sample[key].astype(str))
        labelled = rows.labels_from_paths(task_dir, key, target, keys)
        if labelled is not None:
            out.train, out.built["train"] = labelled
    if out.train is None and sample is not None:
        out.train = sample.iloc[0:0].copy()
        out.built["train"] = "none: no table or file listing holds training answers here"
    if out.test is None and sample is not None:
        columns = _key_columns(sample)
        out.test = sample[columns].copy()
        out.built["test"] = (
            f"the rows of {', '.join(columns)} in the sample submission (there is no test table)"
        )


def _key_columns(sample: pd.DataFrame) -> list[str]:
    """The sample's leading columns that together name each row once (a trip and a timestamp):
    all of them key the rows, none is predicted. A column is taken only while rows repeat, and
    never the last one (something must be predicted)."""
    columns = [str(c) for c in sample.columns]
    taken = columns[:1]
    for column in columns[1:-1]:
        if not sample.duplicated(subset=taken).any():
            break
        values = sample[column]
        if not pd.api.types.is_integer_dtype(values) and not pd.api.types.is_string_dtype(values):
            break  # float placeholders are predictions, not keys
        taken.append(column)
    return taken if not sample.duplicated(subset=taken).any() else columns[:1]


def _key_named(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """A built table's id column spelled as the sample spells it ("id" -> "Id")."""
    if key in frame.columns:
        return frame
    same = [c for c in frame.columns if str(c).lower() == key.lower()]
    return frame.rename(columns={same[0]: key}) if same else frame


def join_side_tables(task_dir: Path, found: Located, out: Read) -> tuple[str, ...]:
    """Side tables keyed by a column train and test share (one row per key, covering most test
    rows) are joined into both; their other columns become inputs. Returns what was joined."""
    if out.train is None or out.test is None:
        return ()
    used = {*found.train, found.test, found.sample}
    joined = []
    for table in files.list_tables(task_dir):
        if (
            table.path in used
            or files.is_sample_submission(table.stem)
            or table.path.stat().st_size > 200_000_000
        ):
            continue
        header = files.read_columns(table.path) or []
        keys = [c for c in header if c in out.train.columns and c in out.test.columns]
        if len(keys) != 1 or len(header) < 2:
            continue
        side = files.read_table(table.path)
        key = keys[0]
        if not side[key].is_unique or side[key].isin(out.test[key]).sum() < 0.5 * out.test[key].nunique():
            continue
        extra = side.rename(
            columns={c: f"{table.stem}_{c}" for c in side.columns if c != key and c in out.train.columns}
        )
        out.train = out.train.merge(extra, on=key, how="left")
        out.test = out.test.merge(extra, on=key, how="left")
        joined.append(f"{table.path.name} on {key}")
    return tuple(joined)
