"""The `mlestar` command: clear messages and exit status 2 for a user's mistakes, nothing half-written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlestar.cli import build_parser, main
from tests.task_factory import make_task


def test_inspect_json_has_the_documented_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    task = make_task(tmp_path, kind="multiclass_proba")
    assert main(["inspect", str(task), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in (
        "train",
        "test",
        "id_column",
        "target_columns",
        "problem_type",
        "metric",
        "lower_is_better",
        "label_column",
        "classes",
    ):
        assert key in data
    assert data["problem_type"] == "multiclass"
    assert data["target_columns"] == data["classes"] == ["EAP", "HPL", "MWS"]
    assert data["label_column"] == "author"


def test_inspect_flags_override_and_say_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    task = make_task(tmp_path, kind="binary_proba")
    assert main(["inspect", str(task), "--json", "--metric", "log_loss"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["metric"] == "log_loss" and data["sources"]["metric"] == "flag"


def test_bad_task_exits_2_without_a_traceback_or_a_run_folder(tmp_path: Path) -> None:
    task = make_task(tmp_path, kind="binary_labels")
    (task / "description.md").unlink()
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "mlestar", "run", str(task), "--out", str(out), "--budget", "1m", "--no-live"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "expected" in proc.stderr and "description" in proc.stderr
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if "staging" in p.name]


def test_bad_budget_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    task = make_task(tmp_path, kind="regression")
    assert main(["run", str(task), "--budget", "soon", "--out", str(tmp_path / "r")]) == 2
    assert "expected a duration" in capsys.readouterr().err


def test_resume_of_a_missing_run_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["resume", str(tmp_path / "nothing")]) == 2
    assert "expected a run folder" in capsys.readouterr().err


def test_status_of_a_missing_run_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", str(tmp_path)]) == 2
    assert "journal.jsonl" in capsys.readouterr().err


def test_help_lists_every_command() -> None:
    text = build_parser().format_help()
    for command in ("run", "resume", "inspect", "status", "track", "export"):
        assert command in text


def test_runs_use_plain_pages_unless_the_user_says_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """numpy's huge-page hint and Arrow's own allocator are off for the run and its scripts (they
    inherit this environment); a user's own setting of either stands."""
    import os

    monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "unset")  # recorded, so the test leaves none behind
    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE")
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")
    main(["resume", str(tmp_path / "no-such-run")])
    assert os.environ["NUMPY_MADVISE_HUGEPAGE"] == "0"
    assert os.environ["ARROW_DEFAULT_MEMORY_POOL"] == "jemalloc"
