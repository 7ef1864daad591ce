"""Tables over the memory cap (task.yaml `table_memory_mb`), and layouts read from their shape:
wide training answers for long test rows, a compound key in the sample, box strings whose class
is a number, answers made of several training rows.

Every test builds a tiny task of its own; nothing comes from a real competition.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlestar.errors import ConfigError
from mlestar.task import ProblemType, load_task, load_task_tables
from mlestar.task.large import read_chunks
from mlestar.task.profile import profile_task

RNG = np.random.default_rng(1)


def _folder(path: Path, tables: dict[str, pd.DataFrame], description: str, yaml: str = "") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "description.md").write_text(f"# task\n\n## Evaluation\n\n{description}\n")
    for name, frame in tables.items():
        frame.to_csv(path / name, index=False)
    if yaml:
        (path / "task.yaml").write_text(yaml)
    return path


def _big(n: int, labelled: bool) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "count": RNG.integers(0, 100, n),
            "x": RNG.normal(size=n).round(3),
            "word": RNG.choice(["alpha", "beta", "gamma"], n),
        }
    )
    return frame.assign(y=(frame["x"] > 0).astype(int)) if labelled else frame


def test_a_train_table_over_the_memory_cap_is_read_in_chunks_thinned_and_downcast(tmp_path: Path) -> None:
    n_train, n_test = 60_000, 30_000
    train, test = _big(n_train, True), _big(n_test, False)
    test["id"] += n_train
    folder = _folder(
        tmp_path / "task",
        {"train.csv": train, "test.csv": test, "sample_submission.csv": test[["id"]].assign(y=0)},
        "Scored by accuracy.",
        yaml="table_memory_mb: 1\n",
    )
    full_mb = train.memory_usage(deep=True, index=False).sum() / 2**20
    assert full_mb > 2  # the table as pandas is well over the 1 MB cap

    spec, tables = load_task_tables(folder)

    kept = tables.train
    assert len(kept) < n_train
    assert kept.memory_usage(deep=True, index=False).sum() / 2**20 <= 1.0
    step = int(kept["id"].iloc[1] - kept["id"].iloc[0])
    assert step > 1 and (np.diff(kept["id"].to_numpy()) == step).all()  # evenly spaced rows, first kept
    assert kept["count"].dtype.itemsize == 1  # 0..99 fits one byte
    assert "table_memory_mb=1" in spec.built_from["train"] and f"{n_train:,} rows" in spec.built_from["train"]
    assert len(tables.test) == n_test  # every test row is answered: test is never thinned
    assert spec.target_columns == ("y",) and spec.problem_type is ProblemType.BINARY
    profile = profile_task(spec, tables.train, tables.test, folder)  # from the kept rows
    assert profile["columns"]["count"]["kind"] == "numeric"


def test_a_table_within_the_cap_is_read_whole(tmp_path: Path) -> None:
    train, test = _big(8_000, True), _big(100, False)
    folder = _folder(tmp_path / "task", {"train.csv": train, "test.csv": test,
                                         "sample_submission.csv": test[["id"]].assign(y=0)}, "Accuracy.")  # fmt: skip
    spec, tables = load_task_tables(folder)
    assert len(tables.train) == 8_000 and "train" not in spec.built_from
    assert tables.train["count"].dtype == np.int64


def test_the_memory_cap_must_be_a_positive_number(tmp_path: Path) -> None:
    train, test = _big(50, True), _big(10, False)
    folder = _folder(tmp_path / "task", {"train.csv": train, "test.csv": test,
                                         "sample_submission.csv": test[["id"]].assign(y=0)},
                     "Accuracy.", yaml="table_memory_mb: lots\n")  # fmt: skip
    with pytest.raises(ConfigError, match="table_memory_mb"):
        load_task(folder)


def test_chunks_thin_by_doubling_the_step_and_keep_float_values_exact() -> None:
    chunks = (
        pd.DataFrame({"i": np.arange(s, s + 1000), "f": np.arange(s, s + 1000) / 3})
        for s in range(0, 20_000, 1000)
    )
    frame, how = read_chunks(chunks, cap_mb=0.05, thin=True)  # type: ignore[arg-type]
    assert how.rows_read == 20_000 and how.every in (2, 4, 8, 16, 32, 64)
    assert (frame["i"].to_numpy() % how.every == 0).all() and len(frame) == 20_000 // how.every
    assert frame["f"].dtype == np.float64  # thirds change in float32: kept as they are
    assert np.allclose(frame["f"] * 3, frame["i"])


def test_wide_training_answers_are_melted_to_the_long_test_rows(tmp_path: Path) -> None:
    parts = ["overall", "P1", "P2"]
    ids = [f"s{i}" for i in range(40)]
    wide = pd.DataFrame({"study": ids, **{p: RNG.integers(0, 2, 40) for p in parts}})
    test = pd.DataFrame([(s, p) for s in ("t1", "t2") for p in parts], columns=["study", "part"])
    test["row_id"] = test["study"] + "_" + test["part"]
    folder = _folder(tmp_path / "task", {"train.csv": wide, "test.csv": test,
                                         "sample_submission.csv": test[["row_id"]].assign(broken=0.5)},
                     "Scored by log loss.")  # fmt: skip
    spec, tables = load_task_tables(folder)
    assert spec.id_column == "row_id" and spec.train_target_columns == ("broken",)
    assert spec.solver == "engineers" and len(tables.train) == 40 * 3
    row = tables.train[tables.train["row_id"] == "s3_P2"]
    assert row["broken"].tolist() == [int(wide.loc[3, "P2"])]


def test_a_compound_key_in_the_sample_is_copied_not_predicted(tmp_path: Path) -> None:
    sample = pd.DataFrame(
        {"trip": ["a"] * 5 + ["b"] * 5, "stamp": list(range(1000, 1005)) * 2, "lat": 1.0, "lon": 2.0}
    )
    folder = _folder(tmp_path / "task", {"sample_submission.csv": sample}, "Scored by mean absolute error.")
    (folder / "logs").mkdir()
    for trip in ("c", "d", "e"):  # the same two file names in every trip's folder key nothing
        (folder / "logs" / trip).mkdir()
        for name in ("device_log.csv", "ground_truth.csv"):
            (folder / "logs" / trip / name).write_text("stamp,v\n1,2\n")
    spec = load_task(folder)
    assert spec.target_columns == ("lat", "lon")
    assert spec.submission.key == "position" and spec.submission.copy_columns == ("trip", "stamp")
    assert spec.solver == "baseline"


def test_box_strings_with_numeric_classes_are_scored_coco_style_and_words_voc_style(tmp_path: Path) -> None:
    words = "Scored by the mean average precision at IoU > 0.4 (PASCAL VOC)."
    train = pd.DataFrame({"image": ["a", "a", "b", "c"], "label": ["x", "y", "x", "z"],
                          "x_min": 1.0, "x_max": 2.0})  # fmt: skip
    for placeholder, metric in (("14 1 0 0 1 1", "box_map_coco"), ("none 1 0 0 1 1", "box_map_voc:iou=0.4")):
        sample = pd.DataFrame({"image": ["d", "e"], "PredictionString": placeholder})
        folder = _folder(tmp_path / metric, {"train.csv": train, "sample_submission.csv": sample}, words)
        spec = load_task(folder)
        assert spec.metric == metric and spec.problem_type is ProblemType.TEXT
        assert spec.train_target_columns == ()  # one box per training row: no column holds a whole answer
        assert spec.solver == "baseline"


def test_number_sequences_answered_by_the_popular_answer_masks_by_an_empty_one(tmp_path: Path) -> None:
    train = pd.DataFrame({"Id": [f"{i:05d}" for i in range(30)], "Sequence": ["3 1 2", "4 4", "3 1 2"] * 10})
    test = pd.DataFrame({"Id": [f"{i:05d}" for i in range(30, 40)]})
    cases = (("Scored by the edit distance divided by the number of true tokens.", "popular"),
             ("Scored by the mean Dice coefficient of the run-length encoded masks.", "empty"))  # fmt: skip
    for i, (words, base) in enumerate(cases):
        folder = _folder(tmp_path / str(i), {"train.csv": train, "test.csv": test,
                                             "sample_submission.csv": test.assign(Sequence="1 2 3")}, words)  # fmt: skip
        spec = load_task(folder)
        assert spec.problem_type is ProblemType.TEXT and spec.baseline == base, (words, spec.metric)


def test_without_training_answers_the_sample_answers_unless_it_spells_them_empty(tmp_path: Path) -> None:
    test = pd.DataFrame({"Id": ["a", "b"]})
    words = "Scored by the mean F0.5 of the run-length encoded masks."
    for placeholder, base in (("1 1 5 1", "sample"), ("-", "empty")):
        sample = test.assign(Predicted=placeholder)
        folder = _folder(tmp_path / base, {"test.csv": test, "sample_submission.csv": sample}, words)
        assert load_task(folder).baseline == base


def test_a_submission_row_per_part_of_a_test_row_takes_that_rows_prediction() -> None:
    from mlestar.handover.submission import baseline_predictions, check_submission, to_submission_frame
    from mlestar.task.spec import SubmissionLayout, TaskSpec

    test = pd.DataFrame({"qid": ["7", "8"], "question": ["why", "how"]})
    sample = pd.DataFrame({"qid": ["7_long", "7_short", "8_long", "8_short"], "Answer": ""})
    spec = TaskSpec(
        name="t", task_dir=Path("."), description="", train_path=Path("."), test_path=Path("."),
        sample_submission_path=None, id_column="qid", target_columns=("Answer",), train_target_columns=("Answer",),
        problem_type=ProblemType.TEXT, metric="word_jaccard", lower_is_better=False,
        submission=SubmissionLayout(columns=("qid", "Answer"), value_kind="text", row_order="sample"),
        baseline="sample",
    )  # fmt: skip
    y = np.asarray(
        [["a"], ["a"], ["b"]], dtype=np.str_
    )  # a popular training answer the sample baseline ignores
    frame = to_submission_frame(spec, baseline_predictions(spec, y, test, sample), test, sample)
    check_submission(frame, spec, sample)
    assert frame["qid"].tolist() == sample["qid"].tolist() and set(frame["Answer"]) == {""}
    frame = to_submission_frame(spec, np.asarray([["x"], ["y"]], dtype=np.str_), test, sample)
    assert frame["Answer"].tolist() == ["x", "x", "y", "y"]
