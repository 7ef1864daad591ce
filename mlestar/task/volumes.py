"""Volumes in folders: each thing to answer is a folder holding a stack of same-size layer
pictures ("surface_volume/00.tif", "01.tif", ...) and a picture of where the object is; training
folders also hold a label picture (0/1 per pixel) that test folders lack, and the submission wants
one run-length mask per test folder (a layout like scroll fragments scanned layer by layer).

Intake cuts every training folder into a grid of tiles, one training row each, its answer the
label picture inside the tile as run-length text: the folds then hold out spatial blocks (a task
gives too few folders to hold whole ones out), and neighbouring pixels, near copies of each other,
stay in one fold. Each test folder is one row covering the whole picture. The row-file entry
(`per: folder`) names the folders, the layers' subfolder, the mask picture and the pixel
numbering; the volume script learns from the pixels (docs/media.md).

Decided from the layout and the values, never from a task's name.
"""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from mlestar.task import answers
from mlestar.task.tables import TaskTables

PICTURE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp")
TILES = 4
"""Each training folder is cut into TILES x TILES tiles (those holding some of the object are rows)."""
FOLDER_COLUMN, TOP, LEFT, HEIGHT, WIDTH = "folder", "top", "left", "height", "width"
MIN_LAYERS = 2


def with_volume_rows(
    task_dir: Path, t: TaskTables, id_column: str | None, built: dict[str, str]
) -> tuple[TaskTables, dict[str, Any] | None]:
    """Train and test rows made from volume folders, and the row-file entry naming them; the
    tables unchanged (and None) when the task is not laid out so."""
    target = _wanted(t, id_column)
    if target is None or id_column is None:
        return t, None
    folders = _volume_folders(task_dir)
    if not folders:
        return t, None
    names = {PurePosixPath(f).name: f for f in folders}
    wanted = [str(v) for v in t.sample_submission[id_column]]  # type: ignore[index]
    if not all(w in names for w in wanted):
        return t, None
    layers = folders[names[wanted[0]]]["layers"]
    tests = [names[w] for w in wanted]
    trains = [f for f in folders if f not in tests and folders[f]["layers"] == layers]
    mask_name, label_name = _mask_and_label(folders, tests, trains)
    if mask_name is None or label_name is None:
        return t, None
    trains = [f for f in trains if label_name in folders[f]["pictures"]]
    order = _numbering(task_dir, trains[0], label_name)
    rows = []
    for folder in trains:
        label = _binary(task_dir / folder / label_name)
        inside = _binary(task_dir / folder / mask_name)
        if label is None or inside is None or label.shape != inside.shape:
            continue
        for top, left, height, width in tiles(label.shape, TILES):
            if inside[top : top + height, left : left + width].any():
                piece = label[top : top + height, left : left + width]
                name = PurePosixPath(folder).name
                rows.append({id_column: f"{name}_{top}_{left}", FOLDER_COLUMN: folder, TOP: top, LEFT: left,
                             HEIGHT: height, WIDTH: width, target: encode(piece, order)})  # fmt: skip
    if not rows:
        return t, None
    test_rows = []
    for name, folder in zip(wanted, tests, strict=True):
        shape = _binary(task_dir / folder / mask_name)
        if shape is None:
            return t, None
        test_rows.append({id_column: name, FOLDER_COLUMN: folder, TOP: 0, LEFT: 0,
                          HEIGHT: shape.shape[0], WIDTH: shape.shape[1]})  # fmt: skip
    train, test = pd.DataFrame(rows), pd.DataFrame(test_rows)
    built["train"] = (
        f"{target}: the label pictures {label_name} of {len(trains)} volume folders, cut into "
        f"{len(train)} tiles (one row each; layers in {layers}/, the object in {mask_name})"
    )
    built["test"] = f"one row per test volume folder ({len(test)}), the whole picture"
    entry = {"train": "{folder}", "test": "{folder}", "kind": "volume", "per": "folder",
             "layers": layers, "mask": mask_name, "order": order}  # fmt: skip
    return TaskTables(train, test, t.sample_submission), entry


def tiles(shape: tuple[int, ...], n: int) -> list[tuple[int, int, int, int]]:
    """(top, left, height, width) of an n x n grid over a picture (fewer where it is smaller)."""
    height, width = int(shape[0]), int(shape[1])
    rows = np.unique(np.linspace(0, height, min(n, height) + 1).round().astype(int))
    cols = np.unique(np.linspace(0, width, min(n, width) + 1).round().astype(int))
    return [(int(r0), int(c0), int(r1 - r0), int(c1 - c0))
            for r0, r1 in zip(rows[:-1], rows[1:], strict=True)
            for c0, c1 in zip(cols[:-1], cols[1:], strict=True)]  # fmt: skip


def encode(mask: np.ndarray, order: str) -> str:
    """ "start length" pairs of a mask, pixels numbered along the rows ("C") or down the columns
    ("F") from 1; "" when empty."""
    flat = np.concatenate(
        [[0], np.asarray(mask, dtype=bool).ravel(order="F" if order == "F" else "C").astype(np.int8), [0]]
    )
    edges = np.diff(flat)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return " ".join(f"{s + 1} {e - s}" for s, e in zip(starts, ends, strict=True))


def _wanted(t: TaskTables, id_column: str | None) -> str | None:
    """The sample's one prediction column, when it holds run-length masks and no table gave
    training rows."""
    sample = t.sample_submission
    if sample is None or id_column is None or id_column not in sample.columns or len(t.train):
        return None
    wanted = [str(c) for c in sample.columns if c != id_column]
    if len(wanted) != 1 or pd.api.types.is_numeric_dtype(sample[wanted[0]]):
        return None
    values = sample[wanted[0]].dropna().astype(str).str.strip()
    marks = values.isin(["", "-"])
    return wanted[0] if marks.all() or answers.are_run_lengths(values[~marks]) else None


def _volume_folders(task_dir: Path) -> dict[str, dict[str, Any]]:
    """Folders holding a stack of layer pictures in a subfolder every such folder names alike
    ("surface_volume"), with that name and the pictures beside the stack."""
    by_dir: dict[str, list[str]] = defaultdict(list)
    for path in sorted(task_dir.rglob("*")):
        if path.is_file() and path.suffix.lower() in PICTURE_SUFFIXES and not path.name.startswith("."):
            rel = PurePosixPath(path.relative_to(task_dir).as_posix())
            by_dir[str(rel.parent)].append(rel.name)
    stacks = [d for d, names in by_dir.items() if _is_stack(names)]
    if len(stacks) < 2:
        return {}
    name, count = Counter(PurePosixPath(d).name for d in stacks).most_common(1)[0]
    if count < 2:
        return {}
    return {
        str(PurePosixPath(d).parent): {
            "layers": name,
            "pictures": set(by_dir.get(str(PurePosixPath(d).parent), [])),
        }
        for d in stacks
        if PurePosixPath(d).name == name
    }


def _is_stack(names: list[str]) -> bool:
    """Several pictures of one kind whose names differ only in their numbers (00.tif, 01.tif)."""
    shapes = {(re.sub(r"\d+", "#", n), PurePosixPath(n).suffix.lower()) for n in names}
    return len(names) >= MIN_LAYERS and len(shapes) == 1 and "#" in next(iter(shapes))[0]


def _mask_and_label(
    folders: dict[str, dict[str, Any]], tests: list[str], trains: list[str]
) -> tuple[str | None, str | None]:
    """The picture every folder holds beside its stack (the object), and the one training
    folders hold and test folders lack (the labels)."""
    if not trains:
        return None, None
    everywhere = set.intersection(*(folders[f]["pictures"] for f in (*tests, *trains)))
    in_tests = set.union(*(folders[f]["pictures"] for f in tests))
    counts = Counter(n for f in trains for n in folders[f]["pictures"] if n not in in_tests)
    labels = sorted(counts, key=lambda n: (-counts[n], "label" not in n.lower(), n))
    masks = sorted(everywhere, key=lambda n: ("mask" not in n.lower(), n))
    return (masks[0] if masks else None), (labels[0] if labels else None)


def _binary(path: Path) -> np.ndarray | None:
    """A picture as booleans (over half its brightest value); None when it cannot be read."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            plane = np.asarray(image.convert("L") if image.mode in ("1", "P", "RGB", "RGBA") else image)
    except (OSError, ValueError):
        return None
    plane = plane.astype(np.float64)
    if plane.ndim != 2:
        return None
    return plane > plane.max() / 2 if plane.max() > 0 else np.zeros(plane.shape, dtype=bool)


def _numbering(task_dir: Path, folder: str, label_name: str) -> str:
    """How the pixels are numbered: read off a run-length file beside a training label picture
    when there is one ("C" along the rows, "F" down the columns), else along the rows."""
    label = _binary(task_dir / folder / label_name)
    if label is None:
        return "C"
    for path in sorted((task_dir / folder).glob("*.csv")):
        with path.open(newline="") as handle:
            cells = {cell.strip() for row in csv.reader(handle) for cell in row}
        for order in ("C", "F"):
            if label.any() and encode(label, order) in cells:
                return order
    return "C"
