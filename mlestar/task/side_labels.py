"""Training rows from text side files: labels listed per recording, answered per (recording, class).

A layout like a bird-sound challenge's: no train or test table, but
- a labels file, one line per recording: its key, then its labels (`7,3,12`; `8` alone: none of
  them), `?` for a test recording (`9,?`), under a header (`rec_id,[labels]`);
- optionally a side table from the key to a file name (`rec_id,filename`), the recordings' files
  named by it (without their suffix, as such tables often write them); without one, the files are
  named by the key;
- a sample submission with one row per (test recording, class), its key made of both
  (`rec_id * 100 + class`, or `<rec_id>_<class>`), and one probability.

Intake reads it as a multi-label task: one training row per labelled recording (its labels space-
separated in `labels`, empty for none), one test row per `?` recording, the recordings' files as the
rows' files; the submission writer spreads each test row's class probabilities over its pair rows
(SubmissionLayout.pairs). Decided from the files' shapes, never from a task's name.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pandas as pd

from mlestar.task import infer
from mlestar.task.files import listing_of, normalise_ids

PAIRS = "side_label_pairs"
"""DataFrame.attrs key of a train table built here: its Pairs, as a dict."""
LABELS = "labels"
"""The train column holding each recording's labels, space-separated."""
UNKNOWN = "?"
DECIDED = ("id_column", "target_columns", "label_column", "train_target_columns")
"""TaskSpec fields this layout decides (task.yaml cannot change them for it)."""
_MAX_TEXT_BYTES = 50_000_000
_MIN_TRAIN, _MIN_TEST = 4, 1
_MAX_SIDE_FILES = 20
_JOINS = ("_", "-", ":")
_TIMES = (10, 100, 1000, 10_000)


@dataclass(frozen=True)
class Pairs:
    key: str
    """The recordings' key column in train and test."""
    rule: str
    """How a submission key is made of a recording's key and a class: "{id}*100+{class}" (a number)
    or a text join such as "{id}_{class}"."""
    classes: tuple[str, ...]
    """The classes, in the order of the prediction array's columns."""
    sample_key: str
    """The submission's key column (the pairs' keys)."""
    labels_file: str
    names_file: str | None = None

    def targets(self, sample: pd.DataFrame | None) -> infer.Targets:
        """The sample's probability column answered by the labels column, one output per class."""
        wanted = tuple(str(c) for c in (sample.columns if sample is not None else ()) if c != self.sample_key)
        return infer.Targets(wanted, (LABELS,), label_column=LABELS, classes=self.classes)


def pairs_of(train: pd.DataFrame) -> Pairs | None:
    """The pair layout of a train table built here (None for any other table)."""
    found = train.attrs.get(PAIRS)
    return Pairs(**{**found, "classes": tuple(found["classes"])}) if found else None


def side_label_tables(
    task_dir: Path, sample: pd.DataFrame
) -> tuple[tuple[pd.DataFrame, str], tuple[pd.DataFrame, str]] | None:
    """(train, how), (test, how) when the folder holds such side files and the sample asks one
    probability per (test recording, class); else None."""
    if sample.shape[1] != 2 or sample.empty:
        return None
    listing = listing_of(task_dir)
    texts = [p for p in listing if PurePosixPath(p).suffix.lower() in (".txt", ".csv", ".tsv")]
    per_folder = Counter(str(PurePosixPath(p).parent) for p in texts)
    # Side files sit a few to a folder; a folder of many text files holds per-row files.
    texts = [p for p in texts if per_folder[str(PurePosixPath(p).parent)] <= _MAX_SIDE_FILES]
    for rel in texts:
        path = task_dir / rel
        if not path.is_file() or path.stat().st_size > _MAX_TEXT_BYTES:
            continue
        parsed = _labels_file(path)
        if parsed is None:
            continue
        key, labelled, unknown = parsed
        decoded = _rule(sample.iloc[:, 0], unknown)
        if decoded is None:
            continue
        rule, classes = decoded
        if not {label for labels in labelled.values() for label in labels} <= set(classes):
            continue  # training labels the submission does not ask for: not this layout
        names = _names(task_dir, listing, texts, rel, key, [*labelled, *unknown])
        return _tables(
            key,
            labelled,
            unknown,
            names,
            Pairs(key, rule, classes, str(sample.columns[0]), rel, names[0] if names else None),
        )
    return None


def _labels_file(path: Path) -> tuple[str, dict[str, list[str]], list[str]] | None:
    """(key name, labels of each training key, test keys) of a `key,label,label...` file with `?`
    for unknown rows; None for anything else (a table whose rows all have the same width and no `?`)."""
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, OSError):
        return None
    if f",{UNKNOWN}" not in text:
        return None  # no unknown row: not a labels file (and no line-by-line reading of a large table)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) < _MIN_TRAIN + _MIN_TEST + 1:
        return None
    header = [c.strip() for c in lines[0].split(",")]
    if not header[0] or header[0] == UNKNOWN:
        return None
    labelled: dict[str, list[str]] = {}
    unknown: list[str] = []
    for line in lines[1:]:
        cells = [c.strip() for c in line.split(",")]
        key, labels = cells[0], [c for c in cells[1:] if c]
        if not key or key in labelled or key in unknown or any(" " in c for c in labels):
            return None
        if labels == [UNKNOWN]:
            unknown.append(key)
        elif UNKNOWN in labels:
            return None
        else:
            labelled[key] = labels
    if len(labelled) < _MIN_TRAIN or len(unknown) < _MIN_TEST:
        return None
    return header[0], labelled, unknown


def _rule(ids: pd.Series, test_keys: list[str]) -> tuple[str, tuple[str, ...]] | None:
    """The rule that makes the sample's keys of every (test key, class), and the classes."""
    want = set(test_keys)
    keys = infer.id_text(ids)
    candidates: list[tuple[str, list[tuple[str, str]]]] = []
    numbers = pd.to_numeric(keys, errors="coerce")
    if numbers.notna().all() and (numbers % 1 == 0).all() and all(k.lstrip("-").isdigit() for k in want):
        whole = numbers.astype("int64")
        for times in _TIMES:
            pairs = [(str(v // times), str(v % times)) for v in whole]
            candidates.append((f"{{id}}*{times}+{{class}}", pairs))
    for sep in _JOINS:
        split = keys.str.rsplit(sep, n=1)
        if (split.str.len() == 2).all():
            candidates.append((f"{{id}}{sep}{{class}}", [(a, b) for a, b in split]))
            split = keys.str.split(sep, n=1)
            candidates.append((f"{{class}}{sep}{{id}}", [(b, a) for a, b in split]))
    for rule, pairs in candidates:
        rows = {r for r, _ in pairs}
        classes = sorted({c for _, c in pairs}, key=_class_order)
        if rows == want and len(set(pairs)) == len(pairs) == len(want) * len(classes) and len(classes) >= 2:
            return rule, tuple(classes)
    return None


def _class_order(label: str) -> tuple[int, float, str]:
    return (0, float(label), "") if re.fullmatch(r"-?\d+", label) else (1, 0.0, label)


def _names(
    task_dir: Path, listing: list[str], texts: list[str], labels_rel: str, key: str, keys: list[str]
) -> tuple[str, str, dict[str, str]] | None:
    """(side table, its name column, key -> file path) when a side table names most recordings'
    files; None when none does (the files are then found by the key, as for any table)."""
    by_stem: dict[str, list[str]] = {}
    for p in listing:
        if p not in texts:
            by_stem.setdefault(PurePosixPath(p).stem, []).append(p)
            by_stem.setdefault(PurePosixPath(p).name, []).append(p)
    for rel in texts:
        if rel == labels_rel:
            continue
        try:
            side = pd.read_csv(task_dir / rel, dtype=str, keep_default_na=False)
        except (ValueError, UnicodeDecodeError, OSError):
            continue
        if side.columns[0].strip() != key or side.shape[1] < 2:
            continue
        side = side.set_index(side.columns[0])
        for column in side.columns:
            found = {
                k: by_stem[str(v).strip()][0]
                for k, v in side[column].items()
                if len(by_stem.get(str(v).strip(), ())) == 1
            }
            if sum(k in found for k in keys) >= 0.8 * len(keys):
                return rel, str(column), found
    return None


def _tables(
    key: str,
    labelled: dict[str, list[str]],
    unknown: list[str],
    names: tuple[str, str, dict[str, str]] | None,
    pairs: Pairs,
) -> tuple[tuple[pd.DataFrame, str], tuple[pd.DataFrame, str]]:
    train = pd.DataFrame({key: list(labelled), LABELS: [" ".join(v) for v in labelled.values()]})
    test = pd.DataFrame({key: unknown})
    via = ""
    if names is not None:
        rel, column, files = names
        for frame in (train, test):  # the file's name as it is in the folder (with its suffix)
            frame.insert(1, column, [PurePosixPath(files[k]).name if k in files else "" for k in frame[key]])
        via = f", files named by {rel}"
    for frame in (train, test):
        frame[key] = normalise_ids(frame[key])
    train.attrs[PAIRS] = {**pairs.__dict__, "classes": list(pairs.classes)}
    how = f"labels of each recording in {pairs.labels_file}{via}"
    return (
        (train, f"{how} ({len(train)} rows; {len(pairs.classes)} classes)"),
        (
            test,
            f"the recordings marked {UNKNOWN} in {pairs.labels_file}; the submission has a row per recording and class",
        ),
    )
