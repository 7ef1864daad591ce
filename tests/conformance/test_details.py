"""Real-world details of task folders, each read right (issue 12, item 6).

Every test builds a tiny task of its own; nothing comes from a real competition.
"""

from __future__ import annotations

import json
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlestar.errors import TaskError
from mlestar.handover.submission import baseline_predictions, check_submission, to_submission_frame
from mlestar.prepare import _parquet_safe, encode_target
from mlestar.task import ProblemType, load_task, load_task_tables
from mlestar.task.profile import profile_task

RNG = np.random.default_rng(0)


def _task(folder: Path, train: pd.DataFrame, test: pd.DataFrame, sample: pd.DataFrame | None,
          description: str = "Scored by accuracy.") -> Path:  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "description.md").write_text(f"# task\n\n## Evaluation\n\n{description}\n")
    train.to_csv(folder / "train.csv", index=False)
    test.to_csv(folder / "test.csv", index=False)
    if sample is not None:
        sample.to_csv(folder / "sample_submission.csv", index=False)
    return folder


def _tabular(n: int = 60) -> pd.DataFrame:
    return pd.DataFrame({"id": range(1, n + 1), "x": RNG.normal(size=n), "y": [i % 2 for i in range(n)]})


def test_row_order_submission_copies_the_repeated_input_columns(tmp_path: Path) -> None:
    train = pd.DataFrame(
        {"Insult": [i % 2 for i in range(40)], "Date": [None] * 40, "Comment": [f"c {i}" for i in range(40)]}
    )
    test = train.drop(columns=["Insult"]).iloc[:10].copy()
    test["Date"] = [None] * 9 + ["20120101"]  # a mostly-empty column must not be taken for an id
    sample = test.assign(Insult=0)[["Insult", "Date", "Comment"]]
    spec, tables = load_task_tables(
        _task(tmp_path, train, test, sample, "Scored by the area under the ROC curve.")
    )
    assert spec.id_column is None and spec.submission.key == "position"
    assert set(spec.submission.copy_columns) == {"Date", "Comment"}
    frame = to_submission_frame(
        spec, np.linspace(0, 1, 10).reshape(-1, 1), tables.test, tables.sample_submission
    )
    check_submission(frame, spec, tables.sample_submission)
    assert list(frame.columns) == ["Insult", "Date", "Comment"] and list(frame["Comment"]) == list(
        test["Comment"]
    )


def test_a_date_time_id_keys_rows_and_stays_a_feature(tmp_path: Path) -> None:
    hours = pd.date_range("2011-01-01", periods=80, freq="h").astype(str)
    train = pd.DataFrame(
        {"datetime": hours[:60], "temp": RNG.normal(size=60), "count": RNG.integers(0, 9, 60)}
    )
    test = pd.DataFrame({"datetime": hours[60:], "temp": RNG.normal(size=20)})
    spec, tables = load_task_tables(_task(tmp_path, train, test, test[["datetime"]].assign(count=0),
                                          "Scored by the root mean squared error."))  # fmt: skip
    assert spec.id_column == "datetime" and spec.id_is_feature
    profile = profile_task(spec, tables.train, tables.test, spec.task_dir)
    assert "datetime" in profile["features"]
    assert profile["columns"]["datetime"]["kind"] == "date" and profile["columns"]["datetime"]["datetime"]


def test_list_and_dict_cells_are_profiled_and_stored_as_json(tmp_path: Path) -> None:
    records = [{"rid": f"r{i}", "subs": ["a", "b"][: i % 3], "meta": {"k": i}, "flag": bool(i % 2), "note": None,
                "got": bool(i % 3 == 0)} for i in range(40)]  # fmt: skip
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "description.md").write_text("Scored by the area under the ROC curve.")
    (tmp_path / "train.json").write_text(json.dumps(records[:30]))
    (tmp_path / "test.json").write_text(
        json.dumps([{k: v for k, v in r.items() if k != "got"} for r in records[30:]])
    )
    pd.DataFrame({"rid": [r["rid"] for r in records[30:]], "got": 0}).to_csv(
        tmp_path / "sampleSubmission.csv", index=False
    )
    spec, tables = load_task_tables(tmp_path)
    profile = profile_task(spec, tables.train, tables.test, tmp_path)  # used to raise unhashable type: 'list'
    assert profile["columns"]["subs"]["kind"] == "list" and profile["columns"]["meta"]["kind"] == "dict"
    stored = _parquet_safe(tables.train)
    assert json.loads(stored["subs"].iloc[1]) == ["a"] and json.loads(stored["meta"].iloc[2]) == {"k": 2}


def test_training_rows_without_an_answer_are_dropped_with_a_note(tmp_path: Path) -> None:
    train = _tabular().astype({"y": object})
    train.loc[[3, 7], "y"] = None
    test = _tabular(10).drop(columns=["y"])
    spec, tables = load_task_tables(_task(tmp_path, train, test, test[["id"]].assign(y=0)))
    assert spec.dropped_rows == 2 and len(tables.train) == 58
    assert any("2 training row(s) without an answer dropped" in n for n in spec.notes)
    assert len(encode_target(spec, tables.train)) == 58


def test_train_only_columns_are_listed_and_never_features(tmp_path: Path) -> None:
    train = _tabular().assign(leak=1.0, proxy="p")
    spec, tables = load_task_tables(
        _task(tmp_path, train, _tabular(10).drop(columns=["y"]), _tabular(10)[["id", "y"]])
    )
    assert set(spec.train_only) == {"y", "leak", "proxy"}
    features = profile_task(spec, tables.train, tables.test, spec.task_dir)["features"]
    assert "leak" not in features and "proxy" not in features


def test_a_side_table_is_joined_by_its_key(tmp_path: Path) -> None:
    train = _tabular().assign(shop=[i % 5 for i in range(60)])
    test = _tabular(10).drop(columns=["y"]).assign(shop=[i % 5 for i in range(10)])
    task = _task(tmp_path, train, test, test[["id"]].assign(y=0))
    pd.DataFrame({"shop": range(5), "size": [10, 20, 30, 40, 50]}).to_csv(task / "shops.csv", index=False)
    spec, tables = load_task_tables(task)
    assert spec.joined == ("shops.csv on shop",)
    assert list(tables.test["size"]) == [10 * (i % 5 + 1) for i in range(10)]


@pytest.mark.parametrize(
    "sep,encoding,bom",
    [(";", "utf-8", False), ("\t", "utf-8", False), (",", "latin-1", False), (",", "utf-8", True)],
)
def test_csv_dialects(tmp_path: Path, sep: str, encoding: str, bom: bool) -> None:
    task = _task(tmp_path, _tabular(), _tabular(10).drop(columns=["y"]), _tabular(10)[["id", "y"]])
    frame = _tabular().assign(name=["café"] * 60)
    text = frame.to_csv(index=False, sep=sep)
    (task / "train.csv").write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    spec, tables = load_task_tables(task)
    assert list(tables.train.columns) == ["id", "x", "y", "name"] and tables.train["name"][0] == "café"
    assert spec.id_column == "id"


def test_a_task_nested_one_level_down(tmp_path: Path) -> None:
    _task(tmp_path / "data", _tabular(), _tabular(10).drop(columns=["y"]), _tabular(10)[["id", "y"]])
    assert load_task(tmp_path).task_dir == (tmp_path / "data").resolve()


def test_several_sample_submissions(tmp_path: Path) -> None:
    task = _task(tmp_path, _tabular(), _tabular(10).drop(columns=["y"]), _tabular(10)[["id", "y"]])
    _tabular(10)[["id", "y"]].to_csv(task / "sample_submission_old.csv", index=False)
    assert load_task(task).sample_submission_path == (task / "sample_submission.csv").resolve()


def test_archives_zip_tar_and_gz(tmp_path: Path) -> None:
    task = _task(tmp_path, _tabular(), _tabular(10).drop(columns=["y"]), None)
    with zipfile.ZipFile(task / "train.zip", "w") as zf:
        zf.write(task / "train.csv", "train.csv")
    (task / "train.csv").unlink()
    pd.read_csv(task / "test.csv").to_csv(task / "test.csv.gz", index=False, compression="gzip")
    (task / "test.csv").unlink()
    # a tar of per-class folders next to a table-less training set
    with tarfile.open(task / "train_images.tar.gz", "w:gz") as tf:
        for i in range(4):
            data = (task / "description.md").read_bytes()
            info = tarfile.TarInfo(f"train/{'ab'[i % 2]}/{i}.png")
            info.size = len(data)
            tf.addfile(info, __import__("io").BytesIO(data))
    spec, tables = load_task_tables(task, {"target_columns": "y"})
    assert len(tables.train) == 60 and len(tables.test) == 10


def test_labels_from_folder_names_without_a_train_table(tmp_path: Path) -> None:
    (tmp_path / "description.md").write_text("Scored by accuracy.")
    for i in range(12):
        folder = tmp_path / "train" / ["oak", "elm", "ash"][i % 3]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i}.png").write_bytes(b"x")
    (tmp_path / "test").mkdir()
    for i in range(4):
        (tmp_path / "test" / f"t{i}.png").write_bytes(b"x")
    pd.DataFrame({"file": [f"t{i}.png" for i in range(4)], "species": "oak"}).to_csv(
        tmp_path / "sample_submission.csv", index=False
    )
    spec, tables = load_task_tables(tmp_path)
    assert spec.problem_type is ProblemType.MULTICLASS and set(spec.classes or ()) == {"oak", "elm", "ash"}
    assert len(tables.train) == 12 and spec.row_files and spec.row_files[0]["kind"] == "image"


def test_text_answers_are_unicode_arrays_and_baselines_are_valid(tmp_path: Path) -> None:
    texts = [" ".join(RNG.choice(["sun", "rain", "wind", "snow", "fog"], 8)) for _ in range(50)]
    train = pd.DataFrame(
        {"tid": range(50), "text": texts, "span": [t.split()[2] + " " + t.split()[3] for t in texts]}
    )
    test = train.drop(columns=["span"]).iloc[:8]
    spec, tables = load_task_tables(_task(tmp_path, train, test, test[["tid"]].assign(span="")))
    assert spec.problem_type is ProblemType.TEXT and spec.submission.value_kind == "text"
    y = encode_target(spec, tables.train)
    assert y.dtype.kind == "U" and y.shape == (50, 1)
    pred = baseline_predictions(spec, y, tables.test, tables.sample_submission)
    frame = to_submission_frame(spec, pred, tables.test, tables.sample_submission)
    check_submission(frame, spec, tables.sample_submission)
    assert spec.baseline == "copy:text" and frame["span"].iloc[0] == test["text"].iloc[0]


def test_one_hot_training_columns_are_one_multiclass_answer(tmp_path: Path) -> None:
    picks = np.arange(60) % 3
    train = (
        _tabular()
        .drop(columns=["y"])
        .assign(a=(picks == 0).astype(int), b=(picks == 1).astype(int), c=(picks == 2).astype(int))
    )
    sample = _tabular(10)[["id"]].assign(a=1 / 3, b=1 / 3, c=1 / 3)
    spec, tables = load_task_tables(
        _task(tmp_path, train, _tabular(10).drop(columns=["y"]), sample, "Scored by multi-class log loss.")
    )
    assert spec.problem_type is ProblemType.MULTICLASS and spec.submission.value_kind == "probability"
    assert list(encode_target(spec, tables.train)[:3]) == [0, 1, 2]


def test_refusals_say_what_was_expected_and_how_to_fix_it(tmp_path: Path) -> None:
    task = _task(tmp_path, _tabular(), _tabular(10).drop(columns=["y"]), None)
    with pytest.raises(TaskError, match=r"expected a sample submission .* found neither .*") as err:
        load_task(task)
    assert "task.yaml" in str(err.value)
    with pytest.raises(TaskError, match=r"expected the target column\(s\) nope in train.*task.yaml"):
        load_task(task, {"target_columns": "nope"})
