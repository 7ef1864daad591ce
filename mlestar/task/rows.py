"""Tables built from files when the task has no table for them.

Each builder looks at the folder and returns a DataFrame (one row per thing predicted) and a short
phrase saying how it was built, or None when its layout is not there:

- labels in folder names:   train/<label>/<file>               -> [key, label]
- labels in file names:     train/cat.12.jpg, x_TRAIN3_1.aif   -> [key, label] (the word that varies least)
- COCO-style metadata:      {"images": [...], "annotations": [...]} joined on the image id
- numpy arrays:             train*.npy, train*label*.npy, test*.npy  -> one row per array row
- per-pixel answers:        sample ids "<image>_<row>_<col>" over an image folder  -> one row per pixel
"""

from __future__ import annotations

import json
import os
import re
import zipfile
import zlib
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from mlestar.errors import TaskError
from mlestar.task.files import listing_of
from mlestar.task.infer import mark_distinct

Built = tuple[pd.DataFrame, str]
_WORD = re.compile(r"[._\-]")
_PIXEL_ID = re.compile(r"^(.+)_(\d+)_(\d+)$")


def labels_from_paths(task_dir: Path, key: str, target: str, test_keys: set[str]) -> Built | None:
    """Training rows from file paths whose folder or file name holds the label."""
    paths = [p for p in listing_of(task_dir) if PurePosixPath(p).name not in test_keys and _is_train(p)]
    if len(paths) < 4:
        return None
    by_folder = _from_folders(paths)
    built = by_folder or _from_names(paths)
    if built is None:
        return None
    names, labels, how = built
    return pd.DataFrame({key: names, target: labels}), how


def _is_train(path: str) -> bool:
    parts = [p.lower() for p in PurePosixPath(path).parts[:-1]]
    return any("train" in p for p in parts) and not any("test" in p for p in parts)


def _from_folders(paths: list[str]) -> tuple[list[str], list[str], str] | None:
    parents = Counter(str(PurePosixPath(p).parent) for p in paths)
    if len(parents) < 2 or len(parents) > max(2, len(paths) // 3):
        return None
    roots = {str(PurePosixPath(p).parent.parent) for p in paths}
    if len(roots) != 1:
        return None
    names = [PurePosixPath(p).name for p in paths]
    labels = [PurePosixPath(p).parent.name for p in paths]
    return names, labels, f"labels from the folder names under {roots.pop()}/"


def _from_names(paths: list[str]) -> tuple[list[str], list[str], str] | None:
    names = [PurePosixPath(p).name for p in paths]
    if len(set(names)) < 0.9 * len(names):
        return None  # the same few names in many folders (one log per trip): names key nothing
    words = [_WORD.split(PurePosixPath(n).stem) for n in names]
    if len({len(w) for w in words}) != 1:
        return None
    best = None
    for i in range(len(words[0])):
        values = [w[i] for w in words]
        distinct = len(set(values))
        if 2 <= distinct <= max(2, len(values) // 10) and (best is None or distinct < best[1]):
            best = (i, distinct)
    if best is None:
        return None
    labels = [w[best[0]] for w in words]
    return names, labels, f"labels from word {best[0] + 1} of the training file names"


def coco_tables(task_dir: Path) -> tuple[Built, Built | None] | None:
    """Train rows from COCO-style metadata (images joined with annotations), test rows from the
    test metadata (images only)."""
    train, test = None, None
    for path in sorted(task_dir.rglob("*.json")):
        if path.stat().st_size > 500_000_000 or "val" in path.stem.lower():
            continue
        data = _json(path)
        images = _images(data)
        if images is None:
            continue
        rel = str(path.relative_to(task_dir))
        if isinstance(data, dict) and isinstance(data.get("annotations"), list) and data["annotations"]:
            if train is None:
                train = (_join(images, pd.DataFrame(data["annotations"])), f"COCO metadata {rel}")
        elif test is None and "test" in rel.lower():
            test = (images, f"COCO metadata {rel}")
    return (train, test) if train is not None else None


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except ValueError:
        return None


def _images(data: Any) -> pd.DataFrame | None:
    records = data.get("images") if isinstance(data, dict) else data
    if not isinstance(records, list) or not records or not isinstance(records[0], dict):
        return None
    if "file_name" not in records[0]:
        return None
    frame = pd.DataFrame(records)
    if "id" not in frame.columns and "image_id" in frame.columns:
        frame = frame.rename(columns={"image_id": "id"})
    return frame if "id" in frame.columns else None


def _join(images: pd.DataFrame, notes: pd.DataFrame) -> pd.DataFrame:
    notes = notes.rename(columns={"id": "annotation_id"})
    key = "image_id" if "image_id" in notes.columns else None
    if key is None:
        return images
    notes = notes.drop_duplicates(subset=[key])
    return images.merge(notes, left_on="id", right_on=key, how="inner").drop(columns=[key])


def array_tables(task_dir: Path, key: str, target: str) -> tuple[Built, Built] | None:
    """Rows of train*.npy with labels from a train*label*.npy beside it; test*.npy for test."""
    arrays = sorted(task_dir.rglob("*.npy"))
    names = {p.stem.lower(): p for p in arrays}
    labels = [p for s, p in names.items() if "train" in s and "label" in s]
    data = [p for s, p in names.items() if "train" in s and "label" not in s]
    tests = [p for s, p in names.items() if "test" in s]
    if len(labels) != 1 or len(data) != 1 or len(tests) != 1:
        return None
    x, y, t = (np.load(p, allow_pickle=False) for p in (data[0], labels[0], tests[0]))
    if x.ndim != 2 or len(x) != len(y) or t.ndim != 2:
        return None
    cols = [f"f{i}" for i in range(x.shape[1])]
    train = pd.DataFrame(x, columns=cols)
    train.insert(0, key, np.arange(len(x)))
    train[target] = y
    test = pd.DataFrame(t, columns=cols)
    test.insert(0, key, np.arange(len(t)))
    rel = lambda p: str(p.relative_to(task_dir))  # noqa: E731
    return (train, f"rows of {rel(data[0])}, labels {rel(labels[0])}"), (test, f"rows of {rel(tests[0])}")


def pixel_tables(task_dir: Path, sample: pd.DataFrame, key: str, target: str) -> tuple[Built, Built] | None:
    """Per-pixel rows: test pixels from the images the sample's "<image>_<row>_<col>" ids name,
    training pixels from a folder of input images and a folder of answer images with the same names."""
    ids = sample[key].astype(str)
    match = ids.head(50).str.match(_PIXEL_ID)
    if not bool(match.all()):
        return None
    stems = _picture_names(ids)
    folders = _image_folders(task_dir)
    test_dir = next((d for d, files in folders.items() if stems <= set(files)), None)
    if test_dir is None:
        return None
    pairs = [(a, b) for a in folders for b in folders if a != b and a != test_dir and b != test_dir
             and set(folders[a]) == set(folders[b]) and len(str(b)) > len(str(a))]  # fmt: skip
    if not pairs:
        return None
    inputs, answers = pairs[0]
    kept = sorted(folders[inputs])
    per_picture = _pixels_per_picture(inputs, kept, MAX_TRAIN_PIXELS)
    with ThreadPoolExecutor(_DECODERS) as pool:  # pictures decode, and ids join, outside the GIL
        try:
            shown, answered = (test_dir, sorted(stems)), (inputs, answers, kept)
            test, train = _pixel_rows(pool, shown, answered, per_picture, (key, target))
        except BaseException:
            pool.shutdown(cancel_futures=True)  # a picture that cannot be read: the rest are not needed
            raise
    for table in (train, test):  # a picture's name and a pixel's place name one row
        mark_distinct(table, key)
    rel = lambda p: str(p.relative_to(task_dir))  # noqa: E731
    suffix = next(inputs.glob(f"{kept[0]}.*")).suffix
    # Each pixel row names its picture (column "image"): the input pictures are its per-row files.
    train.attrs[PIXEL_FILES] = {
        "train": f"{rel(inputs)}/{{id}}{suffix}", "test": f"{rel(test_dir)}/{{id}}{suffix}", "kind": "image",
        "per": "pixel", "key": "image", "row": "row", "col": "col",
    }  # fmt: skip
    used = (
        f" ({per_picture} sampled pixels of each picture: a table that fits in memory)" if per_picture else ""
    )
    return (
        (train, f"one row per pixel of {rel(inputs)}/, answers from {rel(answers)}/{used}"),
        (test, f"one row per pixel of {rel(test_dir)}/"),
    )


def _pixel_rows(
    pool: ThreadPoolExecutor,
    shown: tuple[Path, list[str]],
    answered: tuple[Path, Path, list[str]],
    per_picture: int | None,
    columns: tuple[str, str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Test rows (every pixel of the pictures named), training rows (per_picture pixels of each input
    picture, the same pixels of its answer picture), keyed by pixel ids (`columns`: the key and the
    answer). Every picture is handed to the pool first (its ids joined there too), so decoding never
    waits for the tables being put together."""
    (test_dir, test_stems), (inputs, answers, stems), (key, target) = shown, answered, columns
    test_read = _read_pictures(pool, test_dir, test_stems)
    inputs_read = _read_pictures(pool, inputs, stems, per_picture, answers)
    test = _pixel_table(test_stems, test_read, "pixel", key)
    train = _pixel_table(stems, inputs_read, "pixel", key)
    train[target] = np.concatenate([job.result().answers for job in inputs_read])
    return test, train


def _picture_names(ids: pd.Series) -> set[str]:
    """The "<image>" parts of "<image>_<row>_<col>" ids. In Arrow's compute kernels: a page task has
    millions of pixel ids, and a regular expression per id in Python took minutes. The column's
    digits are trimmed from every id once; what is left ("<image>_<row>_") repeats for every pixel
    of a row, so the rest is done on its few thousand distinct values. If some id is not
    "<image>_<row>_<col>", the regular expression strips the ids that are."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(ids.astype(str))  # Arrow's own large strings, not cast to small ones
    trimmed = pc.ascii_rtrim(text, characters="0123456789")  # digits are single bytes in UTF-8
    if bool(np.all(_lengths(trimmed) < _lengths(text))):  # all end in digits
        rows = _distinct(trimmed)  # "<image>_<row>_": one per row of a picture
        if pc.all(pc.ends_with(rows, "_")).as_py():
            stems = _strip_number(pc.utf8_slice_codeunits(rows, 0, -1))
            if stems is not None:
                return set(pc.unique(stems).to_pylist())
    stripped = pc.replace_substring_regex(text, pattern=r"_\d+_\d+$", replacement="")
    return set(pc.unique(stripped).to_pylist())


def _lengths(text: Any) -> np.ndarray:
    """The byte length of each value of Arrow text."""
    import pyarrow.compute as pc

    return np.asarray(pc.binary_length(text))


def _distinct(text: Any) -> Any:
    """The distinct values of Arrow text whose equal values mostly come in runs (a picture's pixel
    ids row by row): each run's first value kept by comparing neighbours, then those made distinct
    (a hash of every one of millions of values cost several times more)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(text) < 2:
        return pc.unique(text)
    starts = pc.filter(text[1:], pc.not_equal(text[1:], text[:-1]))
    return pc.unique(pa.concat_arrays([text[:1], starts]) if isinstance(text, pa.Array) else
                     pa.chunked_array([text[:1], starts]))  # fmt: skip


def _strip_number(text: Any) -> Any:
    """ "<x>_<digits>" -> "<x>" for every value of an Arrow string array, or None if some value is not."""
    import pyarrow.compute as pc

    trimmed = pc.utf8_rtrim(text, characters="0123456789")
    shorter = pc.less(pc.binary_length(trimmed), pc.binary_length(text))
    if not pc.all(pc.and_(shorter, pc.ends_with(trimmed, "_"))).as_py():
        return None
    return pc.utf8_slice_codeunits(trimmed, 0, -1)


def _joined_ids(stem: str, rows: np.ndarray, cols: np.ndarray) -> Any:
    """The ids "<stem>_<row>_<col>" of one picture's pixels, as Arrow text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.large_string()
    return pc.binary_join_element_wise(
        pa.scalar(stem, text), _numbers_text(rows), _numbers_text(cols), pa.scalar("_", text)
    )


def _grid_ids(stem: str, height: int, width: int) -> Any:
    """The ids "<stem>_<row>_<col>" of every pixel of a height x width picture, row by row, as Arrow
    text: the same array as _joined_ids gives, its bytes laid out in numpy (half the cost of Arrow's
    join on a page of a few hundred thousand pixels). The rows spelled with as many digits (1-9,
    10-99, ...) make ids of one length for the columns spelled with as many digits: a block of
    fixed-width ids, filled by broadcasting "<stem>_<row>_" down the columns and "<col>" down the
    rows; a row's blocks lie side by side in its part of the buffer."""
    import pyarrow as pa

    lead = stem.encode()
    col_runs = _digit_runs(width)
    col_bytes = [np.frombuffer("".join(map(str, range(a, b + 1))).encode(), np.uint8) for a, b in col_runs]
    col_width = sum(len(c) for c in col_bytes)  # every column's digits once
    parts, lengths = [], []
    for first, last in _digit_runs(height):
        n, size = last - first + 1, len(lead) + len(str(first)) + 2  # size: "<stem>_<row>_"
        heads = np.frombuffer(b"".join(b"%s_%d_" % (lead, r) for r in range(first, last + 1)), np.uint8)
        heads = heads.reshape(n, size)
        block = np.empty((n, width * size + col_width), np.uint8)  # the rows' bytes, one row each
        at, row_lengths = 0, []
        for (a, b), digits in zip(col_runs, col_bytes, strict=True):
            count, length = b - a + 1, size + len(str(a))
            ids = block[:, at : at + count * length].reshape(n, count, length)
            ids[:, :, :size] = heads[:, None, :]
            ids[:, :, size:] = digits.reshape(1, count, length - size)
            row_lengths.append(np.full(count, length, np.int64))
            at += count * length
        parts.append(block.reshape(-1))
        lengths.append(np.tile(np.concatenate(row_lengths or [np.zeros(0, np.int64)]), n))
    offsets = np.zeros(height * width + 1, np.int64)
    if height * width:
        np.cumsum(np.concatenate(lengths), out=offsets[1:])
    data = np.concatenate(parts) if parts else np.zeros(0, np.uint8)
    return pa.LargeStringArray.from_buffers(height * width, pa.py_buffer(offsets), pa.py_buffer(data))


def _digit_runs(count: int) -> list[tuple[int, int]]:
    """1..count cut where the spelling gains a digit: [(1, 9), (10, 99), (100, count)] for 540."""
    runs, first = [], 1
    while first <= count:
        last = min(count, 10 * first - 1)
        runs.append((first, last))
        first = last + 1
    return runs


def _numbers_text(numbers: np.ndarray) -> Any:
    """Whole numbers as Arrow text: a pixel's row or column (a few thousand at most) taken from a
    table of their spellings, a quarter of the cost of casting millions of them one by one."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(numbers) and numbers.min() >= 0 and numbers.max() < 1_000_000:
        spelled = pa.array([str(n) for n in range(int(numbers.max()) + 1)], type=pa.large_string())
        return pc.take(spelled, pa.array(numbers))
    return pc.cast(pa.array(numbers), pa.large_string())


PIXEL_FILES = "pixel_files"
"""DataFrame.attrs key of a per-pixel train table: its row_files entry (pictures keyed by "image")."""
MAX_TRAIN_PIXELS = 3_000_000
"""Training pixels kept: enough to learn from, small enough to hold. Over it, the same number of
pixels is sampled from every picture (every page and background is seen, none whole)."""


def _pixels_per_picture(folder: Path, stems: list[str], limit: int) -> int | None:
    """How many pixels to keep of each picture (None: all of them fit)."""
    from PIL import Image

    total = 0
    for stem in stems:
        path = next(folder.glob(f"{stem}.*"))
        try:
            with Image.open(path) as im:
                total += im.size[0] * im.size[1]
        except (OSError, ValueError, SyntaxError) as exc:
            raise _unreadable(path, exc) from None
    return None if total <= limit else max(1, limit // len(stems))


_PICTURES = (".png", ".jpg", ".jpeg", ".tif")


def _image_folders(task_dir: Path) -> dict[Path, list[str]]:
    found: dict[Path, list[str]] = {}
    for folder in [task_dir, *sorted(p for p in task_dir.rglob("*") if p.is_dir())]:
        stems = [p.stem for p in folder.iterdir() if p.suffix.lower() in _PICTURES]
        if stems:
            found[folder] = stems
    return found


_DECODERS = max(1, min(4, os.cpu_count() or 1))
"""Threads decoding pictures: PIL and numpy release the GIL while they work."""


@dataclass(frozen=True)
class _Picture:
    shape: tuple[int, int]
    rows: np.ndarray | None
    """The pixels' 1-based rows and columns; None: every pixel of the picture, row by row."""
    cols: np.ndarray | None
    values: np.ndarray
    ids: Any
    """The pixels' ids "<image>_<row>_<col>" (Arrow text)."""
    answers: np.ndarray | None = None


def _read_pictures(
    pool: ThreadPoolExecutor,
    folder: Path,
    stems: list[str],
    per_picture: int | None = None,
    answers: Path | None = None,
) -> list[Future[_Picture]]:
    """Each picture of `folder` named in `stems` (with its answer picture of the same name in
    `answers`) read on the pool, in the order of `stems`."""
    paths, answer_paths = _pictures_in(folder), _pictures_in(answers) if answers is not None else {}
    return [
        pool.submit(_read_picture, paths[stem], stem, per_picture, answer_paths.get(stem)) for stem in stems
    ]


def _pictures_in(folder: Path) -> dict[str, Path]:
    """The pictures of a folder by name: one listing, not a glob per picture; the first by name."""
    return {
        p.stem: p
        for p in sorted((p for p in folder.iterdir() if p.suffix.lower() in _PICTURES), reverse=True)
    }


def _read_picture(path: Path, stem: str, per_picture: int | None, answer: Path | None = None) -> _Picture:
    """A picture's pixels (1-based row and column) and their ids; with per_picture, that many of
    them, drawn by a seed made of the picture's name; with an answer picture, its pixels at the same
    places. The ids are joined here, on the pool, not over millions of rows once gathered."""
    pixels = _grey(path)
    height, width = pixels.shape
    at = _drawn(pixels.size, stem, per_picture)
    if at is not None:
        row, col = np.divmod(at, width)
        rows, cols, values = row + 1, col + 1, pixels.ravel()[at].round(6)
        ids = _joined_ids(stem, rows, cols)
    else:  # every pixel, row by row: the places are written into the table's columns directly
        rows, cols, values = None, None, pixels.ravel().round(6)
        ids = _grid_ids(stem, height, width)
    answers = None
    if answer is not None:
        truth = _grey(answer)
        same = at if truth.size == pixels.size else _drawn(truth.size, stem, per_picture)  # drawn once
        answers = (truth.ravel() if same is None else truth.ravel()[same]).round(6)
    return _Picture((height, width), rows, cols, values, ids, answers)


def _grey(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    except (OSError, ValueError, SyntaxError) as exc:
        raise _unreadable(path, exc) from None


def _drawn(size: int, stem: str, per_picture: int | None) -> np.ndarray | None:
    """The places (flat, sorted) of per_picture pixels of a picture, by a seed made of its name; None
    for all of them."""
    if per_picture is None or per_picture >= size:
        return None
    rng = np.random.default_rng(zlib.crc32(stem.encode()))
    return np.sort(rng.choice(size, per_picture, replace=False))


def _unreadable(path: Path, exc: Exception) -> TaskError:
    """PIL's ways of saying it cannot decode a picture (OSError, ValueError, SyntaxError) as intake's."""
    return TaskError(f"expected a readable picture at {path.parent.name}/{path.name}, found: {exc}")


def _pixel_table(stems: list[str], read: list[Future[_Picture]], column: str, key: str) -> pd.DataFrame:
    """One row per pixel read, pictures in the order of `stems`, keyed by their ids."""
    import pyarrow as pa

    pictures = [job.result() for job in read]
    counts = [len(p.values) for p in pictures]
    rows, cols = _places(pictures)
    ids = pa.chunked_array([p.ids for p in pictures], type=pa.large_string()).combine_chunks()
    # copy=False: the new arrays as they are (not copied and stacked into one block of numbers).
    return pd.DataFrame({key: pd.arrays.ArrowStringArray(ids), "image": _names_at(stems, counts),
                         "row": rows, "col": cols,
                         column: np.concatenate([p.values for p in pictures])}, copy=False)  # fmt: skip


def _places(pictures: list[_Picture]) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel row's picture row and column, written into the two columns as they are made: a
    whole picture's by broadcasting its row and column numbers (not arrays of its places made on
    the pool and stacked again: two copies of millions of numbers, in memory fresh to the process)."""
    total = sum(len(p.values) for p in pictures)
    rows, cols = np.empty(total, np.int64), np.empty(total, np.int64)
    start = 0
    for picture in pictures:
        end = start + len(picture.values)
        if picture.rows is None or picture.cols is None:
            height, width = picture.shape
            rows[start:end].reshape(height, width)[:] = np.arange(1, height + 1)[:, None]
            cols[start:end].reshape(height, width)[:] = np.arange(1, width + 1)[None, :]
        else:
            rows[start:end], cols[start:end] = picture.rows, picture.cols
        start = end
    return rows, cols


def _names_at(names: list[str], counts: list[int]) -> pd.Series:
    """Each name repeated `counts` times (a picture's name on each of its pixel rows), laid out as
    Arrow's string buffers directly: a name per row built in pandas cost seconds on millions of
    rows, and Arrow's take most of one."""
    import pyarrow as pa

    spelled = [name.encode() for name in names]
    lengths = np.repeat(np.array([len(b) for b in spelled], dtype=np.int64), counts)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    data = b"".join(b * n for b, n in zip(spelled, counts, strict=True))
    text = pa.LargeStringArray.from_buffers(len(lengths), pa.py_buffer(offsets), pa.py_buffer(data))
    return pd.Series(
        text.to_pandas(types_mapper={pa.large_string(): pd.StringDtype("pyarrow", na_value=np.nan)}.get)
    )


def zip_members(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return [n for n in zf.namelist() if not n.endswith("/")]
