"""Task intake: find the files of a Kaggle-style task folder and infer what is asked."""

from mlestar.task.files import read_table
from mlestar.task.inspect_view import inspect_json, render_inspect
from mlestar.task.load import TaskTables, load_task, load_task_tables
from mlestar.task.spec import ProblemType, SubmissionLayout, TaskSpec

__all__ = [
    "ProblemType",
    "SubmissionLayout",
    "TaskSpec",
    "TaskTables",
    "inspect_json",
    "load_task",
    "load_task_tables",
    "read_table",
    "render_inspect",
]
