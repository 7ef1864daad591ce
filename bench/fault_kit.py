"""What the fault-injection suite (bench/faults.py) is built from: a tiny task, `mlestar` as a child
process, a kill at a chosen journal line, and the checks a run must pass after any fault.

Everything runs on loopback and in temporary folders; every process started here is ended here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
QUIET = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "DVC_NO_ANALYTICS": "1",
    "RAY_USAGE_STATS_ENABLED": "0",
}
RUN_ARGS = ("--budget", "40s", "--jobs", "2", "--folds", "3", "--no-live")


def make_task(folder: Path, n_train: int = 300, n_test: int = 100, seed: int = 0) -> Path:
    """A tiny regression task laid out as Kaggle hands one out (RMSE)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    x = rng.normal(size=(n_train + n_test, 3))
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame.insert(0, "id", np.arange(n_train + n_test))
    frame["y"] = x @ np.array([1.0, -2.0, 0.5]) + rng.normal(0, 0.1, n_train + n_test)
    frame.iloc[:n_train].to_csv(folder / "train.csv", index=False)
    frame.iloc[n_train:].drop(columns=["y"]).to_csv(folder / "test.csv", index=False)
    frame.iloc[n_train:][["id"]].assign(y=0.0).to_csv(folder / "sample_submission.csv", index=False)
    (folder / "description.md").write_text("# Tiny regression\n\nPredict y; scored by RMSE.\n")
    return folder


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env.update(QUIET, PYTHONPATH=str(ROOT), **extra)
    return env


def mlestar(*args: str) -> list[str]:
    return [sys.executable, "-m", "mlestar.cli", *args]


def start(command: Sequence[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(list(command), env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)


def finish(proc: subprocess.Popen[bytes], timeout_s: float = 600.0) -> int:
    try:
        return proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return -9


def journal_lines(run_dir: Path) -> int:
    try:
        return (run_dir / "journal.jsonl").read_bytes().count(b"\n")
    except OSError:
        return 0


def wait_for_line(proc: subprocess.Popen[bytes], run_dir: Path, line: int, timeout_s: float = 300.0) -> bool:
    """Wait until the journal has `line` lines; False if the run ended first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if journal_lines(run_dir) >= line:
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    return False


def wait_for_final_fit(proc: subprocess.Popen[bytes], run_dir: Path, timeout_s: float = 300.0) -> bool:
    """Wait until the hand-over's first final fit is journaled; False if the run ended first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        if any(r.get("kind") == "node" and r.get("stage") == "final" for r in records(run_dir)):
            return True
        time.sleep(0.05)
    return False


def kill_hard(proc: subprocess.Popen[bytes]) -> None:
    """kill -9 of the mlestar process (its fork server and scripts must clean up after it)."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def last_stage(run_dir: Path) -> str:
    stage = "setup"
    for record in records(run_dir):
        if record.get("name") == "stage_started":
            stage = record["stage"]
        elif record.get("name") == "final":
            stage = "submit"
    return stage


def records(run_dir: Path) -> list[dict]:
    out = []
    path = run_dir / "journal.jsonl"
    if not path.exists():
        return out
    for line in path.read_text(errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            out.append({"kind": "torn"})
    return out


def finished_ids(run_dir: Path) -> set[str]:
    return {r["id"] for r in records(run_dir) if r.get("kind") == "node"}


@dataclass(frozen=True)
class Verdict:
    valid: bool
    redone: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.valid and self.redone == 0 and not self.problems


def judge(run_dir: Path, task: Path, before: set[str] = frozenset()) -> Verdict:  # type: ignore[assignment]
    """A valid submission, no attempt journaled twice (redone), and a consistent journal."""
    problems: list[str] = []
    all_records = records(run_dir)
    torn = sum(1 for r in all_records if r.get("kind") == "torn")
    if torn:
        problems.append(f"{torn} unreadable journal line(s)")
    nodes = [r for r in all_records if r.get("kind") == "node"]
    counts = Counter(r["id"] for r in nodes)
    redone = sum(1 for node_id, n in counts.items() if n > 1 and node_id in before)
    problems += [f"{i} journaled {n} times" for i, n in counts.items() if n > 1 and i not in before]
    ids = set(counts)
    problems += [
        f"{r['id']}: parent {r['parent']} unknown"
        for r in nodes
        if r.get("parent") and r["parent"] not in ids
    ]
    finished = [r for r in all_records if r.get("name") == "run_finished"]
    if len(finished) != 1:
        problems.append(f"{len(finished)} run_finished events")
    return Verdict(_submission_valid(run_dir, task, problems), redone, tuple(problems))


def _submission_valid(run_dir: Path, task: Path, problems: list[str]) -> bool:
    try:
        sub = pd.read_csv(run_dir / "submission.csv")
        sample = pd.read_csv(task / "sample_submission.csv")
    except (OSError, ValueError) as exc:
        problems.append(f"no readable submission: {exc}")
        return False
    same = list(sub.columns) == list(sample.columns) and sub["id"].tolist() == sample["id"].tolist()
    finite = bool(np.isfinite(sub[sample.columns[1]].to_numpy(float)).all())
    if not (same and finite):
        problems.append("submission does not match the sample")
    return same and finite


def leftover_processes(marker: str) -> list[int]:
    """Processes still running whose command line or working folder mentions `marker`, and fork
    servers of this checkout whose mlestar is gone (orphans)."""
    import psutil

    server = str(ROOT / "mlestar" / "execution" / "forkserver.py")
    found = []
    for proc in psutil.process_iter(["cmdline", "cwd", "ppid"]):
        try:
            command = " ".join(proc.info["cmdline"] or [])
            text = command + " " + (proc.info["cwd"] or "")
        except (psutil.Error, TypeError):
            continue
        orphan = server in command and proc.info["ppid"] == 1
        if (marker in text or orphan) and proc.pid != os.getpid():
            found.append(proc.pid)
    return found
