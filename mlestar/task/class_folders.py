"""Training files grouped in one folder per class, the submission one binary probability per file.

A layout like a steganalysis challenge's: `Cover/`, `JMiPOD/`, `JUNIWARD/`, `UERD/` hold the
training pictures (one folder per way they were made), `Test/` the pictures to answer, and the
sample asks, per test file, the probability of a yes/no Label. No table says which folders mean 0:
only the description's prose does ("`Cover/` contains unaltered images"). The negative folder is
the one folder the prose names next to a negation (no, not, without, unaltered, ...: within a few
words, in one sentence); when the prose names none or several so, nothing is built and the task
stays with its baseline. Training rows are the folders' files, Label 0 in the negative folder and 1
in every other, the folder a column of the row (train-only, never a feature): the file's template
is "{folder}/{id}". Decided from the layout and the prose, never from a task's name.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path, PurePosixPath

import pandas as pd

from mlestar.task.files import listing_of

FOLDER = "folder"
"""The train column naming each file's class folder."""
NEGATIONS = frozenset(
    ("no", "not", "without", "none", "never", "unaltered", "unmodified", "untouched", "unchanged")
)
WINDOW = 5
"""How many words apart a folder's name and a negation may be."""
_MIN_FILES = 2
_WORD = re.compile(r"[A-Za-z0-9_\-']+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n")


def class_folder_table(
    task_dir: Path, sample: pd.DataFrame, description: str
) -> tuple[pd.DataFrame, str] | None:
    """(train, how) for such a layout; None when it is not there or the prose names no single
    negative folder."""
    if sample.shape[1] != 2 or sample.empty or not pd.api.types.is_numeric_dtype(sample.iloc[:, 1]):
        return None
    key, target = str(sample.columns[0]), str(sample.columns[1])
    folders = _class_folders(listing_of(task_dir), set(sample[key].astype(str)))
    if folders is None:
        return None
    negative = negative_folder(description, list(folders))
    if negative is None:
        return None
    # The folders' files in turn (the first of each, then the second...): any first rows show
    # every folder, as the file templates are read off the first rows ("{folder}/{id}").
    rows = [
        (names[i], folder)
        for i in range(max(map(len, folders.values())))
        for folder, names in folders.items()
        if i < len(names)
    ]
    train = pd.DataFrame(rows, columns=[key, FOLDER])
    train[target] = (train[FOLDER] != negative).astype("int64")
    named = ", ".join(f"{f}/" for f in folders)
    how = (
        f"the files of the class folders {named}: {target} 0 in {negative}/ (the folder the description "
        f"names as without it), 1 in the others"
    )
    return train, how


def _class_folders(listing: list[str], test_keys: set[str]) -> dict[str, list[str]] | None:
    """{folder: its files' names} of the sibling folders beside the test files' folder that hold
    files of the same kind (two or more folders, none of them named test)."""
    by_folder: dict[str, list[str]] = defaultdict(list)
    for path in listing:
        p = PurePosixPath(path)
        by_folder[str(p.parent)].append(p.name)
    holding = Counter({f: sum(n in test_keys for n in names) for f, names in by_folder.items()})
    if not holding:
        return None
    test_folder, hits = holding.most_common(1)[0]
    if hits < 0.8 * len(test_keys):
        return None
    suffixes = {PurePosixPath(n).suffix.lower() for n in by_folder[test_folder]}
    parent = PurePosixPath(test_folder).parent
    found = {
        PurePosixPath(f).name: sorted(n for n in names if PurePosixPath(n).suffix.lower() in suffixes)
        for f, names in by_folder.items()
        if f != test_folder and PurePosixPath(f).parent == parent and f != "."
        and "test" not in PurePosixPath(f).name.lower()
    }  # fmt: skip
    found = {f: names for f, names in found.items() if len(names) >= _MIN_FILES}
    return found if len(found) >= 2 else None


def negative_folder(description: str, folders: list[str]) -> str | None:
    """The one folder the prose names within WINDOW words of a negation, in one sentence; None
    when it names none or several so."""
    by_word = {f.lower(): f for f in folders}
    named = set()
    for sentence in _SENTENCE.split(description):
        words = [w.lower() for w in _WORD.findall(sentence)]
        negations = [i for i, w in enumerate(words) if w in NEGATIONS or w.endswith("n't")]
        for i, word in enumerate(words):
            if word in by_word and any(abs(i - j) <= WINDOW for j in negations):
                named.add(by_word[word])
    return named.pop() if len(named) == 1 else None
