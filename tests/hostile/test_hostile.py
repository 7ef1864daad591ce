"""Hostile scripts served by a scripted model: every one is contained, journaled as a failed attempt
with a clear reason, and the run still ends with a valid submission.

Two runs of the real product path (LLM engineer on tests/llm_server.py, --sandbox auto, the local
executor with its fork server), each in a process of its own that holds fake provider keys in its
environment and a fake home folder full of keys: one run drafts an honest solution beside eight
hostile ones; the other drafts an honest one and an endless loop.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psutil
import pytest

from mlestar.journal import Journal, Node
from tests.hostile import scripts
from tests.llm_server import Canned, LLMServer, Seen, chat_reply
from tests.llm_support import fenced, role_of
from tests.search_support import regression_task
from tests.test_sandbox import AVAILABLE, Listener

ROOT = Path(__file__).resolve().parents[2]
FAKE_KEYS = ("sk-hostile-FAKE-openai-0123456789", "sk-ant-hostile-FAKE-0123456789", "sk-home-FAKE-netrc-0123")
pytestmark = [
    pytest.mark.skipif(not AVAILABLE, reason="no sandbox level on this machine"),
    pytest.mark.slow,  # two whole runs (about 90 s); `make test-slow` runs them, tests/test_sandbox.py covers each cap fast
]


class Drafts:
    """Answers the scripted model's draft requests with the scripts in turn (the candidates are the
    built-in model cards); any other role gets an error, and the run's fallback engineer answers it."""

    def __init__(self, scripts_in_turn: list[str]) -> None:
        self.queue = list(scripts_in_turn)
        self.lock = threading.Lock()

    def __call__(self, seen: Seen) -> Canned:
        role = role_of(seen.body["messages"])
        if role == "draft":
            with self.lock:
                script = self.queue.pop(0) if self.queue else scripts.good()
            return chat_reply(fenced(script))
        return Canned(400, {"error": {"message": f"hostile suite: nothing scripted for {role}"}})


@dataclass
class HostileRun:
    run_dir: Path
    task: Path
    journal: Journal
    stdout: str
    precious: Path
    listener: Listener
    digests: dict[str, str]

    def node(self, name: str) -> Node:
        """The draft that ran the script of this name (found by its title line)."""
        return _node(self.run_dir, self.journal, name)


def _node(run_dir: Path, journal: Journal, name: str) -> Node:
    title = getattr(scripts, name)  # each script's first line is its own title
    first = title(*_SAMPLE_ARGS.get(name, ())).splitlines()[0]
    # a repeat of a script that already ran is journaled without a result of its own: not counted
    found = [
        n for n in journal.nodes.values()
        if n.stage == "draft" and n.code_path and n.result is not None
        and (run_dir / n.code_path).read_text().splitlines()[0] == first
    ]  # fmt: skip
    assert len(found) == 1, (name, [(n.id, n.status) for n in journal.nodes.values()])
    return found[0]


_SAMPLE_ARGS: dict[str, tuple[object, ...]] = {"vandal": ("x",), "snoop": ("x",), "caller": (1,)}


def _digests(*folders: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in folders
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _environment(server: LLMServer, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env.update(
        OPENAI_API_KEY=FAKE_KEYS[0],
        ANTHROPIC_API_KEY=FAKE_KEYS[1],
        OPENAI_BASE_URL=server.base_url,
        HOME=str(home),
        PYTHONPATH=str(ROOT),
        MLFLOW_DISABLE_TELEMETRY="true",
        RAY_USAGE_STATS_ENABLED="0",
    )
    return env


def _drive(root: Path, name: str, drafts: list[str], budget_s: float, home: Path) -> tuple[Path, str]:
    task = root / "task"
    run_dir = root / name
    settings = {
        "task": str(task), "run": str(run_dir), "budget_s": budget_s, "max_nodes": len(drafts),
        "candidates": len(drafts), "memory_mb": 600, "disk_mb": 50, "max_processes": 12,
    }  # fmt: skip
    with LLMServer(Drafts(drafts)) as server:
        done = subprocess.run(
            [sys.executable, "-m", "tests.hostile.driver", json.dumps(settings)],
            cwd=ROOT, env=_environment(server, home), capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return run_dir, done.stdout + done.stderr


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileRun]:
    root = tmp_path_factory.mktemp("hostile")
    task = regression_task(root / "task")
    home = root / "home"
    (home / ".config").mkdir(parents=True)
    (home / ".netrc").write_text(f"machine api.example.com password {FAKE_KEYS[2]}\n")
    (home / ".config" / "key").write_text(FAKE_KEYS[0])
    precious = root / "precious.txt"
    precious.write_text("the user's own file\n")
    listener = Listener()
    drafts = [
        scripts.good(),
        scripts.vandal(str(precious)),
        scripts.snoop(str(home)),
        scripts.caller(listener.port),
        scripts.hog(),
        scripts.bomb(),
        scripts.filler(),
    ]
    before = _digests(task)
    try:
        run_dir, out = _drive(root, "run", drafts, 300.0, home)
    finally:
        listener.close()
    yield HostileRun(run_dir, task, Journal(run_dir), out, precious, listener, before)


def _valid(run_dir: Path, task: Path) -> None:
    journal = Journal(run_dir)
    finished = [e for e in journal.events if e["name"] == "run_finished"]
    assert finished and finished[0]["status"] == "ok", finished
    sub, sample = pd.read_csv(run_dir / "submission.csv"), pd.read_csv(task / "sample_submission.csv")
    assert list(sub.columns) == list(sample.columns) and sub["id"].tolist() == sample["id"].tolist()


def test_the_run_ends_valid_with_the_honest_solution(hostile: HostileRun) -> None:
    _valid(hostile.run_dir, hostile.task)
    assert hostile.node("good").ok
    chosen = [e for e in hostile.journal.events if e["name"] == "sandbox"]
    assert chosen and chosen[0]["level"] == AVAILABLE[0]


def test_every_hostile_draft_ran_as_written_and_failed(hostile: HostileRun) -> None:
    for name in ("vandal", "snoop", "caller", "hog", "bomb", "filler"):
        node = hostile.node(name)
        assert node.result is not None, f"{name} never ran: {node.error}"
        assert "# %% block: attack" in (hostile.run_dir / str(node.code_path)).read_text()
        assert node.status in ("failed", "timeout", "invalid"), (name, node.status)
        assert node.error, name


def test_data_journal_task_and_outside_files_are_untouched(hostile: HostileRun) -> None:
    node = hostile.node("vandal")
    assert "PermissionError" in (node.error or "") and "Read-only file system" in (node.error or "")
    assert "DONE" not in (node.result or {}).get("stdout_tail", "")
    assert _digests(hostile.task) == hostile.digests
    assert hostile.precious.read_text() == "the user's own file\n"
    assert (hostile.run_dir / "data" / "train.parquet").is_file()
    lines = (hostile.run_dir / "journal.jsonl").read_text().splitlines()
    assert all(json.loads(line) for line in lines)  # nothing foreign was appended


def test_no_key_is_found_anywhere(hostile: HostileRun) -> None:
    node = hostile.node("snoop")
    assert "no key found" in (node.error or ""), node.error
    for path in hostile.run_dir.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            for key in FAKE_KEYS:
                assert key.encode() not in data, (key, path)


def test_the_listener_outside_saw_no_connection(hostile: HostileRun) -> None:
    node = hostile.node("caller")
    assert hostile.listener.accepted == 0
    assert "Network is unreachable" in (node.error or "") or "Permission denied" in (node.error or "")


def test_the_memory_bomb_is_stopped(hostile: HostileRun) -> None:
    node = hostile.node("hog")
    assert node.result is not None and node.result["exception"] in ("MemoryLimitExceeded", "MemoryError")


def test_the_fork_bomb_is_stopped_at_the_process_limit(hostile: HostileRun) -> None:
    node = hostile.node("bomb")
    assert node.result is not None and node.result["exception"] == "ProcessLimitExceeded", node.error
    assert node.result["duration_s"] < 30


def test_the_ten_gigabyte_write_stops_at_the_file_size_limit(hostile: HostileRun) -> None:
    node = hostile.node("filler")
    assert "File too large" in (node.error or ""), node.error
    cache = hostile.run_dir / "attempts" / node.id / "cache.bin"
    assert cache.stat().st_size <= 50 << 20


@pytest.fixture(scope="module")
def second(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A run with a daemon and, last, an endless loop (whose time limit is what the budget leaves)."""
    root = tmp_path_factory.mktemp("hostile-loop")
    task = regression_task(root / "task")
    (root / "home").mkdir()
    run_dir, _ = _drive(
        root, "run", [scripts.good(), scripts.daemon(), scripts.endless()], 30.0, root / "home"
    )
    return run_dir, task


def test_the_daemon_is_gone_and_wrote_nothing_outside(second: tuple[Path, Path]) -> None:
    run_dir, _ = second
    node = _node(run_dir, Journal(run_dir), "daemon")
    assert node.status == "invalid" and "the helper runs on" in (node.result or {}).get("stdout_tail", "")
    beat = run_dir / "attempts" / node.id / "heartbeat.txt"
    size = beat.stat().st_size
    time.sleep(0.5)  # alive, it would write ten more times
    assert size > 0 and beat.stat().st_size == size
    assert "daemon was here" not in (run_dir / "journal.jsonl").read_text()
    mine = [
        p
        for p in psutil.process_iter(["cmdline"])
        if "tests.hostile.driver" in " ".join(p.info["cmdline"] or [])
    ]
    assert not mine


def test_an_endless_loop_times_out_and_the_run_still_submits(second: tuple[Path, Path]) -> None:
    run_dir, task = second
    loop = _node(run_dir, Journal(run_dir), "endless")
    assert loop.status == "timeout" and "timed out" in (loop.error or "")
    _valid(run_dir, task)
