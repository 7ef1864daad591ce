"""Finding a task's files and reading its tables.

A task folder holds a description, a training and a test table, a sample submission and perhaps
other files and folders (per-row files, images, side tables). Tables may be CSV, TSV, JSON, JSON
lines or parquet, each possibly zipped (train.csv.zip, or train.zip holding train.csv) or
compressed (.gz, .bz2, .xz), or BSON (one row per document: its text, numbers and bools; the
pictures it holds are the row's files, listed as "train.bson/<_id>.jpg").
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mlestar.errors import TaskError
from mlestar.task import documents, large

DESCRIPTION_NAMES = ("description.md", "description.txt", "readme.md", "readme.txt")
TABLE_FORMATS = ("parquet", "pq", "csv", "tsv", "jsonl", "ndjson", "json", "txt", "bson")
"""Preferred first when the same table comes in several formats."""
COMPRESSIONS = ("zip", "gz", "bz2", "xz", "7z")
ARCHIVES = (".zip", ".tar", ".tgz", ".gz", ".7z")
ENCODING_NOTE = "encoding"
"""DataFrame.attrs key set by read_table when a text file was not UTF-8."""
LARGE_NOTE = large.LARGE_NOTE

_SAMPLE = re.compile(r"(sample.?submission|submission.?(sample|format|example|template)|sample.?sub\b)")
_CLEAN_INT = re.compile(r"^-?(0|[1-9][0-9]*)$")
_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class TableFile:
    """A file that holds one table: its path, its format, and the member to read inside a zip."""

    path: Path
    fmt: str
    member: str | None = None

    @property
    def stem(self) -> str:
        """The table's name without format and compression suffixes, lower case."""
        return table_stem(self.path.name)


def table_stem(name: str) -> str:
    parts = name.lower().split(".")
    while len(parts) > 1 and parts[-1] in TABLE_FORMATS + COMPRESSIONS:
        parts.pop()
    return ".".join(parts)


def is_sample_submission(stem: str) -> bool:
    return bool(_SAMPLE.search(stem))


def find_description(task_dir: Path) -> Path:
    by_name = {p.name.lower(): p for p in task_dir.iterdir() if p.is_file()}
    for name in DESCRIPTION_NAMES:
        if name in by_name:
            return by_name[name]
    raise TaskError(
        f"expected a task description (description.md, description.txt or README.md) in {task_dir}, "
        f"found {_listing(task_dir)}"
    )


def read_text(path: Path) -> tuple[str, str]:
    """The text of a file and its encoding: UTF-8, else Latin-1; binary data is refused."""
    data = path.read_bytes()
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise TaskError(f"expected text in {path.name}, found binary data")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def list_tables(task_dir: Path) -> list[TableFile]:
    """Every top-level file that holds one table (zips holding many files are not tables)."""
    tables = []
    for path in sorted(task_dir.iterdir()):
        if path.is_file() and not path.name.startswith("."):
            table = table_file(path)
            if table is not None:
                tables.append(table)
    return tables


def table_file(path: Path) -> TableFile | None:
    """The table in path, or None when path holds no single table."""
    suffixes = [s.lstrip(".").lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == "zip":
        return _zipped_table(path)
    if suffixes and suffixes[-1] == "7z":
        inner = table_file(Path(path.name[: -len(".7z")]))
        return TableFile(path, inner.fmt, Path(path.name[: -len(".7z")]).name) if inner else None
    if suffixes and suffixes[-1] in COMPRESSIONS:
        suffixes.pop()
    if suffixes and suffixes[-1] in TABLE_FORMATS:
        return TableFile(path, _canonical_format(suffixes[-1]))
    return None


def _zipped_table(path: Path) -> TableFile | None:
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/") and not _is_junk(n)]
    except zipfile.BadZipFile:
        return None
    if len(names) != 1:
        return None
    inner = table_file(Path(names[0]))
    return TableFile(path, inner.fmt, names[0]) if inner and inner.member is None else None


def _is_junk(name: str) -> bool:
    return name.startswith("__MACOSX/") or Path(name).name.startswith(".")


def _canonical_format(suffix: str) -> str:
    return {"pq": "parquet", "ndjson": "jsonl"}.get(suffix, suffix)


def format_rank(table: TableFile) -> tuple[int, int]:
    """Sort key: uncompressed before zipped, then the TABLE_FORMATS preference."""
    return (
        int(table.member is not None or table.path.suffix.lower() == ".zip"),
        TABLE_FORMATS.index(table.fmt),
    )


def pick_table(tables: list[TableFile], role: str) -> TableFile | None:
    """The table playing role ("train", "test" or "sample"), or None when there is none.

    Names are ranked: exactly the role ("train"), then "<role>ing" ("training"), then any name
    starting with it ("train_v2"). Two different names of the best rank are ambiguous."""
    if role == "sample":
        ranked = [(0, t) for t in tables if is_sample_submission(t.stem)]
    else:
        ranked = [(r, t) for t in tables if (r := _name_rank(t.stem, role)) is not None]
    if not ranked:
        return None
    best = min(r for r, _ in ranked)
    candidates = [t for r, t in ranked if r == best]
    stems = sorted({t.stem for t in candidates})
    if len(stems) > 1 and role == "sample":
        plain = [t for t in candidates if t.stem.replace("_", "") == "samplesubmission"]
        candidates = plain or candidates
        stems = sorted({t.stem for t in candidates})
    if len(stems) > 1:
        names = ", ".join(t.path.name for t in candidates)
        key = "sample_submission" if role == "sample" else role
        raise TaskError(
            f"expected one {role} table, found several: {names}; name one with {key}: in task.yaml"
        )
    return min(candidates, key=format_rank)


def _name_rank(stem: str, role: str) -> int | None:
    if is_sample_submission(stem) or "submission" in stem:
        return None
    if stem == role:
        return 0
    if stem == role + "ing":
        return 1
    if stem.startswith(role):
        return 2
    words = re.split(r"[^a-z0-9]+", stem)
    return 3 if role in words or role + "ing" in words else None


def read_table(
    path: Path, id_column: str | None = None, memory_mb: int | None = None, thin: bool = False
) -> pd.DataFrame:
    """Read one table. The id column (if named) is read as text and made int64 only when every id
    is a clean integer ("7", not "007"), so ids keep their spelling. A non-UTF-8 text file is read
    as Latin-1 and df.attrs["encoding"] says so. A csv/tsv/parquet file larger than memory_mb as
    pandas is read in chunks (mlestar.task.large), thinned when `thin`; df.attrs["large"] says how."""
    table = table_file(path)
    if table is None:
        raise TaskError(
            f"expected a table file (csv, tsv, json, jsonl, parquet, or a zip of one) at {path}, found {path.name}"
        )
    if not path.exists():
        raise TaskError(f"expected a table at {path}, found no such file")
    try:
        df, encoding = _read(table, id_column, Limit(memory_mb, thin))
    except TaskError:
        raise
    except Exception as exc:  # pandas, pyarrow and zipfile each raise their own kinds
        raise TaskError(
            f"expected a well-formed {table.fmt} table in {path.name}, found: {_first_line(exc)}"
        ) from None
    if df.shape[1] == 0:
        raise TaskError(f"expected a table with a header row in {path.name}, found no columns")
    if id_column is not None and id_column in df.columns:
        df[id_column] = normalise_ids(df[id_column])
    if encoding != "utf-8":
        df.attrs[ENCODING_NOTE] = encoding
    return df


def read_columns(path: Path) -> list[str] | None:
    """The column names of a table without reading its rows (None for JSON, which has no header)."""
    table = table_file(path)
    if table is not None and table.fmt == "bson" and table.member is None:
        return _bson_columns(path)
    if table is None or table.fmt not in ("csv", "tsv", "parquet"):
        return None
    try:
        if table.fmt == "parquet" and table.member is None:
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        if table.fmt == "parquet":
            return None
        text = _head_bytes(table, 1 << 16).decode("utf-8-sig", errors="replace")
        line = io.StringIO(text).readline()
        return [
            str(c) for c in pd.read_csv(io.StringIO(line), sep="\t" if table.fmt == "tsv" else ",").columns
        ]
    except Exception:  # the full read reports the problem properly
        return None


def _bson_columns(path: Path) -> list[str] | None:
    """The first document's text, number and bool fields."""
    try:
        with path.open("rb") as handle:
            first = next((doc for _, doc in documents.iter_documents(handle)), None)
    except (ValueError, IndexError, UnicodeDecodeError):
        return None
    return list(documents.scalar_fields(first)) if first is not None else None


def _read_bson(path: Path) -> pd.DataFrame:
    """One row per document: its top-level text, numbers and bools (pictures stay in the file)."""
    with path.open("rb") as handle:
        rows = [documents.scalar_fields(doc) for _, doc in documents.iter_documents(handle)]
    if not rows:
        raise TaskError(f"expected documents in {path.name}, found an empty BSON file")
    return pd.DataFrame.from_records(rows)


def _member_bytes(table: TableFile) -> bytes:
    assert table.member is not None
    if table.path.suffix.lower() == ".7z":
        import tempfile

        import py7zr

        with tempfile.TemporaryDirectory() as tmp, py7zr.SevenZipFile(table.path) as archive:
            archive.extract(path=tmp, targets=[table.member])
            return (Path(tmp) / table.member).read_bytes()
    with zipfile.ZipFile(table.path) as zf:
        return zf.read(table.member)


def _head_bytes(table: TableFile, n: int) -> bytes:
    if table.member is not None and table.path.suffix.lower() == ".7z":
        return _member_bytes(table)[:n]
    if table.member is not None:
        with zipfile.ZipFile(table.path) as zf, zf.open(table.member) as f:
            return f.read(n)
    openers: dict[str, Callable[..., Any]] = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}
    compression = _compression(table)
    with openers[compression](table.path, "rb") if compression else table.path.open("rb") as f:
        return f.read(n)


@dataclass(frozen=True)
class Limit:
    """The memory one table may take as pandas (None: no check) and whether its rows may be thinned."""

    memory_mb: int | None = None
    thin: bool = False


def _read(table: TableFile, id_column: str | None, limit: Limit = Limit()) -> tuple[pd.DataFrame, str]:
    # Plain and compressed files go to pandas by path (no copy in memory); a zip member is read out.
    if table.fmt == "bson" and table.member is None:
        return _read_bson(table.path), "utf-8"
    head = _head_bytes(table, _SNIFF_BYTES)
    if not head.strip():
        raise TaskError(f"expected a table with a header row in {table.path.name}, found an empty file")
    source: Path | io.BytesIO = table.path
    if table.member is not None:
        source = io.BytesIO(_member_bytes(table))
    if table.fmt == "parquet":
        if limit.memory_mb is not None and table.member is None:
            return large.read_parquet(table.path, id_column, limit.memory_mb, limit.thin), "utf-8"
        return pd.read_parquet(source), "utf-8"
    if b"\x00" in head:
        raise TaskError(f"expected a text table in {table.path.name}, found binary data")
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            sep = "\t" if table.fmt == "tsv" else sniff_separator(head.decode(encoding, errors="replace"))
            frame = _read_text_table(source, table.fmt, encoding, _compression(table), id_column, sep, limit)
            return frame, encoding.removesuffix("-sig")
        except UnicodeDecodeError:
            if isinstance(source, io.BytesIO):
                source.seek(0)
    raise AssertionError("latin-1 decodes every byte")


def _ids_as_spelled(
    frame: pd.DataFrame, buf: Path | io.BytesIO, id_column: str | None, options: dict[str, Any]
) -> pd.DataFrame:
    """The id column as the file spells it ("007" stays "007", "1.50" stays "1.50"). Parsed as text
    already (most ids): kept. Parsed as numbers: that column alone read again as text, in Arrow
    (pandas' own parser converting millions of cells to text one by one took seconds)."""
    if id_column is None or id_column not in frame.columns:
        return frame
    if pd.api.types.is_string_dtype(frame[id_column]) or frame[id_column].dtype == object:
        return frame
    ids: pd.Series | None = None
    only_ids = {**options, "usecols": [id_column], "dtype": {id_column: "str"}}
    for engine in ("pyarrow", "c"):
        if isinstance(buf, io.BytesIO):
            buf.seek(0)
        try:
            ids = pd.read_csv(buf, engine=engine, **only_ids)[id_column]
        except Exception:  # Arrow's reader refuses what pandas' reads (an encoding, a quirk of the file)
            continue
        if len(ids) == len(frame):
            break
    if ids is None or len(ids) != len(frame):
        raise TaskError(f"expected to read the ids of column {id_column!r} again as text; could not")
    frame[id_column] = ids.set_axis(frame.index)
    return frame


def _compression(table: TableFile) -> str | None:
    last = table.path.suffix.lstrip(".").lower()
    names = {"gz": "gzip", "bz2": "bz2", "xz": "xz"}
    return names.get(last) if table.member is None else None


def _read_text_table(
    buf: Path | io.BytesIO,
    fmt: str,
    encoding: str,
    compression: str | None,
    id_column: str | None,
    sep: str = ",",
    limit: Limit = Limit(),
) -> pd.DataFrame:
    if fmt == "txt" and not _has_header(buf, encoding, compression):
        return pd.read_csv(buf, sep="\x01", header=None, names=["text"], encoding=encoding,
                           compression=compression, quoting=3, dtype=str, keep_default_na=False)  # fmt: skip
    if fmt in ("csv", "tsv", "txt"):
        dtype = {id_column: "str"} if id_column else None
        options: dict[str, Any] = {
            "sep": sep,
            "encoding": encoding,
            "compression": compression,
            "dtype": dtype,
        }
        if limit.memory_mb is not None and isinstance(buf, Path):
            chunked = large.read_csv(buf, options, id_column, limit.memory_mb, limit.thin)
            if chunked is not None:
                return chunked
        frame = pd.read_csv(buf, low_memory=False, **{**options, "dtype": None})
        return _ids_as_spelled(frame, buf, id_column, options)
    # JSON carries its own types: keep them (dtype=False stops "007" turning into 7)
    if fmt == "json" and _json_lines(buf, encoding, compression):
        fmt = "jsonl"
    return pd.read_json(
        buf,
        lines=fmt == "jsonl",
        encoding=encoding,
        compression=compression,
        dtype=False,
        convert_dates=False,
    )


def _json_lines(buf: Path | io.BytesIO, encoding: str, compression: str | None) -> bool:
    """A .json file holding one record per line (JSON lines under a .json name)."""
    if isinstance(buf, io.BytesIO):
        head = buf.getvalue()[:_SNIFF_BYTES].decode(encoding, errors="replace")
    else:
        openers: dict[str | None, Callable[..., Any]] = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}
        with openers.get(compression, open)(buf, "rt", encoding=encoding, errors="replace") as f:
            head = f.read(_SNIFF_BYTES)
    first = head.lstrip()[:1]
    lines = [line for line in head.splitlines() if line.strip()]
    return (
        first == "{"
        and len(lines) > 1
        and lines[0].rstrip().endswith("}")
        and lines[1].lstrip().startswith("{")
    )


def sniff_separator(head: str) -> str:
    """The field separator of a delimited text: comma unless semicolons, tabs or bars split the
    header and the next line into the same number of fields."""
    lines = [line for line in head.splitlines()[:5] if line.strip()]
    if not lines:
        return ","
    best, best_fields = ",", len(lines[0].split(","))
    for sep in (";", "\t", "|"):
        counts = {line.count(sep) for line in lines[:-1] or lines}
        if len(counts) == 1 and (n := counts.pop() + 1) > best_fields:
            best, best_fields = sep, n
    return best


def _has_header(buf: Path | io.BytesIO, encoding: str, compression: str | None) -> bool:
    """A .txt file is a table when its first line splits like its second (a header row)."""
    import csv

    if isinstance(buf, io.BytesIO):
        head = buf.getvalue()[:_SNIFF_BYTES].decode(encoding, errors="replace")
    else:
        openers: dict[str | None, Callable[..., Any]] = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}
        with openers.get(compression, open)(buf, "rt", encoding=encoding, errors="replace") as f:
            head = f.read(_SNIFF_BYTES)
    lines = head.splitlines()[:2]
    if len(lines) < 2:
        return False
    try:
        dialect = csv.Sniffer().sniff(head, delimiters=",;\t|")
    except csv.Error:
        return False
    counts = [len(next(csv.reader([line], dialect))) for line in lines]
    return counts[0] > 1 and counts[0] == counts[1]


def listing_of(task_dir: Path, limit: int = 200_000) -> list[str]:
    """Every file of the task, relative to it; members of zip, tar and 7z archives are listed under
    the archive's name ("train.zip/train/1.jpg")."""
    out: list[str] = []
    for path in sorted(task_dir.rglob("*")):
        if len(out) >= limit:
            break
        if not path.is_file() or path.name.startswith("."):
            continue
        rel = str(path.relative_to(task_dir))
        out += [f"{rel}/{m}" for m in archive_members(path, limit - len(out))] or [rel]
    return out


def archive_members(path: Path, limit: int = 200_000) -> list[str]:
    """The files inside a zip, tar or 7z archive, and the pictures of a BSON file's documents
    ("<_id>.jpg", up to limit); empty for other files and single tables."""
    name = path.name.lower()
    try:
        if name.endswith(".zip") and table_file(path) is None:
            with zipfile.ZipFile(path) as zf:
                return [n for n in zf.namelist() if not n.endswith("/") and not _is_junk(n)]
        if name.endswith((".tar", ".tar.gz", ".tgz")):
            import tarfile

            with tarfile.open(path) as tf:
                return [m.name for m in tf.getmembers() if m.isfile()]
        if name.endswith(documents.BSON_SUFFIX):
            return list(documents.picture_members(path, limit))
        if name.endswith(".7z") and table_file(path) is None:
            import py7zr

            with py7zr.SevenZipFile(path) as archive:
                return [n for n in archive.getnames() if not n.endswith("/")]
    except Exception:  # an unreadable archive lists as itself
        return []
    return []


def normalise_ids(ids: pd.Series) -> pd.Series:
    """Clean integer ids as int64, everything else as strings."""
    if pd.api.types.is_integer_dtype(ids) or ids.isna().any():
        return ids
    text = ids.astype("str")
    if not text.head(1000).str.fullmatch(_CLEAN_INT).all():
        return text  # settled by the first ids, without matching millions of them
    if text.str.fullmatch(_CLEAN_INT).all():
        return text.astype("int64")
    return text


def extra_paths(task_dir: Path, used: Iterable[Path]) -> tuple[str, ...]:
    """Top-level files and folders not already used, relative to task_dir (per-row files, images,
    side tables). Other copies of a used table (train.csv.zip beside train.csv) are left out."""
    used_paths = {p.resolve() for p in used}
    used_stems = {table_stem(p.name) for p in used}
    extras = []
    for path in sorted(task_dir.iterdir()):
        if path.name.startswith(".") or path.resolve() in used_paths or path.name.lower() == "task.yaml":
            continue
        if path.is_file() and table_file(path) is not None and table_stem(path.name) in used_stems:
            continue
        extras.append(path.name)
    return tuple(extras)


def _listing(task_dir: Path, limit: int = 12) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in task_dir.iterdir())
    if not names:
        return "an empty folder"
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def listing(task_dir: Path) -> str:
    """A short listing of the folder for error messages."""
    return _listing(task_dir)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
