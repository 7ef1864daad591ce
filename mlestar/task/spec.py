"""The inferred task: one frozen value that everything downstream reads."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any


class ProblemType(StrEnum):
    BINARY = "binary"
    MULTICLASS = "multiclass"
    REGRESSION = "regression"
    MULTI_TARGET_REGRESSION = "multi_target_regression"
    MULTILABEL = "multilabel"
    TEXT = "text"
    """Answers that are text: spans, run-length masks, prediction strings, sequences, free text.
    The contract stores them as numpy unicode arrays of shape (n, n_outputs)."""

    @property
    def is_classification(self) -> bool:
        return self in (ProblemType.BINARY, ProblemType.MULTICLASS, ProblemType.MULTILABEL)


@dataclass(frozen=True)
class SubmissionLayout:
    """How the submission file must look, read from the sample submission.

    value_kind says what goes in the prediction columns:
      "label"         one column of class labels (written as the classes are spelled)
      "probability"   probabilities: one column for binary, one per class for multi-class
      "number"        numeric predictions (regression)
      "distribution"  numbers per column that sum to one on each row
      "labels"        multi-label answers as the labels whose probability is >= 0.5, space-separated
      "ranked"        the top_k most probable classes, space-separated (MAP@k)
      "text"          text answers, written as predicted
    row_order is "sample" (the sample submission's id order) or "test" (the test file's order).
    key is "id" (rows keyed by the id column) or "position" (rows matched by order; the sample's
    copy_columns are copied from it as they are). aggregate "mean" averages the predictions of test
    rows sharing an id (several test rows per submission row).
    """

    columns: tuple[str, ...]
    value_kind: str
    row_order: str = "sample"
    dtypes: tuple[str, ...] = ()
    key: str = "id"
    copy_columns: tuple[str, ...] = ()
    top_k: int = 0
    aggregate: str = ""
    pairs: str = ""
    """One submission row per (test row, class), its key made by this rule ("{id}*100+{class}",
    "{id}_{class}"; mlestar.task.side_labels): each row's class probabilities spread over them."""


@dataclass(frozen=True)
class TaskSpec:
    """What the task asks for. Paths are absolute; every field can be overridden."""

    name: str
    task_dir: Path
    description: str
    train_path: Path
    test_path: Path
    sample_submission_path: Path | None
    id_column: str | None
    target_columns: tuple[str, ...]
    """The submission's prediction columns, in order."""
    train_target_columns: tuple[str, ...]
    """The columns of train that hold the answers (the label, or the regression targets)."""
    problem_type: ProblemType
    metric: str
    lower_is_better: bool
    submission: SubmissionLayout
    label_column: str | None = None
    """Set where the training label differs from the prediction columns (one column per class)."""
    classes: tuple[str, ...] | None = None
    """Class labels as strings, in the order of the prediction array's columns."""
    group_column: str | None = None
    extra_paths: tuple[str, ...] = ()
    """Other files and folders of the task (per-row files, images), relative to task_dir."""
    sources: dict[str, str] = field(default_factory=dict, compare=False)
    """Where each field came from: "inferred", "default", "task.yaml" or "flag"."""
    notes: tuple[str, ...] = field(default=(), compare=False)
    """What intake noticed and worked around (a Latin-1 file, sample ids that differ from test)."""
    inputs: str = "tabular"
    """What a row's inputs are: tabular, text, image, audio, signal, volume or files."""
    solver: str = "engineers"
    """"engineers" when the search can learn the answers, "baseline" when nothing there can."""
    baseline: str = "prior"
    """The documented answer when no engineer answers: prior, majority, mean, copy:<column>, empty,
    popular or sample (see docs/conformance.md)."""
    row_files: tuple[dict[str, Any], ...] = ()
    """Per-row files: {"train": template, "test": template, "kind", "archive"}; templates are paths
    relative to the task folder with "{id}" for the row's key."""
    train_only: tuple[str, ...] = ()
    """Columns of train that test lacks (answers and their proxies): never features."""
    id_is_feature: bool = False
    """The id carries information (a date-time): it keys the submission and stays a feature."""
    dropped_rows: int = 0
    """Training rows without an answer, dropped at intake."""
    joined: tuple[str, ...] = ()
    """Side tables joined into train and test on a key ("customers.csv on customer_id")."""
    label_separator: str = ""
    """For label lists in one train column ("a b", "a,b"): what joins the labels."""
    built_from: dict[str, str] = field(default_factory=dict, compare=False)
    """How a table was made when no file held it: {"train": "folders of train/", ...}."""

    @property
    def n_outputs(self) -> int:
        """Columns of the prediction arrays a solution script writes."""
        if self.problem_type is ProblemType.BINARY:
            return 1
        if self.problem_type is ProblemType.MULTICLASS:
            return len(self.classes or ())
        if self.problem_type is ProblemType.MULTILABEL and (self.label_column or self.label_separator):
            return len(self.classes or ())  # one 0/1 column per label, also for label lists in one column
        return len(self.target_columns)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("task_dir", "train_path", "test_path", "sample_submission_path"):
            data[key] = str(data[key]) if data[key] is not None else None
        data["problem_type"] = str(self.problem_type)
        data["train"] = data["train_path"]
        data["test"] = data["test_path"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TaskSpec:
        data = {k: v for k, v in data.items() if k not in ("train", "test")}
        sample = data.get("sample_submission_path")
        return cls(
            **{
                **data,
                "task_dir": Path(data["task_dir"]),
                "train_path": Path(data["train_path"]),
                "test_path": Path(data["test_path"]),
                "sample_submission_path": Path(sample) if sample else None,
                "target_columns": tuple(data["target_columns"]),
                "train_target_columns": tuple(data["train_target_columns"]),
                "problem_type": ProblemType(data["problem_type"]),
                "submission": SubmissionLayout(
                    **{
                        **data["submission"],
                        "columns": tuple(data["submission"]["columns"]),
                        "dtypes": tuple(data["submission"].get("dtypes", ())),
                        "copy_columns": tuple(data["submission"].get("copy_columns", ())),
                    }
                ),
                "classes": tuple(data["classes"]) if data.get("classes") is not None else None,
                "extra_paths": tuple(data.get("extra_paths", ())),
                "notes": tuple(data.get("notes", ())),
                "row_files": tuple(data.get("row_files", ())),
                "train_only": tuple(data.get("train_only", ())),
                "joined": tuple(data.get("joined", ())),
            }
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2))

    @classmethod
    def load(cls, path: Path) -> TaskSpec:
        return cls.from_json(json.loads(path.read_text()))
