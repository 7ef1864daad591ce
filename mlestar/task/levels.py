"""Answers at several levels in one file: the sample's ids carry their level ("<study>_study",
"<image>_image") and each level's answers come from its own training table.

A layout like a chest radiograph task: a study-level table (one 0/1 column per finding, one 1 a
row) and an image-level table (the image's boxes as a prediction string), answered together in a
submission whose study rows hold a class-confidence string ("negative 1 0 0 1 1") and whose image
rows hold boxes. The training tables are read as parts of one table (`level_parts`); `with_levels`
then turns each level's rows into answers spelled as the submission spells them, adds a `level`
column, each row's picture (the file named by the key without its level, or the first file in
the folder so named) and a group (the folder holding the picture under the split's folder: a
study's rows and its images' rows stay in one fold). The box script answers each level with its
own model (media/level_boxes.py). Decided from the ids' spelling and the tables, never a name.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from mlestar.task import answers, box_rows, files
from mlestar.task.tables import TaskTables

LEVEL_ROWS = "level_rows"
"""train.attrs key: {"key": the group column, "entry": the row-files entry}."""
LEVEL = re.compile(r"^(.+)_([A-Za-z]+)$")
_LOOK = 200


def levels_of(ids: pd.Series) -> pd.Series | None:
    """Each id's level word ("study" of "00a1_study"), when every id carries one and there are
    at least two levels; else None."""
    found = ids.astype(str).str.extract(LEVEL)
    if found.isna().any().any() or found[1].nunique() < 2 or found[1].nunique() > 5:
        return None
    return found[1]


def level_parts(candidates: list[Path], sample: Path | None) -> tuple[Path, ...]:
    """The training tables, one per level of the sample's ids (each table's ids, in the sample's
    key column, end with one level word, a different one each); () when they are not such tables."""
    if sample is None or len(candidates) < 2:
        return ()
    head = files.read_table(sample).head(_LOOK)
    key = str(head.columns[0])
    levels = levels_of(head[key])
    if levels is None:
        return ()
    seen: set[str] = set()
    for path in candidates:
        table = files.read_table(path).head(_LOOK)
        words = table[key].astype(str).str.extract(LEVEL)[1] if key in table.columns else None
        if words is None or words.isna().any() or words.nunique() != 1 or words.iloc[0] not in set(levels):
            return ()
        seen.add(str(words.iloc[0]))
    return tuple(sorted(candidates)) if len(seen) == len(candidates) else ()


def with_levels(task_dir: Path, t: TaskTables, target: str, built: dict[str, str]) -> TaskTables:
    """Train as [key, level, picture, group, target] with each level's answers spelled as the
    sample spells them, test as the sample's keys with the same columns; the tables unchanged when
    the sample's ids carry no levels or train holds no answers for one of them."""
    sample, train = t.sample_submission, t.train
    if sample is None or target not in sample.columns or target in train.columns:
        return t
    key = str(sample.columns[0])
    if key not in train.columns or levels_of(sample[key]) is None or levels_of(train[key]) is None:
        return t
    test_levels, train_levels = levels_of(sample[key]), levels_of(train[key])
    assert test_levels is not None and train_levels is not None
    spelled = []
    for level in sorted(set(test_levels)):
        rows = train[train_levels.to_numpy() == level]
        said = _spelled(rows, sample[target][test_levels.to_numpy() == level].astype(str))
        if said is None:
            return t
        spelled.append(pd.DataFrame({key: rows[key].astype(str), "level": level, target: said}))
    new_train = pd.concat(spelled, ignore_index=True)
    new_test = pd.DataFrame({key: sample[key].astype(str), "level": test_levels.to_numpy()})
    pictures = _Pictures(files.listing_of(task_dir))
    for frame in (new_train, new_test):
        frame["picture"] = frame[key].str.extract(LEVEL)[0].map(pictures.find).fillna("")
        frame["group"] = frame["picture"].map(_group)
    found = (new_train["picture"] != "").mean(), (new_test["picture"] != "").mean()
    if min(found) < 0.8:
        return t
    kind = (
        "volume"
        if new_train["picture"].str.lower().str.endswith((".dcm", ".dicom")).mean() > 0.5
        else "image"
    )
    entry = {"train": "{picture}", "test": "{picture}", "kind": kind, "level": "level", "group": "group"}
    new_train.attrs.update(train.attrs)
    new_train.attrs[LEVEL_ROWS] = {"key": "group", "entry": entry}
    counts = ", ".join(f"{n} {level}" for level, n in new_train["level"].value_counts().sort_index().items())
    said = f"answers at {new_train['level'].nunique()} levels ({counts} rows), each row's picture in column picture"
    built["train"] = "; ".join(filter(None, (built.get("train"), said)))
    return TaskTables(new_train, new_test, sample)


def row_files(train: pd.DataFrame) -> tuple[dict[str, Any], ...]:
    found = train.attrs.get(LEVEL_ROWS)
    return (dict(found["entry"]),) if found else ()


def _spelled(rows: pd.DataFrame, sample_answers: pd.Series) -> pd.Series | None:
    """One level's answers as the submission spells them: a column of box strings as it is; 0/1
    columns with one 1 a row as "<label> 1 <box>", the label the word the sample uses for it (else
    the column's first word) and the box the sample's ("0 0 1 1")."""
    present = [c for c in rows.columns if rows[c].notna().any()]
    for column in present:
        if box_rows.are_box_strings(rows[column].dropna()) and rows[column].notna().all():
            return rows[column].astype(str)
    flags = [c for c in present if pd.api.types.is_numeric_dtype(rows[c])]
    if not answers.is_one_hot(rows, flags):
        return None
    said = sample_answers.str.split()
    box = " ".join(said.iloc[0][2:6]) if len(said) and len(said.iloc[0]) >= 6 else "0 0 1 1"
    words = {w.lower() for w in said.explode().dropna() if re.fullmatch(r"[A-Za-z]\w*", w)}
    names = {c: _label(c, words) for c in flags}
    chosen = rows[flags].to_numpy().argmax(axis=1)
    return pd.Series([f"{names[flags[j]]} 1 {box}" for j in chosen], index=rows.index)


def _label(column: str, words: set[str]) -> str:
    """The sample's word for a 0/1 column ("negative" for "Negative for Pneumonia"), else its first word."""
    parts = [w.lower() for w in re.findall(r"[A-Za-z]\w*", column)]
    for word in parts:
        if word in words:
            return word
    return parts[0] if parts else column


class _Pictures:
    """A key's picture: the file whose stem is the key, else the first file in a folder named so."""

    def __init__(self, listing: list[str]) -> None:
        self.by_stem: dict[str, str] = {}
        self.by_folder: dict[str, str] = {}
        for path in sorted(listing):
            p = PurePosixPath(path)
            if p.suffix.lower() in (".csv", ".md", ".txt", ".json"):
                continue
            self.by_stem.setdefault(p.stem, path)
            for folder in p.parts[:-1]:
                self.by_folder.setdefault(folder, path)

    def find(self, key: str) -> str | None:
        return self.by_stem.get(key) or self.by_folder.get(key)


def _group(path: str) -> str:
    """The folder holding the picture right under its split's folder ("train/<study>/..."): the
    rows of one study and of its images share it."""
    parts = PurePosixPath(path).parts
    return parts[1] if len(parts) > 2 else path
