"""Fault tolerance in the small: a torn journal line, a full disk at the CLI, and the fault suite's
own helpers (bench/faults.py runs the real faults; `make faults`)."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from bench.fault_kit import judge, make_task
from bench.faults import kill_points
from mlestar import cli
from mlestar.journal import Journal, drop_torn_tail


def test_a_torn_last_line_is_dropped_before_the_next_record(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.event("session_started", pid=1)
    with open(tmp_path / "journal.jsonl", "a") as f:
        f.write('{"kind": "event", "name": "torn by a ki')
    drop_torn_tail(tmp_path / "journal.jsonl")
    Journal(tmp_path).event("session_started", pid=2)
    lines = (tmp_path / "journal.jsonl").read_text().splitlines()
    assert [json.loads(line)["pid"] for line in lines] == [1, 2]


def test_a_whole_journal_is_left_as_it_is(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.event("session_started", pid=1)
    before = (tmp_path / "journal.jsonl").read_bytes()
    drop_torn_tail(tmp_path / "journal.jsonl")
    assert (tmp_path / "journal.jsonl").read_bytes() == before


def test_a_full_disk_ends_the_command_with_the_resume_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def full(args: object, environ: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setitem(cli._COMMANDS, "status", full)
    assert cli.main(["status", "anywhere"]) == 1
    err = capsys.readouterr().err
    assert "the disk is full" in err and "mlestar resume" in err and "Traceback" not in err


def test_kill_points_cover_every_slice_of_the_journal() -> None:
    points = kill_points(total=40, n=20, seed=3)
    assert len(points) == 20 and points == sorted(points)
    assert points[0] <= 3 and points[-1] >= 36 and all(1 <= p <= 39 for p in points)


def test_judge_counts_redone_attempts_and_torn_lines(tmp_path: Path) -> None:
    task = make_task(tmp_path / "task", n_train=20, n_test=5)
    run = tmp_path / "run"
    run.mkdir()
    (run / "submission.csv").write_text((task / "sample_submission.csv").read_text())
    node = {"kind": "node", "id": "draft-0", "parent": None}
    lines = [node, {"kind": "node", "id": "draft-1", "parent": "draft-0"}, node,
             {"kind": "event", "name": "run_finished"}]  # fmt: skip
    (run / "journal.jsonl").write_text("\n".join(json.dumps(r) for r in lines) + "\n{torn\n")
    verdict = judge(run, task, before={"draft-0"})
    assert verdict.valid and verdict.redone == 1 and not verdict.ok
    assert verdict.problems == ("1 unreadable journal line(s)",)
