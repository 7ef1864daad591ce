"""The one way tests build a task (its folder and its spec) and a journal node.

- `write_task(task_dir, files)`: a task folder as Kaggle hands it out, from {relative path: content};
- `build_spec(task_dir, ...)`: the TaskSpec intake would read from such a folder;
- `build_node(node_id, ...)`: a finished attempt.

Each takes the usual case by default and any other field by keyword, so a test names only what
it is about.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from mlestar.journal import Node, Stage, Status
from mlestar.metrics import get_metric
from mlestar.task.spec import ProblemType, SubmissionLayout, TaskSpec

# -- task folders -------------------------------------------------------------------------------


def write_task(task_dir: Path, files: Mapping[str, Any]) -> Path:
    """Write each file under task_dir (made if missing) and return task_dir. Contents as `write_file`."""
    task_dir.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        write_file(task_dir / rel, content)
    return task_dir


def write_file(path: Path, content: Any) -> None:
    """DataFrames by suffix (csv, tsv, jsonl, json, parquet), (member, frame) pairs as zips, text as is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, tuple):
        member, frame = content
        buf = io.BytesIO()
        write_file_to(buf, member, frame)
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr(member, buf.getvalue())
    elif isinstance(content, pd.DataFrame):
        with path.open("wb") as f:
            write_file_to(f, path.name, content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


def write_file_to(f: io.BufferedIOBase | Any, name: str, frame: pd.DataFrame) -> None:
    if name.endswith(".parquet"):
        frame.to_parquet(f, index=False)
    elif name.endswith(".jsonl"):
        f.write(frame.to_json(orient="records", lines=True).encode())
    elif name.endswith(".json"):
        f.write(frame.to_json(orient="records").encode())
    else:
        f.write(frame.to_csv(index=False, sep="\t" if name.endswith(".tsv") else ",").encode())


# -- task specs ---------------------------------------------------------------------------------

_METRIC = {
    ProblemType.BINARY: "roc_auc",
    ProblemType.MULTICLASS: "log_loss",
    ProblemType.REGRESSION: "rmse",
    ProblemType.MULTI_TARGET_REGRESSION: "rmse",
    ProblemType.MULTILABEL: "roc_auc",
}
_VALUE_KIND = {ProblemType.BINARY: "probability", ProblemType.MULTICLASS: "probability"}


def build_spec(
    task_dir: Path,
    problem: ProblemType | str = ProblemType.REGRESSION,
    *,
    targets: tuple[str, ...] = ("y",),
    id_column: str | None = "id",
    metric: str | None = None,
    sample: bool = False,
    value_kind: str | None = None,
    **fields: Any,
) -> TaskSpec:
    """The spec of train.csv and test.csv in task_dir (and sample_submission.csv when `sample`):
    one id column, the targets, scored by `metric` (default: the problem's usual one, its direction
    from the metric). Any other TaskSpec field, `submission` included, by keyword."""
    problem = ProblemType(problem)
    metric = metric or _METRIC[problem]
    columns = fields.pop("target_columns", targets)
    layout = SubmissionLayout(
        columns=(id_column or "id", *columns), value_kind=value_kind or _VALUE_KIND.get(problem, "number")
    )
    base: dict[str, Any] = {
        "name": f"tiny-{problem.value}",
        "description": "A tiny test task.",
        "train_path": task_dir / "train.csv",
        "test_path": task_dir / "test.csv",
        "sample_submission_path": task_dir / "sample_submission.csv" if sample else None,
        "id_column": id_column,
        "target_columns": columns,
        "train_target_columns": targets,
        "problem_type": problem,
        "metric": metric,
        "lower_is_better": get_metric(metric).lower_is_better,
        "submission": layout,
    }
    return TaskSpec(task_dir=task_dir, **{**base, **fields})


# -- journal nodes ------------------------------------------------------------------------------


def build_node(node_id: str = "draft-0", **fields: Any) -> Node:
    """A finished attempt: by default a draft with no script that scored 0.5 between t=0 and t=1.
    `stage` and `status` may be given as their names."""
    stage = Stage(fields.pop("stage", Stage.DRAFT))
    status = Status(fields.pop("status", Status.OK))
    base: dict[str, Any] = {
        "parent": None,
        "role": "draft",
        "plan": "p",
        "code_path": None,
        "score": 0.5,
        "started": 0.0,
        "ended": 1.0,
    }
    return Node(id=node_id, stage=stage, status=status, **{**base, **fields})
