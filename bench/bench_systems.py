"""Running one system on one task: a private copy of public/, a supervised subprocess, the grader.

Every system sees only a copy of the task's public/ folder made in a fresh scratch folder outside
the project, so no relative path from the run can reach the task's private answers.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlestar.errors import ConfigError

BASELINES = ("autogluon", "flaml")
SYSTEMS = ("mlestar", *BASELINES)


@dataclass(frozen=True)
class Task:
    name: str
    root: Path
    """tasks/<name>: public/, private/, grading.json."""
    grading: dict[str, Any]

    @property
    def public(self) -> Path:
        return self.root / "public"

    @property
    def metric(self) -> str:
        return str(self.grading["metric"])

    @property
    def lower_is_better(self) -> bool:
        return bool(self.grading["lower_is_better"])


@dataclass(frozen=True)
class Launch:
    """What happened to one system's process."""

    wall_s: float
    exit_code: int | None
    timed_out: bool
    log: Path


def load_tasks(bench_dir: Path, names: str) -> list[Task]:
    """The tasks under bench_dir/tasks: "all", or a comma-separated list of names."""
    tasks_dir = bench_dir / "tasks"
    found = (
        sorted(p.name for p in tasks_dir.iterdir() if (p / "grading.json").exists())
        if tasks_dir.is_dir()
        else []
    )
    if not found:
        raise ConfigError(f"expected task folders with grading.json under {tasks_dir}, found none")
    wanted = found if names.strip() == "all" else [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in found]
    if unknown or not wanted:
        raise ConfigError(f"expected tasks among {', '.join(found)} or 'all', found {names!r}")
    return [Task(n, tasks_dir / n, json.loads((tasks_dir / n / "grading.json").read_text())) for n in wanted]


def copy_public(task: Task, scratch: Path) -> Path:
    """A writable copy of task.public alone, in a new folder under scratch (outside the project)."""
    scratch.mkdir(parents=True, exist_ok=True)
    holder = Path(tempfile.mkdtemp(prefix=f"{task.name}-", dir=scratch))
    copy = holder / task.name
    shutil.copytree(task.public, copy, copy_function=shutil.copyfile)
    for folder, dirs, _ in os.walk(copy):  # copytree keeps the source's read-only folder modes
        for d in dirs:
            os.chmod(Path(folder) / d, 0o755)
    os.chmod(copy, 0o755)
    return copy


def discard_copy(copy: Path) -> None:
    shutil.rmtree(copy.parent, ignore_errors=True)


def launch(cmd: Sequence[str], log: Path, timeout_s: float, env: Mapping[str, str]) -> Launch:
    """Run cmd with its output in log; past timeout_s its whole process group is killed."""
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        out.write("$ " + " ".join(str(c) for c in cmd) + "\n")
        out.flush()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT, env=dict(env),
                                start_new_session=True)  # fmt: skip
        try:
            code: int | None = proc.wait(timeout=timeout_s)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code, timed_out = None, True
    return Launch(time.monotonic() - start, code, timed_out, log)


def mlestar_command(
    mlestar: Sequence[str], copy: Path, run_dir: Path, budget_s: float, seed: int, extra: Sequence[str] = ()
) -> list[str]:
    budget, out = f"{budget_s:g}", str(run_dir)
    return [*mlestar, "run", str(copy), "--out", out, "--budget", budget, "--seed", str(seed), *extra]


def baseline_command(python: Path, script: Path, copy: Path, out: Path, budget_s: float, seed: int,
                     metric: str, started: float) -> list[str]:  # fmt: skip
    return [str(python), str(script), str(copy), "--out", str(out), "--budget", f"{budget_s:g}",
            "--seed", str(seed), "--metric", metric, "--started", f"{started:.3f}"]  # fmt: skip


def grade(python: Path, grader: Path, task: Task, submission: Path) -> dict[str, Any]:
    """grade.py's JSON report; a grader that cannot run gives an invalid report saying why."""
    proc = subprocess.run([str(python), str(grader), str(task.root), str(submission), "--json"],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    lines = proc.stdout.strip().splitlines()
    try:
        return dict(json.loads(lines[-1]))
    except (IndexError, json.JSONDecodeError):
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"valid": False, "score": None, "medal": None, "above_median": False,
                "error": f"grader failed (exit {proc.returncode}): {tail[0]}"}  # fmt: skip


def run_error(result: Launch, budget_s: float) -> str | None:
    """One line on how the process ended badly, or None."""
    if result.timed_out:
        return f"killed after {result.wall_s:.0f} s (budget {budget_s:g} s); log {result.log}"
    if result.exit_code != 0:
        return f"exit status {result.exit_code}; log {result.log}"
    return None
