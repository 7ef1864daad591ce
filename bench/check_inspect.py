"""Check task intake against the bench: run load_task on every TASKS/*/public and compare the id
column, target columns, metric and direction with the task's grading.json (which sits outside
public/ and is read by this script only).

    .venv/bin/python bench/check_inspect.py [TASKS_DIR]     (default: ../shared/bench/tasks)

Prints one row per task and exits 1 when any field differs or a task cannot be read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mlestar.errors import MlestarError  # noqa: E402
from mlestar.task import load_task  # noqa: E402

FIELDS = ("id_column", "target_columns", "metric", "lower_is_better")
GRADER_NAMES = {"mean_roc_auc": "mean_columnwise_roc_auc"}
"""The bench grader's metric names that mlestar's registry spells otherwise (the same metric)."""


def expected(task: Path) -> dict[str, Any]:
    grading = json.loads((task / "grading.json").read_text())
    return {
        "id_column": grading["id_column"],
        "target_columns": tuple(grading["target_columns"]),
        "metric": GRADER_NAMES.get(grading["metric"], grading["metric"]),
        "lower_is_better": bool(grading["lower_is_better"]),
    }


def check(task: Path) -> list[tuple[str, str, str, bool]]:
    """(field, expected, found, ok) for each compared field."""
    want = expected(task)
    try:
        spec = load_task(task / "public")
    except MlestarError as exc:
        return [("load_task", "a TaskSpec", f"{type(exc).__name__}: {exc}", False)]
    got = {name: getattr(spec, name) for name in FIELDS}
    return [(name, _show(want[name]), _show(got[name]), want[name] == got[name]) for name in FIELDS]


def _show(value: Any) -> str:
    return ",".join(value) if isinstance(value, tuple) else str(value)


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else REPO.parent / "shared" / "bench" / "tasks"
    tasks = sorted(p for p in root.iterdir() if (p / "public").is_dir() and (p / "grading.json").is_file())
    if not tasks:
        print(f"no tasks with public/ and grading.json under {root}")
        return 1
    failures = 0
    print(f"{'task':<42} {'field':<16} {'expected':<44} {'found':<44} ok")
    for task in tasks:
        for name, want, got, ok in check(task):
            failures += not ok
            print(f"{task.name:<42} {name:<16} {want:<44} {got:<44} {'yes' if ok else 'NO'}")
    print(f"\n{len(tasks)} task(s), {failures} mismatch(es)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
