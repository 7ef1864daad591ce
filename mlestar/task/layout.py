"""How submission rows key to test rows: an id column, a made-up id, or the row order.

Pure functions of the tables (no file access). The sample submission decides: its first column is
the id when test has it and it names each row once; an unnamed leading row-number column is copied,
never predicted; without a usable id, rows match by position and the input columns the sample
repeats are copied from it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from mlestar.task.infer import all_unique, id_text, known_distinct, same_ids


@dataclass(frozen=True)
class Keys:
    id_column: str | None
    key: str
    """"id" or "position"."""
    copy_columns: tuple[str, ...] = ()
    aggregate: str = ""
    made_from: tuple[str, ...] = ()
    """Test columns joined by "_" into the id when test has no id column of its own."""
    unique_in_test: bool = False
    """Already counted: test names each id once (no need to count millions of ids again)."""


def is_row_number(name: str, values: pd.Series) -> bool:
    """An unnamed leading column holding 0..n-1 (a table written with its index)."""
    if not (name == "" or name.startswith("Unnamed:")):
        return False
    numbers = pd.to_numeric(values, errors="coerce")
    return bool(numbers.notna().all() and (numbers.diff().dropna() == 1).all())


def sample_keys(test: pd.DataFrame, sample: pd.DataFrame) -> Keys:
    """The key of the submission's rows, from the sample submission and the test table."""
    row_numbers = tuple(c for c in sample.columns if is_row_number(str(c), sample[c]))
    columns = [c for c in sample.columns if c not in row_numbers]
    first = columns[0]
    repeated = tuple(str(c) for c in columns[1:] if c in test.columns)  # input columns the sample repeats
    if first in test.columns:
        keys = _keyed(test, sample, str(first), row_numbers)
        return keys if keys.key == "position" else _with_copies(keys, repeated)
    spelled = [str(c) for c in test.columns if str(c).lower() == str(first).lower()]
    if spelled:
        return Keys(str(first), "id", (*row_numbers, *repeated), made_from=(spelled[0],))
    made = _made_from(test, sample[first])
    if made:
        return Keys(str(first), "id", row_numbers, made_from=made)
    shared = [str(c) for c in columns if c in test.columns]
    if len(sample) == len(test) and shared:
        return Keys(None, "position", (*row_numbers, *shared))
    return Keys(str(first), "id", row_numbers)


def _with_copies(keys: Keys, repeated: tuple[str, ...]) -> Keys:
    return replace(keys, copy_columns=(*keys.copy_columns, *repeated))


def _keyed(test: pd.DataFrame, sample: pd.DataFrame, first: str, row_numbers: tuple[str, ...]) -> Keys:
    in_order = same_ids(sample[first], test[first])
    if in_order and known_distinct(test, first):  # a built test table: one row per id, not counted
        sample_unique = test_unique = True
    else:
        sample_unique = all_unique(sample[first])
        test_unique = sample_unique if in_order else all_unique(test[first])
    if sample_unique and test_unique:
        return Keys(first, "id", row_numbers, unique_in_test=True)
    same_set = set(id_text(sample[first])) == set(id_text(test[first]))
    if sample_unique and not test_unique and same_set:
        return Keys(first, "id", row_numbers, aggregate="mean")
    if in_order:
        shared = tuple(str(c) for c in sample.columns if c in test.columns)
        return Keys(None, "position", (*row_numbers, *shared))
    return Keys(first, "id", row_numbers)


def _made_from(test: pd.DataFrame, ids: pd.Series, limit: int = 50) -> tuple[str, ...]:
    """Two test columns whose values joined by "_" give the sample's ids (sentence_token ids)."""
    want = set(id_text(ids.head(limit)))
    if len(ids) != len(test):
        return ()
    cols = [str(c) for c in test.columns][:12]
    for a in cols:
        for b in cols:
            if a != b and set(join_columns(test.head(limit), (a, b))) == want:
                return (a, b)
    return ()


def join_columns(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    parts = [id_text(frame[c]) for c in columns]
    out = parts[0]
    for p in parts[1:]:
        out = out + "_" + p
    return out
