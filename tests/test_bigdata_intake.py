"""Intake on tables of many rows: what is known by construction is not counted again, and the
cheaper spellings of per-pixel rows give the answers the slower ones gave."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlestar.errors import TaskError
from mlestar.task import infer, layout, load_task_tables, rows
from mlestar.task.profile import profile_task
from mlestar.task.rows import _numbers_text, _picture_names
from tests.media_tasks import pages_task


def _regex_names(ids: list[str]) -> set[str]:
    """What the regular expression (Arrow's: \\d is an ASCII digit) strips: the names before."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return set(pc.replace_substring_regex(pa.array(ids), pattern=r"_\d+_\d+$", replacement="").to_pylist())


@pytest.mark.parametrize(
    "ids",
    [
        ["a_1_1_3", "a_1_2_1", "b_10_258", "7_1_1", "x__4_5", "_1_2", "9_09_0"],
        ["a_1_1_3", "a_b", "c_1_2"],  # one id is not <image>_<row>_<col>: the regex's answer
        ["a_1_x", "b_2_3"],
        ["a__2", "b_2_3"],
        ["a_1_2_", "b_2_3"],
        ["p_١_2", "q_3_4"],  # a digit that is not ASCII: \d does not take it
        ["a_1_1", "a_1_2", "b_1_1", "a_1_3", "a_2_1", "b_1_1"],  # names in runs, a run coming back
        ["é_1_2", "é_1_3", "ü_x_10_1"],  # names not ASCII
        ["a_1_1"],
    ],
)
def test_picture_names_are_what_the_regular_expression_strips(ids: list[str]) -> None:
    assert _picture_names(pd.Series(ids)) == _regex_names(ids)


@pytest.mark.parametrize(
    ("stem", "height", "width"),
    [("a", 1, 1), ("a_b", 1, 1234), ("1_2", 1234, 1), ("é_7", 11, 101), ("p", 9, 10), ("q", 100, 999),
     ("z", 3, 1000), ("y", 0, 4)],
)  # fmt: skip
def test_a_whole_pictures_ids_are_those_the_join_spells(stem: str, height: int, width: int) -> None:
    rows_at = np.repeat(np.arange(1, height + 1, dtype=np.int64), width)
    cols_at = np.tile(np.arange(1, width + 1, dtype=np.int64), height)
    ids = rows._grid_ids(stem, height, width)
    ids.validate(full=True)
    assert ids.equals(rows._joined_ids(stem, rows_at, cols_at))
    if height and width:
        assert ids[0].as_py() == f"{stem}_1_1" and ids[len(ids) - 1].as_py() == f"{stem}_{height}_{width}"


def test_the_first_rows_of_distinct_keys_are_those_drop_duplicates_gives() -> None:
    from mlestar.task.media_probe import first_distinct

    runs = pd.DataFrame({"image": np.repeat([f"p{i}" for i in range(30)], 700), "x": np.arange(21_000)})
    scattered = runs.sample(frac=1.0, random_state=0)
    few = runs[runs["image"].isin(["p3", "p7"])]
    for table in (runs, scattered, few, runs.head(0), runs.head(5000)):
        for count in (1, 12, 40):
            assert first_distinct(table, "image", count).equals(table.drop_duplicates("image").head(count))


def test_numbers_are_spelled_as_their_text() -> None:
    numbers = np.array([0, 1, 9, 10, 540, 7, 1])
    assert _numbers_text(numbers).to_pylist() == [str(n) for n in numbers]
    big = np.array([3, 5_000_000, -2])
    assert _numbers_text(big).to_pylist() == ["3", "5000000", "-2"]


def test_a_table_marked_distinct_keeps_its_mark_only_while_it_keeps_its_rows() -> None:
    table = pd.DataFrame({"id": ["a", "b", "c"], "x": [1, 2, 3]})
    infer.mark_distinct(table, "id")
    assert infer.known_distinct(table, "id") and not infer.known_distinct(table, "x")
    longer = pd.concat([table, table.head(1)], ignore_index=True)
    longer.attrs.update(table.attrs)  # as a reshaping step copies attrs
    assert not infer.known_distinct(longer, "id")


def test_sample_ids_in_a_distinct_test_tables_order_are_not_counted(monkeypatch) -> None:
    test = pd.DataFrame({"id": ["a_1_1", "a_1_2", "b_1_1"], "pixel": [0.1, 0.2, 0.3]})
    sample = pd.DataFrame({"id": test["id"].tolist(), "value": [1, 1, 1]})
    counted = layout.sample_keys(test, sample)
    infer.mark_distinct(test, "id")
    monkeypatch.setattr(layout, "all_unique", lambda ids: pytest.fail("counted again"))
    assert layout.sample_keys(test, sample) == counted
    assert counted.key == "id" and counted.unique_in_test


def test_per_pixel_tables_are_marked_and_profiled_as_counted(tmp_path: Path) -> None:
    task = pages_task(tmp_path / "pages", n_train=3, n_test=2, shape=(8, 12))
    spec, tables = load_task_tables(task)
    assert infer.known_distinct(tables.train, "id") and infer.known_distinct(tables.test, "id")
    assert spec.submission.key == "id"
    profile = profile_task(spec, tables.train, tables.test, task)
    assert profile["columns"]["id"]["n_unique"] == tables.train["id"].nunique() == len(tables.train)
    assert profile["columns"]["image"]["n_unique"] == 3


def test_pixel_tables_are_the_same_read_on_one_thread_or_several(tmp_path: Path, monkeypatch) -> None:
    task = pages_task(tmp_path / "pages", n_train=5, n_test=3, shape=(9, 13))
    monkeypatch.setattr(rows, "MAX_TRAIN_PIXELS", 5 * 40)  # training pixels sampled: 40 of each page
    tables = {}
    for threads in (1, 3):
        monkeypatch.setattr(rows, "_DECODERS", threads)
        tables[threads] = load_task_tables(task)[1]
    for role in ("train", "test"):
        one, several = getattr(tables[1], role), getattr(tables[3], role)
        pd.testing.assert_frame_equal(one, several)
        assert one["image"].tolist() == sorted(one["image"].tolist())  # pages in name order
    train = tables[3].train
    assert len(train) == 5 * 40 and train.groupby("image").size().tolist() == [40] * 5
    assert tables[3].test["id"].tolist() == pd.read_csv(task / "sampleSubmission.csv")["id"].tolist()


@pytest.mark.parametrize("folder", ["test", "train"])
def test_a_picture_that_cannot_be_read_is_named(tmp_path: Path, folder: str) -> None:
    task = pages_task(tmp_path / "pages", n_train=3, n_test=2, shape=(8, 12))
    name = "5.png" if folder == "test" else "2.png"
    (task / folder / name).write_bytes(b"\x89PNG\r\n\x1a\n not a picture")
    with pytest.raises(TaskError, match=f"expected a readable picture at {folder}/{name}"):
        load_task_tables(task)


def test_numbers_spelled_in_a_long_text_column_convert_as_each_cell_does() -> None:
    from mlestar.task.profile import _as_numbers, profile_column

    spellings = ["101", "2.5", "1e3", " 7", "-0", "0.1000000000000000055511151231257827", "3"]
    text = pd.Series(np.array(spellings)[np.arange(140_000) % 7], dtype="str", index=np.arange(140_000) + 5)
    pd.testing.assert_series_equal(_as_numbers(text), text.astype(float))
    column = profile_column(text)
    assert column["kind"] == "numeric" and column["n_unique"] == 7 and column["min"] == -0.0


def test_a_lay_out_failing_while_its_tables_are_written_leaves_no_folder(tmp_path: Path) -> None:
    from mlestar.config import RunConfig
    from mlestar.lay_out import read_and_lay_out
    from mlestar.run_layout import RunLayout

    task = pages_task(tmp_path / "pages", n_train=3, n_test=1, shape=(8, 12))
    run = tmp_path / "run"
    config = RunConfig(task_dir=task, run_dir=run, tracking=False, live=False, group_column="page")
    with pytest.raises(TaskError, match="expected the group column 'page' in train"):
        read_and_lay_out(config, RunLayout(run), 0.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pages"]  # no run folder, no staging folder
