"""Task intake on small task folders built here: inference, overrides, bad input, inspect output."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlestar.errors import ConfigError, TaskError
from mlestar.task import ProblemType, load_task, load_task_tables, read_table
from mlestar.task.infer import match_classes
from mlestar.task.inspect_view import inspect_json, render_inspect
from mlestar.task.metric_phrases import find_metric, fit_to_problem
from tests.builders import write_file
from tests.task_factory import make_task


def _snapshot(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


# ---------------------------------------------------------------- inference per kind


def test_binary_labels(tmp_path: Path) -> None:
    spec = load_task(make_task(tmp_path, "binary_labels"))
    assert spec.id_column == "PassengerId"
    assert spec.target_columns == spec.train_target_columns == ("Transported",)
    assert spec.problem_type is ProblemType.BINARY
    assert spec.classes == ("False", "True")
    assert (spec.metric, spec.lower_is_better) == ("accuracy", False)
    assert spec.submission.value_kind == "label"
    assert spec.submission.columns == ("PassengerId", "Transported")
    assert spec.submission.dtypes == ("str", "bool")
    assert spec.submission.row_order == "test"
    assert spec.label_column is None and spec.extra_paths == ()
    assert spec.sources["metric"] == "inferred" and spec.sources["id_column"] == "inferred"


def test_binary_probabilities(tmp_path: Path) -> None:
    spec = load_task(make_task(tmp_path, "binary_proba"))
    assert spec.problem_type is ProblemType.BINARY
    assert spec.classes == ("0", "1")
    assert (spec.metric, spec.lower_is_better) == ("roc_auc", False)
    assert spec.submission.value_kind == "probability"
    assert spec.n_outputs == 1


def test_multiclass_with_one_probability_column_per_class(tmp_path: Path) -> None:
    spec, tables = load_task_tables(make_task(tmp_path, "multiclass_proba"))
    assert spec.target_columns == ("EAP", "HPL", "MWS")
    assert spec.train_target_columns == ("author",)
    assert spec.label_column == "author"
    assert spec.classes == ("EAP", "HPL", "MWS")
    assert spec.problem_type is ProblemType.MULTICLASS and spec.n_outputs == 3
    assert (spec.metric, spec.lower_is_better) == ("multiclass_logloss", True)
    assert spec.submission.value_kind == "probability"
    assert "text" in tables.train.columns and len(tables.test) == 12


def test_multiclass_with_one_label_column(tmp_path: Path) -> None:
    spec = load_task(make_task(tmp_path, "multiclass_labels"))
    assert spec.problem_type is ProblemType.MULTICLASS
    assert spec.target_columns == ("species",) and spec.label_column is None
    assert spec.classes == ("setosa", "versicolor", "virginica")
    assert spec.n_outputs == 3
    assert spec.submission.value_kind == "label"


def test_regression(tmp_path: Path) -> None:
    spec = load_task(make_task(tmp_path, "regression"))
    assert (
        spec.sample_submission_path is not None and spec.sample_submission_path.name == "sampleSubmission.csv"
    )
    assert spec.problem_type is ProblemType.REGRESSION
    assert spec.id_column == "Id" and spec.target_columns == ("SalePrice",)
    assert (spec.metric, spec.lower_is_better) == ("rmse", True)
    assert spec.submission.value_kind == "number" and spec.classes is None


def test_multi_target_regression_with_per_row_files(tmp_path: Path) -> None:
    spec = load_task(make_task(tmp_path, "multi_target"))
    assert spec.problem_type is ProblemType.MULTI_TARGET_REGRESSION
    assert spec.target_columns == ("formation", "bandgap") == spec.train_target_columns
    assert (spec.metric, spec.lower_is_better) == ("mean_rmsle", True)
    assert spec.extra_paths == ("test", "train")
    assert spec.n_outputs == 2
    text = render_inspect(spec)
    assert "train/ (40 entries)" in text and "test/ (12 entries)" in text


def test_multilabel(tmp_path: Path) -> None:
    spec = load_task(make_task(tmp_path, "multilabel"))
    assert spec.problem_type is ProblemType.MULTILABEL
    assert spec.metric == "mean_columnwise_roc_auc"
    assert spec.submission.value_kind == "probability" and spec.n_outputs == 3


def test_json_lines_tables(tmp_path: Path) -> None:
    spec, tables = load_task_tables(make_task(tmp_path, "jsonl"))
    assert spec.train_path.name == "train.jsonl" and spec.test_path.name == "test.jsonl"
    assert (spec.metric, spec.problem_type) == ("mae", ProblemType.REGRESSION)
    assert len(tables.train) == 40 and tables.train["Id"].dtype == "int64"


def test_zipped_tables(tmp_path: Path) -> None:
    spec, tables = load_task_tables(make_task(tmp_path, "zipped"))
    assert spec.train_path.name == "train.csv.zip" and spec.test_path.name == "test.zip"
    assert (
        spec.sample_submission_path is not None
        and spec.sample_submission_path.name == "sample_submission.csv.zip"
    )
    assert spec.problem_type is ProblemType.BINARY and spec.id_column == "PassengerId"
    assert tables.train.shape == (40, 5) and spec.extra_paths == ()


def test_a_zip_of_many_files_is_an_extra_not_a_table(tmp_path: Path) -> None:
    task = make_task(tmp_path, "binary_labels")
    with zipfile.ZipFile(task / "images.zip", "w") as zf:
        zf.writestr("a.png", b"\x89PNG")
        zf.writestr("b.png", b"\x89PNG")
    write_file(task / "train.csv.zip", ("train.csv", pd.read_csv(task / "train.csv")))
    spec = load_task(task)
    assert spec.train_path.name == "train.csv"  # the plain copy is preferred
    assert spec.extra_paths == ("images.zip",)  # the zipped copy of train is not an extra


def test_sample_order_differs_from_test(tmp_path: Path) -> None:
    task = make_task(tmp_path, "binary_proba")
    sample = pd.read_csv(task / "sample_submission.csv")
    sample.iloc[::-1].to_csv(task / "sample_submission.csv", index=False)
    assert load_task(task).submission.row_order == "sample"


def test_ids_with_leading_zeros_keep_their_spelling(tmp_path: Path) -> None:
    task = make_task(tmp_path, "binary_proba")
    for name in ("train.csv", "test.csv", "sample_submission.csv"):
        frame = pd.read_csv(task / name)
        frame["id"] = [f"{i:03d}" for i in frame["id"]]
        frame.to_csv(task / name, index=False)
    spec, tables = load_task_tables(task)
    assert tables.test["id"].iloc[0] == "041" and tables.sample_submission is not None
    assert tables.sample_submission["id"].iloc[0] == "041"
    assert read_table(task / "test.csv", id_column="id")["id"].iloc[0] == "041"
    assert read_table(task / "test.csv")["id"].iloc[0] == 41  # without the hint, pandas' own typing
    assert spec.submission.row_order == "test"


@pytest.mark.parametrize("member", [False, True], ids=["a file", "a zip member"])
def test_numeric_looking_ids_are_read_as_spelled_and_the_other_columns_as_numbers(
    tmp_path: Path, member: bool
) -> None:
    # Parsed as numbers first (fast), then that column alone read again as text; a latin-1 file
    # (Arrow's reader refuses it) is read again by pandas' own parser.
    text = "id,city,x\n007,K\xf6ln,1.5\n1.50,Z,2\n12,Y,3\n"
    path = tmp_path / "test.csv"
    path.write_bytes(text.encode("latin-1"))
    if member:
        with zipfile.ZipFile(tmp_path / "test.csv.zip", "w") as zf:
            zf.write(path, "test.csv")
        path.unlink()
        path = tmp_path / "test.csv.zip"
    frame = read_table(path, id_column="id")
    assert frame["id"].tolist() == ["007", "1.50", "12"] and frame["city"].iloc[0] == "K\xf6ln"
    assert frame["x"].dtype == np.float64


def test_metric_defaults_when_the_description_names_none(tmp_path: Path) -> None:
    task = make_task(tmp_path, "regression", description="# Houses\n\nPredict the price.\n")
    spec = load_task(task)
    assert spec.metric == "rmse" and spec.sources["metric"] == "default"
    assert spec.sources["lower_is_better"] == "default"
    assert any("names no known metric" in n for n in spec.notes)


def test_readme_is_a_description_fallback(tmp_path: Path) -> None:
    task = make_task(tmp_path, "binary_labels")
    (task / "description.md").rename(task / "README.md")
    assert load_task(task).metric == "accuracy"


def test_mle_bench_public_folder_is_named_after_its_competition(tmp_path: Path) -> None:
    task = make_task(tmp_path / "my-competition", "regression", name="public")
    assert load_task(task).name == "my-competition"


# ---------------------------------------------------------------- overrides


def test_task_yaml_overrides_and_sources(tmp_path: Path) -> None:
    yaml_over = {
        "metric": "mae",
        "group_column": "cat",
        "name": "houses",
        "submission": {"row_order": "sample"},
    }
    spec = load_task(make_task(tmp_path, "regression", task_yaml=yaml_over))
    assert (spec.metric, spec.lower_is_better) == ("mae", True)
    assert spec.group_column == "cat" and spec.name == "houses"
    assert spec.submission.row_order == "sample" and spec.submission.value_kind == "number"
    for key in ("metric", "lower_is_better", "group_column", "name", "submission"):
        assert spec.sources[key] == "task.yaml", key
    assert spec.sources["id_column"] == "inferred"
    assert "task.yaml" not in spec.extra_paths


def test_flags_win_over_task_yaml(tmp_path: Path) -> None:
    task = make_task(tmp_path, "binary_proba", task_yaml={"metric": "accuracy"})
    spec = load_task(task, {"metric": "log_loss", "lower_is_better": "false", "group_column": None})
    assert spec.metric == "log_loss" and spec.sources["metric"] == "flag"
    assert spec.lower_is_better is False and spec.sources["lower_is_better"] == "flag"
    assert spec.group_column is None


def test_overriding_the_files_and_targets(tmp_path: Path) -> None:
    task = make_task(tmp_path, "regression")
    (task / "train.csv").rename(task / "houses_2020.csv")
    (task / "sampleSubmission.csv").unlink()
    spec = load_task(task, {"train": "houses_2020.csv", "target_columns": "SalePrice", "id_column": "Id"})
    assert spec.train_path.name == "houses_2020.csv" and spec.sources["train_path"] == "flag"
    assert spec.sample_submission_path is None
    assert spec.target_columns == ("SalePrice",) and spec.problem_type is ProblemType.REGRESSION
    assert spec.submission.columns == ("Id", "SalePrice") and spec.submission.row_order == "test"
    assert any("no sample submission" in n for n in spec.notes)


def test_problem_type_override_turns_integers_into_classes(tmp_path: Path) -> None:
    task = make_task(tmp_path, "regression", description="# x\n\n## Evaluation\n\nThe metric is accuracy.\n")
    frame = pd.read_csv(task / "train.csv")
    frame["SalePrice"] = frame.index % 3
    frame.to_csv(task / "train.csv", index=False)
    spec = load_task(task)  # integer target + accuracy: one label column, three classes
    assert spec.problem_type is ProblemType.MULTICLASS and spec.classes == ("0", "1", "2")
    spec = load_task(task, {"problem_type": "regression", "metric": "rmse"})
    assert spec.problem_type is ProblemType.REGRESSION and spec.classes is None


@pytest.mark.parametrize(
    "over,message",
    [
        ({"bogus": 1}, "expected a task field .* found 'bogus'"),
        ({"metric": "nonsense"}, "expected a metric name"),
        ({"problem_type": "ranking"}, "expected problem_type one of binary"),
        ({"lower_is_better": "maybe"}, "expected true or false"),
        ({"submission": {"value_kind": "odds"}}, "expected submission value_kind"),
    ],
)
def test_bad_overrides_are_config_errors(tmp_path: Path, over: dict[str, object], message: str) -> None:
    task = make_task(tmp_path, "binary_labels")
    with pytest.raises(ConfigError, match=message):
        load_task(task, over)


def test_bad_task_yaml(tmp_path: Path) -> None:
    task = make_task(tmp_path, "binary_labels")
    (task / "task.yaml").write_text("metric: [unclosed\n")
    with pytest.raises(ConfigError, match="expected valid YAML"):
        load_task(task)
    (task / "task.yaml").write_text("- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_task(task)


# ---------------------------------------------------------------- bad input


def test_missing_description(tmp_path: Path) -> None:
    task = make_task(tmp_path, "binary_labels")
    (task / "description.md").unlink()
    with pytest.raises(TaskError, match=r"expected a task description \(description.md.*found .*train.csv"):
        load_task(task)


def test_empty_description(tmp_path: Path) -> None:
    task = make_task(tmp_path, "binary_labels", description="  \n")
    with pytest.raises(TaskError, match="expected a task description in description.md, found an empty file"):
        load_task(task)


def test_no_test_table_takes_the_sample_rows(tmp_path: Path) -> None:
    task = make_task(tmp_path, "binary_labels")
    (task / "test.csv").unlink()
    spec, tables = load_task_tables(task)
    sample = pd.read_csv(task / "sample_submission.csv")
    assert list(tables.test[spec.id_column]) == list(sample[spec.id_column])
    assert any("no test table" in n for n in spec.notes)


def test_no_test_table_and_no_sample(tmp_path: Path) -> None:
    task = make_task(tmp_path, "binary_labels")
    (task / "test.csv").unlink()
    (task / "sample_submission.csv").unlink()
    with pytest.raises(TaskError, match=r"expected a test table \(test.csv.*found description.md, train.csv"):
        load_task(task)


def test_no_sample_submission_and_no_target(tmp_path: Path) -> None:
    task = make_task(tmp_path, "binary_labels")
    (task / "sample_submission.csv").unlink()
    with pytest.raises(
        TaskError, match="expected a sample submission .* or the target columns given .* found neither"
    ):
        load_task(task)
    spec = load_task(task, {"target_columns": ["Transported"]})  # a flag is enough
    assert spec.id_column == "PassengerId" and spec.problem_type is ProblemType.BINARY


def test_target_not_found_in_train(tmp_path: Path) -> None:
    task = make_task(tmp_path, "binary_labels")
    with pytest.raises(
        TaskError, match="expected the target column.* Survived in train .*found columns PassengerId"
    ):
        load_task(task, {"target_columns": "Survived"})
    # a prediction column train lacks is answered by the one train-only column, and inspect says so
    sample = pd.read_csv(task / "sample_submission.csv").rename(columns={"Transported": "Answer"})
    sample.to_csv(task / "sample_submission.csv", index=False)
    spec = load_task(task)
    assert spec.target_columns == ("Answer",) and spec.train_target_columns == ("Transported",)
    assert any("Answer" in n and "Transported" in n for n in spec.notes)


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "expected a table with a header row in train.csv, found an empty file"),
        (b"PassengerId,num,Transported\n", "expected rows in train.csv, found only a header"),
        (
            b'a,b\n1,2\n3,4,5,6\n"unclosed\n',
            "expected a well-formed csv table in train.csv, found: ParserError",
        ),
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00",
            "expected a text table in train.csv, found binary data",
        ),
    ],
)
def test_empty_or_malformed_train(tmp_path: Path, content: bytes, message: str) -> None:
    task = make_task(tmp_path, "binary_labels")
    (task / "train.csv").write_bytes(content)
    with pytest.raises(TaskError, match=message):
        load_task(task)


def test_latin1_text_is_accepted_with_a_note(tmp_path: Path) -> None:
    task = make_task(tmp_path, "multiclass_proba")
    frame = pd.read_csv(task / "train.csv")
    frame.loc[0, "text"] = "café crème brûlée"
    (task / "train.csv").write_bytes(frame.to_csv(index=False).encode("latin-1"))
    spec, tables = load_task_tables(task)
    assert tables.train.loc[0, "text"] == "café crème brûlée"
    assert "train.csv is not UTF-8: read as latin-1" in spec.notes
    assert "note: train.csv is not UTF-8" in render_inspect(spec, tables)


def test_duplicate_ids_in_test(tmp_path: Path) -> None:
    task = make_task(tmp_path, "binary_proba")
    test = pd.read_csv(task / "test.csv")
    test.loc[3, "id"] = test.loc[2, "id"]
    test.to_csv(task / "test.csv", index=False)
    with pytest.raises(
        TaskError, match=r"expected unique ids in column 'id' of test.csv, found 1 repeated \(e.g. 43\)"
    ):
        load_task(task)


def test_ambiguous_training_tables(tmp_path: Path) -> None:
    task = make_task(tmp_path, "regression")
    (task / "train.csv").rename(task / "train_a.csv")
    parts = pd.read_csv(task / "train_a.csv")
    write_file(task / "train_b.csv", parts.assign(extra=1))  # both hold the answers, headers differ
    with pytest.raises(TaskError, match="expected one train table, found several: train_a.csv, train_b.csv"):
        load_task(task)
    assert load_task(task, {"train": "train_b.csv"}).train_path.name == "train_b.csv"


def test_training_table_in_parts_is_read_as_one(tmp_path: Path) -> None:
    task = make_task(tmp_path, "regression")
    whole = pd.read_csv(task / "train.csv")
    (task / "train.csv").unlink()
    write_file(task / "train_curated.csv", whole.iloc[:10])
    write_file(task / "train_noisy.csv", whole.iloc[10:])
    spec, tables = load_task_tables(task)
    assert len(tables.train) == len(whole)
    assert any("read as one table" in n for n in spec.notes)


def test_missing_group_column_and_given_file(tmp_path: Path) -> None:
    task = make_task(tmp_path, "binary_labels")
    with pytest.raises(TaskError, match="expected the group column 'family' in train"):
        load_task(task, {"group_column": "family"})
    with pytest.raises(TaskError, match="expected the train file 'nope.csv' named in flag"):
        load_task(task, {"train": "nope.csv"})


def test_intake_writes_nothing(tmp_path: Path) -> None:
    task = make_task(tmp_path, "multi_target", task_yaml={"metric": "rmse"})
    before = _snapshot(tmp_path)
    load_task(task)
    assert _snapshot(tmp_path) == before
    (task / "test.csv").unlink()
    (task / "sample_submission.csv").unlink()
    before = _snapshot(tmp_path)
    with pytest.raises(TaskError):
        load_task(task)
    assert _snapshot(tmp_path) == before


# ---------------------------------------------------------------- reading tables


@pytest.mark.parametrize("name", ["t.tsv", "t.parquet", "t.json", "t.jsonl", "t.csv.gz"])
def test_read_table_formats(tmp_path: Path, name: str) -> None:
    frame = pd.DataFrame({"id": ["a1", "b2"], "x": [1.5, 2.5]})
    path = tmp_path / name
    if name.endswith(".gz"):
        frame.to_csv(path, index=False, compression="gzip")
    else:
        write_file(path, frame)
    got = read_table(path)
    assert list(got.columns) == ["id", "x"] and got["x"].tolist() == [1.5, 2.5]
    assert got["id"].tolist() == ["a1", "b2"]


# ---------------------------------------------------------------- metric phrases


@pytest.mark.parametrize(
    "text,metric",
    [
        (
            "Submissions are evaluated on the column-wise [root mean squared logarithmic error](u).",
            "mean_rmsle",
        ),
        ("Submissions are evaluated using multi-class logarithmic loss.", "multiclass_logloss"),
        ("evaluated on area under the ROC curve between predicted probability and target", "roc_auc"),
        ("Submissions are scored on the quadratic weighted kappa", "qwk"),
        ("Submissions are evaluated according to the Mean Average Precision @ 3 (MAP@3)", "map_at_k"),
        ("evaluated with MAP@5", "map_at_5"),
        ("Scored on the Pearson correlation coefficient", "pearson"),
        ("We use the mean F1 score; the F1 score is", "f1"),
        ("evaluated on the macro F1 score", "f1_macro"),
        ("Root Mean Squared Error (RMSE) between the log of the prediction", "rmse"),
        ("evaluated on Mean Absolute Error", "mae"),
        ("The metric is the coefficient of determination $R^2$.", "r2"),
        ("scored by balanced accuracy", "balanced_accuracy"),
        ("Submissions are evaluated based on their classification accuracy", "accuracy"),
        ("evaluated on the log loss of your predictions", "log_loss"),
        ("Spearman's rank correlation between prediction and truth", "spearman"),
        ("Submissions are scored on the mean squared error.", "mse"),
        ("scored using MCRMSE, mean columnwise root mean squared error", "rmse"),
    ],
)
def test_metric_phrases(text: str, metric: str) -> None:
    found = find_metric(text)
    assert found is not None and found.metric == metric


def test_metric_phrase_prefers_the_evaluation_section() -> None:
    text = (
        "# Intro\n\nAccuracy of old methods was poor.\n\n## Evaluation\n\nSubmissions use AUC.\n\n## Data\n"
    )
    found = find_metric(text)
    assert found is not None and found.metric == "roc_auc"
    assert find_metric("# Nothing here\n\nJust data.") is None


@pytest.mark.parametrize(
    "columns,labels,want",
    [
        (["EAP", "HPL", "MWS"], ["HPL", "EAP", "MWS", "EAP"], ("EAP", "HPL", "MWS")),
        (["Class_1", "Class_2", "Class_3"], [3, 1, 2], ("1", "2", "3")),
        (["cat", "dog"], ["Dog", "CAT"], ("CAT", "Dog")),
        (["a", "b", "c"], ["a", "b"], ("a", "b", "c")),  # a class never seen in train keeps its column name
        (["a", "b"], ["a", "z"], None),
        (["price"], [1.0, 2.0], None),
    ],
)
def test_match_classes(columns: list[str], labels: list[object], want: tuple[str, ...] | None) -> None:
    assert match_classes(columns, pd.Series(labels)) == want


def test_binary_text_labels_put_the_positive_class_second(tmp_path: Path) -> None:
    task = make_task(tmp_path, "binary_labels")
    for name in ("train.csv", "sample_submission.csv"):
        frame = pd.read_csv(task / name)
        frame["Transported"] = frame["Transported"].map({True: "yes", False: "no"})
        frame.to_csv(task / name, index=False)
    spec = load_task(task)
    assert spec.classes == ("no", "yes") and spec.submission.value_kind == "label"


def test_metric_is_fitted_to_the_problem() -> None:
    assert fit_to_problem("log_loss", ProblemType.MULTICLASS) == "multiclass_logloss"
    assert fit_to_problem("rmsle", ProblemType.MULTI_TARGET_REGRESSION) == "mean_rmsle"
    assert fit_to_problem("roc_auc", ProblemType.MULTILABEL) == "mean_columnwise_roc_auc"
    assert fit_to_problem("accuracy", ProblemType.BINARY) == "accuracy"


# ---------------------------------------------------------------- inspect


def test_render_inspect_and_json(tmp_path: Path) -> None:
    spec, tables = load_task_tables(make_task(tmp_path, "multiclass_proba"))
    text = render_inspect(spec, tables)
    for fragment in (
        "train.csv  (40 rows x 3 columns)",
        "test.csv  (12 rows x 2 columns)",
        "label column   author",
        "classes        EAP, HPL, MWS",
        "multiclass (3 output column(s))",
        "multiclass_logloss (multi-class log loss)",
        "lower is better",
        "  values       probability",
        "[inferred]",
    ):
        assert fragment in text, fragment
    assert render_inspect(spec) == text  # reading the shapes again gives the same view
    data = json.loads(json.dumps(inspect_json(spec, tables)))
    for key in ("train", "test", "id_column", "target_columns", "problem_type", "metric", "lower_is_better",
                "label_column", "classes", "submission", "sources"):  # fmt: skip
        assert key in data, key
    assert data["target_columns"] == ["EAP", "HPL", "MWS"] and data["label_column"] == "author"
    assert data["shapes"]["train"] == [40, 3] and data["sources"]["metric"] == "inferred"


def test_spec_round_trips_through_json(tmp_path: Path) -> None:
    spec = load_task(make_task(tmp_path, "multi_target"))
    path = tmp_path / "task.json"
    spec.save(path)
    again = type(spec).load(path)
    assert again == spec and again.notes == spec.notes and again.sources == spec.sources


def test_the_id_note_counts_distinct_ids_missing_on_each_side() -> None:
    from mlestar.task.infer import id_mismatch_note

    test = pd.DataFrame({"id": [7.0, 8.0, 9.0, 9.0, 10.0]})
    assert id_mismatch_note(test, pd.DataFrame({"id": ["10", "9", "8", "7"]}), "id") is None
    note = id_mismatch_note(test, pd.DataFrame({"id": ["7", "8", "11"]}), "id")
    assert note is not None and "1 not in test, 2 test ids not in the sample" in note


def test_picture_names_and_pixel_ids_round_trip() -> None:
    import pyarrow as pa

    from mlestar.task.rows import _joined_ids, _picture_names

    a_1 = _joined_ids("a_1", np.array([1, 2]), np.array([3, 1]))
    b = _joined_ids("b", np.array([10]), np.array([258]))
    ids = pd.Series(pd.arrays.ArrowStringArray(pa.concat_arrays([a_1, b])))
    assert ids.tolist() == ["a_1_1_3", "a_1_2_1", "b_10_258"]
    assert _picture_names(ids) == {"a_1", "b"}
