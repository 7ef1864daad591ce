"""The task profile: column kinds, structure of strings, usable features, per-row files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlestar.task.profile import find_row_files, profile_column, profile_task
from mlestar.task.spec import TaskSpec
from tests.builders import build_spec


def _spec(task_dir: Path, id_column: str | None = "pid", targets: tuple[str, ...] = ("label",)) -> TaskSpec:
    return build_spec(
        task_dir,
        "binary",
        targets=targets,
        id_column=id_column,
        metric="accuracy",
        value_kind="label",
        name="t",
        description="",
        classes=("no", "yes"),
    )


def _frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "pid": [f"{i // 2:04d}_{i % 2 + 1:02d}" for i in range(n)],
            "amount": rng.exponential(10, n),
            "planet": rng.choice(["Earth", "Mars"], n).astype(object),
            "flag": rng.choice([True, False, None], n),
            "when": pd.date_range("2021-01-01", periods=n, freq="h").astype(str),
            "cabin": [
                f"{d}/{i}/{s}"
                for i, (d, s) in enumerate(
                    zip(rng.choice(list("ABC"), n), rng.choice(["P", "S"], n), strict=True)
                )
            ],
            "note": ["a rather long free text sentence number " + str(i) for i in range(n)],
            "constant": 1,
            "code": [f"X{i:05d}" for i in range(n)],
            "label": rng.choice(["yes", "no"], n),
            "leak": rng.normal(size=n),
        }
    )


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        ("amount", "numeric"),
        ("planet", "categorical"),
        ("flag", "boolean"),
        ("when", "date"),
        ("cabin", "structured"),
        ("note", "text"),
        ("constant", "constant"),
        ("code", "id"),
    ],
)
def test_column_kinds(column: str, kind: str) -> None:
    assert profile_column(_frame()[column])["kind"] == kind


def test_structured_strings_record_separator_and_parts() -> None:
    info = profile_column(_frame()["cabin"])
    assert info["separator"] == "/"
    assert [p["kind"] for p in info["parts"]] == ["categorical", "numeric", "categorical"]
    assert info["parts"][0]["n_unique"] == 3


def test_numeric_and_text_statistics() -> None:
    frame = _frame()
    amount = profile_column(frame["amount"])
    assert amount["min"] >= 0 and amount["skew"] > 0.5 and amount["integer"] is False
    note = profile_column(frame["note"])
    assert note["mean_words"] == pytest.approx(8.0)
    with_gaps = profile_column(pd.Series([1.0, np.nan, 3.0, np.nan]))
    assert with_gaps["missing"] == 0.5


def test_profile_lists_features_train_only_and_structured_id(tmp_path: Path) -> None:
    train = _frame()
    test = train.drop(columns=["label", "leak"]).head(50)
    profile = profile_task(_spec(tmp_path), train, test, tmp_path)
    assert profile["n_train"] == 200 and profile["n_test"] == 50
    assert "pid" not in profile["features"] and "label" not in profile["features"]
    assert "leak" not in profile["features"] and profile["train_only"] == ["label", "leak"]
    assert profile["columns"]["pid"]["kind"] == "id" and profile["columns"]["pid"]["separator"] == "_"
    assert profile["target"]["balance"] > 0.3
    assert profile["files"] == []


def test_profile_is_deterministic(tmp_path: Path) -> None:
    train, test = _frame(), _frame().drop(columns=["label", "leak"])
    assert profile_task(_spec(tmp_path), train, test, tmp_path) == profile_task(
        _spec(tmp_path), train, test, tmp_path
    )


def test_row_files_in_folders_per_id_with_ids_repeating_across_splits(tmp_path: Path) -> None:
    train = pd.DataFrame({"id": range(1, 41)})
    test = pd.DataFrame({"id": range(1, 11)})
    for split, frame in (("train", train), ("test", test)):
        for row_id in frame["id"]:
            (tmp_path / split / str(row_id)).mkdir(parents=True)
            (tmp_path / split / str(row_id) / "geometry.xyz").write_text("atom 0 0 0 O\n")
    found = find_row_files(tmp_path, train, test, "id")
    assert found == [
        {"train": "train/{id}/geometry.xyz", "test": "test/{id}/geometry.xyz", "kind": "text", "ext": ".xyz"}
    ]


def test_row_files_named_by_id_and_images(tmp_path: Path) -> None:
    train = pd.DataFrame({"id": [f"img{i}" for i in range(12)]})
    test = pd.DataFrame({"id": [f"img{i}" for i in range(12, 16)]})
    (tmp_path / "images").mkdir()
    for row_id in [*train["id"], *test["id"]]:
        (tmp_path / "images" / f"{row_id}.png").write_bytes(b"\x89PNG")
    found = find_row_files(tmp_path, train, test, "id")
    assert found == [{"train": "images/{id}.png", "test": "images/{id}.png", "kind": "image", "ext": ".png"}]


def test_no_row_files_without_id_or_folders(tmp_path: Path) -> None:
    train = pd.DataFrame({"id": range(5)})
    assert find_row_files(tmp_path, train, train, None) == []
    assert find_row_files(tmp_path, train, train, "id") == []
