"""A /predict request body -> a table, or a PayloadError that says what is wrong (a 4xx).

JSON bodies may be a list of records, one record, or MLflow's shapes ({"dataframe_records": [...]},
{"dataframe_split": {"columns": [...], "data": [[...]]}}), or {"records": [...]}; CSV bodies
need a header row.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pandas as pd

JSON_TYPES = ("application/json", "text/json")
CSV_TYPES = ("text/csv", "application/csv", "text/plain")


class PayloadError(ValueError):
    """A request the server refuses: its HTTP status, what is wrong, and schema findings if any."""

    def __init__(self, status: int, message: str, findings: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.findings = findings or []


def parse_body(content_type: str, body: bytes, id_column: str | None) -> pd.DataFrame:
    kind = content_type.split(";")[0].strip().lower()
    if not body.strip():
        raise PayloadError(400, "expected rows in the request body, found an empty body")
    if kind in JSON_TYPES:
        return _json_rows(body)
    if kind in CSV_TYPES:
        return _csv_rows(body, id_column)
    raise PayloadError(415, f"expected Content-Type application/json or text/csv, found {kind or 'none'!r}")


def _json_rows(body: bytes) -> pd.DataFrame:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PayloadError(400, f"expected a JSON body, found invalid JSON ({exc})") from None
    records = _records(data)
    if not all(isinstance(r, dict) for r in records):
        raise PayloadError(400, "expected every record to be a JSON object of column: value")
    bad = [k for r in records for k, v in r.items() if isinstance(v, dict | list)]
    if bad:
        raise PayloadError(400, f"expected plain values, found a nested object or list in column {bad[0]!r}")
    return pd.DataFrame.from_records(records)


def _records(data: Any) -> list[Any]:
    if isinstance(data, list):
        return data
    if not isinstance(data, dict):
        raise PayloadError(400, f"expected a list of records or an object, found {type(data).__name__}")
    for key in ("records", "dataframe_records", "instances"):
        if key in data:
            if not isinstance(data[key], list):
                raise PayloadError(400, f"expected a list under {key!r}, found {type(data[key]).__name__}")
            return list(data[key])
    if "dataframe_split" in data:
        return _split(data["dataframe_split"])
    return [data]  # one record


def _split(split: Any) -> list[dict[str, Any]]:
    if (
        not isinstance(split, dict)
        or not isinstance(split.get("columns"), list)
        or not isinstance(split.get("data"), list)
    ):
        raise PayloadError(
            400, "expected dataframe_split to hold 'columns' (a list) and 'data' (a list of rows)"
        )
    columns = split["columns"]
    rows = split["data"]
    if any(not isinstance(r, list) or len(r) != len(columns) for r in rows):
        raise PayloadError(400, f"expected every row of dataframe_split to have {len(columns)} values")
    return [dict(zip(columns, r, strict=True)) for r in rows]


def _csv_rows(body: bytes, id_column: str | None) -> pd.DataFrame:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError(400, "expected a UTF-8 CSV body, found other bytes") from None
    try:
        dtype = {id_column: str} if id_column else None
        return pd.read_csv(io.StringIO(text), dtype=dtype)  # type: ignore[arg-type]
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PayloadError(400, f"expected a CSV table with a header row, found: {first}") from None
