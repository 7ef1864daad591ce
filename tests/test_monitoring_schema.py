"""The data schema and the validation of new tables against it (pure, on small frames)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlestar.monitoring.schema import DataSchema, describe_column, infer_schema
from mlestar.monitoring.validate import check_frame
from tests.run_factory import make_spec, make_tables


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> DataSchema:
    train, test, _ = make_tables("binary", n_train=200, n_test=20)
    spec = make_spec(tmp_path_factory.mktemp("schema") / "run")
    return infer_schema(spec, train, test)


def test_columns_are_described_by_kind_and_storage(schema: DataSchema) -> None:
    kinds = {c.name: (c.kind, c.storage) for c in schema.columns}
    assert kinds == {
        "id": ("id", "integer"),
        "x1": ("number", "number"),
        "x2": ("number", "integer"),
        "colour": ("category", "string"),
    }
    x1 = schema.by_name["x1"]
    assert x1.min is not None and x1.max is not None and x1.min < 0 < x1.max
    assert len(x1.quantiles) == 201 and abs(sum(x1.bin_shares) - 1) < 1e-6
    colour = schema.by_name["colour"]
    assert colour.closed and set(colour.categories) == {"red", "green", "blue"}
    assert schema.by_name["x2"].discrete  # few integer values: tested as categories
    assert [t.name for t in schema.targets] == ["label"] and not schema.by_name["id"].required


def test_schema_round_trips_through_json(schema: DataSchema, tmp_path: Path) -> None:
    schema.save(tmp_path / "schema.json")
    assert DataSchema.load(tmp_path / "schema.json") == schema


def test_text_columns_keep_length_statistics() -> None:
    notes = pd.Series([" ".join(["word"] * (4 + i % 7)) for i in range(300)])
    col = describe_column("note", notes)
    assert col.kind == "text" and col.quantiles[0] == len("word word word word")
    assert not col.categories  # free text is never a category set


def test_a_clean_table_passes_and_is_typed_like_training(schema: DataSchema) -> None:
    rows = pd.DataFrame({"id": ["5", "6"], "x1": ["0.25", "-1"], "x2": [1.0, 3.0], "colour": ["red", "blue"]})
    checked = check_frame(schema, rows)
    assert checked.ok and not checked.findings
    assert checked.frame["x1"].dtype == np.float64 and checked.frame["x2"].dtype == np.int64
    assert list(checked.frame.columns) == ["id", "x1", "x2", "colour"]


@pytest.mark.parametrize(
    ("change", "check", "severity", "column"),
    [
        (lambda f: f.drop(columns=["x1"]), "missing_column", "error", "x1"),
        (lambda f: f.assign(extra=1), "extra_column", "warning", "extra"),
        (lambda f: f.assign(x1=["a", 0.1, 0.2]), "wrong_type", "error", "x1"),
        (lambda f: f.assign(colour=["red", "mauve", "red"]), "unseen_category", "warning", "colour"),
        (lambda f: f.assign(x1=[0.0, 99.0, 0.1]), "out_of_range", "warning", "x1"),
        (lambda f: f.assign(x2=[1, None, 2]), "missing_values", "warning", "x2"),
        (lambda f: f.iloc[:0], "empty_table", "error", None),
    ],
)
def test_each_kind_of_problem_is_found(
    schema: DataSchema, change, check: str, severity: str, column: str | None
) -> None:  # type: ignore[no-untyped-def]
    rows = pd.DataFrame(
        {"id": [1, 2, 3], "x1": [0.0, 0.5, 0.1], "x2": [1, 2, 3], "colour": ["red", "blue", "green"]}
    )
    found = [(f.check, f.severity, f.column) for f in check_frame(schema, change(rows)).findings]
    assert (check, severity, column) in found
    assert len({f[0] for f in found}) == 1  # nothing else is reported


def test_the_id_column_may_be_left_out(schema: DataSchema) -> None:
    rows = pd.DataFrame({"x1": [0.0], "x2": [1], "colour": ["red"]})
    assert check_frame(schema, rows).ok
