"""Training tables in another shape than the test table: wide answers for long test rows.

A wide train holds one answer column per part (`overall`, `C1`, `C2` ...) while test has one row
per (entity, part), a column naming the part, and the submission one answer per test row. Train is
melted to the test's shape so that every training row answers one test-shaped row.
"""

from __future__ import annotations

import pandas as pd

from mlestar.task.infer import id_text
from mlestar.task.tables import TaskTables

_MIN_PARTS = 2


def melt_wide_answers(t: TaskTables, target: str, id_column: str | None) -> tuple[TaskTables, str] | None:
    """(tables with train melted, how) when a test column's values name train's answer columns."""
    train, test = t.train, t.test
    if target in train.columns or train.empty:
        return None
    for part in (str(c) for c in test.columns if c not in train.columns and c != id_column):
        named = _named_columns(test[part], train, test)
        if named is None:
            continue
        keys = [str(c) for c in train.columns if c not in named and c in test.columns]
        if not keys:
            continue
        others = [str(c) for c in train.columns if c not in named and c not in keys]
        long = train.melt(id_vars=[*keys, *others], value_vars=named, var_name=part, value_name=target)
        long = _with_id(long, test, id_column, keys, part)
        long.attrs.update(train.attrs)
        how = f"train's columns {', '.join(named)} melted to one row per ({', '.join(keys)}, {part}) as test has"
        return TaskTables(long, test, t.sample_submission), how
    return None


def _named_columns(values: pd.Series, train: pd.DataFrame, test: pd.DataFrame) -> list[str] | None:
    """Train's columns (absent from test) that a test column's values name, when every value does."""
    if pd.api.types.is_numeric_dtype(values):
        return None
    distinct = set(values.dropna().astype(str))
    columns = {str(c) for c in train.columns if c not in test.columns}
    if len(distinct) < _MIN_PARTS or not distinct <= columns:
        return None
    order = [str(c) for c in train.columns]
    return sorted(columns & distinct, key=order.index)


def _with_id(
    long: pd.DataFrame, test: pd.DataFrame, id_column: str | None, keys: list[str], part: str
) -> pd.DataFrame:
    """The test's id rebuilt for train when test spells it as key_part (e.g. "uid_C1")."""
    if id_column is None or id_column not in test.columns or id_column in long.columns:
        return long
    for key in keys:
        made = id_text(test[key]) + "_" + test[part].astype(str)
        if (made.to_numpy() == id_text(test[id_column]).to_numpy()).all():
            return long.assign(**{id_column: id_text(long[key]) + "_" + long[part].astype(str)})
    return long
