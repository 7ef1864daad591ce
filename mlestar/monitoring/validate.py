"""Checking a new table against a run's schema, and shaping it like the training data.

`check_frame` returns every finding (missing or extra columns, wrong types, unseen categories,
out-of-range values, new missing values) and the table coerced to the schema's columns and types,
ready for the model. Errors make a table unusable; warnings describe data the model has not seen.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlestar.monitoring.schema import ColumnSchema, DataSchema, category_key

ERROR = "error"
WARNING = "warning"
MISSING_SLACK = 0.1
"""A column may be this much more often empty than in training before it is reported."""
_EXAMPLES = 3


@dataclass(frozen=True)
class Finding:
    severity: str
    """"error" (the model cannot use the table) or "warning" (it can, on data it has not seen)."""
    check: str
    """empty_table, missing_column, extra_column, wrong_type, unseen_category, out_of_range, missing_values."""
    column: str | None
    message: str
    count: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Checked:
    findings: tuple[Finding, ...]
    frame: pd.DataFrame
    """The input's schema columns, in the schema's order and types (extra columns dropped)."""

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == ERROR)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == WARNING)

    @property
    def ok(self) -> bool:
        return not self.errors


def check_frame(schema: DataSchema, frame: pd.DataFrame) -> Checked:
    """Every finding about frame, and frame shaped like the model's input."""
    findings: list[Finding] = []
    if len(frame) == 0:
        findings.append(Finding(ERROR, "empty_table", None, "expected at least one row, found none"))
    names = {str(c) for c in frame.columns}
    targets = {t.name for t in schema.targets}
    for extra in sorted(names - set(schema.by_name) - targets):
        findings.append(
            Finding(WARNING, "extra_column", extra, f"column {extra!r} is not in the schema: ignored")
        )
    columns: dict[str, pd.Series] = {}
    for col in schema.columns:
        if col.name not in names:
            if col.required:
                message = f"expected column {col.name!r} ({col.storage}), found no such column"
                findings.append(Finding(ERROR, "missing_column", col.name, message))
            continue
        values, problems = check_column(col, frame[col.name].reset_index(drop=True))
        columns[col.name] = values
        findings.extend(problems)
    shaped = pd.DataFrame(columns, index=pd.RangeIndex(len(frame)))
    return Checked(tuple(findings), shaped)


def check_column(col: ColumnSchema, raw: pd.Series) -> tuple[pd.Series, list[Finding]]:
    """The column in its training type, and what is wrong with it."""
    values, bad = coerce(col, raw)
    findings = []
    if bad.any():
        examples = ", ".join(repr(v) for v in raw[bad].astype(str).unique()[:_EXAMPLES])
        message = f"expected {col.storage} values in {col.name!r}, found {int(bad.sum())} that are not (e.g. {examples})"
        findings.append(Finding(ERROR, "wrong_type", col.name, message, int(bad.sum())))
    findings.extend(_value_findings(col, values, raw.isna(), bad))
    return values, findings


def coerce(col: ColumnSchema, raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(values in the schema's storage type, mask of values that could not be converted)."""
    missing = raw.isna()
    if col.storage in ("number", "integer"):
        numbers = pd.to_numeric(raw, errors="coerce") if raw.dtype == object else raw
        numbers = pd.to_numeric(numbers, errors="coerce").astype(float)
        bad = numbers.isna() & ~missing
        if col.storage == "integer" and not numbers.isna().any() and (numbers % 1 == 0).all():
            return numbers.astype(np.int64), bad
        return numbers, bad
    if col.storage == "boolean":
        keys = raw.map(lambda v: None if _is_missing(v) else category_key(v))
        bad = ~keys.isin(["True", "False", "1", "0"]) & ~missing
        flags = keys.map({"True": True, "1": True, "False": False, "0": False})
        return (flags.astype(bool) if not flags.isna().any() else flags.astype(object)), bad
    if col.storage == "datetime":
        stamps = pd.to_datetime(raw, errors="coerce")
        return stamps, stamps.isna() & ~missing
    text = raw.map(lambda v: None if _is_missing(v) else str(v)).astype(object)
    return text, pd.Series(False, index=raw.index)


def _value_findings(
    col: ColumnSchema, values: pd.Series, empty: pd.Series, bad: pd.Series
) -> Iterator[Finding]:
    """New missing values, and values outside what training saw (wrong-typed ones are reported already)."""
    n = len(values)
    if n == 0:
        return
    rate = float(empty.mean())
    if rate > 0 and (col.missing_rate == 0 or rate > col.missing_rate + MISSING_SLACK):
        message = f"{col.name!r} is empty in {rate:.1%} of rows; in training it was in {col.missing_rate:.1%}"
        yield Finding(WARNING, "missing_values", col.name, message, int(empty.sum()))
    present = values[~empty & ~bad]
    if col.kind == "number" and col.min is not None and col.max is not None and len(present):
        x = present.astype(float)
        out = (x < col.min) | (x > col.max)
        if out.any():
            message = (
                f"{int(out.sum())} value(s) of {col.name!r} outside the training range "
                f"[{col.min:.6g}, {col.max:.6g}] (seen {x.min():.6g} to {x.max():.6g})"
            )
            yield Finding(WARNING, "out_of_range", col.name, message, int(out.sum()))
    elif col.closed and col.kind == "category" and len(present):
        keys = present.map(category_key)
        unseen = ~keys.isin(set(col.categories))
        if unseen.any():
            examples = ", ".join(repr(v) for v in keys[unseen].unique()[:_EXAMPLES])
            message = f"{int(unseen.sum())} value(s) of {col.name!r} never seen in training (e.g. {examples})"
            yield Finding(WARNING, "unseen_category", col.name, message, int(unseen.sum()))


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def summary_line(checked: Checked) -> str:
    errors, warnings = len(checked.errors), len(checked.warnings)
    if not checked.findings:
        return f"ok: {len(checked.frame)} rows match the schema"
    return f"{errors} error(s), {warnings} warning(s) in {len(checked.frame)} rows"
