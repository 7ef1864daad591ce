"""Run the MLE-bench agent's start.sh on this machine, without Docker, and grade what it leaves.

    python agents/mlestar/dry_run.py TASK [--time-limit 600] [--step-limit N] [--llm builtin]
                                          [--bench-dir ../shared/bench] [--keep DIR]

TASK is a bench task's name (its public/ folder under BENCH_DIR/tasks/ is used) or any task folder.
It lays out the container's places under a scratch root (home/data read-only, home/instructions.txt,
home/submission, home/logs, home/code, home/agent), sets the variables MLE-bench's runner sets
(TIME_LIMIT_SECS, STEP_LIMIT, the folder variables), runs start.sh, then checks the submission at the
graded path: with the bench's grade.py when the task has one, else against the sample submission with
mlestar's own check. Exit status 0 when the submission is valid.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

AGENT = Path(__file__).resolve().parent
PROJECT = AGENT.parent.parent
INSTRUCTIONS = """\
A machine-learning task: the competition's description is /home/data/description.md and its public
files are in /home/data/. Write the submission to /home/submission/submission.csv.
"""


@dataclass(frozen=True)
class Places:
    """The container's fixed places, rooted in a scratch folder."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "home" / "data"

    @property
    def submission(self) -> Path:
        return self.root / "home" / "submission"

    @property
    def logs(self) -> Path:
        return self.root / "home" / "logs"

    @property
    def code(self) -> Path:
        return self.root / "home" / "code"

    @property
    def agent(self) -> Path:
        return self.root / "home" / "agent"

    @property
    def instructions(self) -> Path:
        return self.root / "home" / "instructions.txt"


def lay_out(task_public: Path, places: Places) -> None:
    """Copy the public files to home/data (read-only, as the runner mounts it) and the agent folder."""
    shutil.copytree(task_public, places.data, symlinks=False)
    for path in [places.data, *places.data.rglob("*")]:
        mode = path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
        path.chmod(mode)
    for folder in (places.submission, places.logs, places.code):
        folder.mkdir(parents=True)
    shutil.copytree(AGENT, places.agent, ignore=shutil.ignore_patterns("dist", "__pycache__"))
    places.instructions.write_text(INSTRUCTIONS)


def environment(places: Places, time_limit: int, step_limit: int | None, llm: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATA_DIR=str(places.data),
        SUBMISSION_DIR=str(places.submission),
        LOGS_DIR=str(places.logs),
        CODE_DIR=str(places.code),
        AGENT_DIR=str(places.agent),
        TIME_LIMIT_SECS=str(time_limit),
        MLESTAR_LLM=llm,
        MLESTAR_NO_CONDA="1",
        MLESTAR=str(Path(sys.executable).with_name("mlestar")),
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
        DVC_NO_ANALYTICS="1",
        RAY_USAGE_STATS_ENABLED="0",
    )
    if step_limit:
        env["STEP_LIMIT"] = str(step_limit)
    return env


def grade(task: Path, submission: Path, places: Places) -> dict[str, object]:
    """The bench's grade.py when the task folder has grading.json, else mlestar's own check."""
    grader = task.parent.parent / "grade.py"
    if (task / "grading.json").exists() and grader.exists():
        out = subprocess.run(
            [sys.executable, str(grader), str(task), str(submission), "--json"],
            capture_output=True,
            text=True,
            check=False,
        )
        return (
            json.loads(out.stdout) if out.returncode == 0 else {"valid": False, "error": out.stderr[-2000:]}
        )
    return own_check(submission, places)


def own_check(submission: Path, places: Places) -> dict[str, object]:
    import pandas as pd

    from mlestar.errors import UserError
    from mlestar.handover.submission import check_submission
    from mlestar.task.spec import TaskSpec

    spec = TaskSpec.load(places.logs / "task.json")
    sample = pd.read_csv(spec.sample_submission_path) if spec.sample_submission_path else None
    try:
        check_submission(pd.read_csv(submission), spec, sample)
    except UserError as e:
        return {"valid": False, "error": str(e)}
    return {"valid": True, "checked_by": "mlestar's submission check against the sample submission"}


def resolve_task(name: str, bench_dir: Path) -> tuple[Path, Path]:
    """(the folder holding grading.json or the task itself, its public folder)."""
    as_path = Path(name)
    if as_path.is_dir():
        public = as_path / "public" if (as_path / "public").is_dir() else as_path
        return (as_path if public != as_path else public), public
    task = bench_dir / "tasks" / name
    if not (task / "public").is_dir():
        raise SystemExit(
            f"expected a task folder or a bench task name under {bench_dir}/tasks, found {name!r}"
        )
    return task, task / "public"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("task")
    p.add_argument("--time-limit", type=int, default=600, help="TIME_LIMIT_SECS (default 600)")
    p.add_argument("--step-limit", type=int, help="STEP_LIMIT (scripts run at most)")
    p.add_argument("--llm", default="builtin", help="MLESTAR_LLM (default builtin)")
    p.add_argument("--bench-dir", type=Path, default=PROJECT.parent / "shared" / "bench")
    p.add_argument("--keep", type=Path, help="lay the places out here and keep them (default: a temp folder)")
    args = p.parse_args(argv)
    task, public = resolve_task(args.task, args.bench_dir)
    root = args.keep or Path(tempfile.mkdtemp(prefix="mlestar-agent-"))
    places = Places(root.resolve())
    lay_out(public, places)
    env = environment(places, args.time_limit, args.step_limit, args.llm)
    started = subprocess.run(["bash", str(places.agent / "start.sh")], env=env, check=False)
    submission = places.submission / "submission.csv"
    report: dict[str, object] = {"start_sh_exit": started.returncode, "places": str(places.root)}
    report.update(
        grade(task, submission, places) if submission.exists() else {"valid": False, "error": "no submission"}
    )
    report["logs"] = sorted(p.name for p in places.logs.iterdir())
    report["code"] = sorted(p.name for p in places.code.iterdir())
    print(json.dumps(report, indent=2))
    if args.keep is None:
        for path in places.data.rglob("*"):  # read-only copies must be writable again to be removed
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
        places.data.chmod(places.data.stat().st_mode | stat.S_IWUSR)
        shutil.rmtree(root, ignore_errors=True)
    return 0 if report.get("valid") else 1


if __name__ == "__main__":
    sys.exit(main())
