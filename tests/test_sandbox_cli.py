"""The sandbox at the edges: the --sandbox flag, `mlestar inspect`, the journal, and the Ray executor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlestar import app
from mlestar.cli import main
from mlestar.execution import sandbox
from mlestar.execution.sandbox import LEVELS, Probe, Sandbox
from mlestar.journal import Journal
from mlestar.search.progress import Progress
from tests.executor_support import run
from tests.search_support import config, regression_task
from tests.task_factory import make_task
from tests.test_sandbox import AVAILABLE

LANDLOCK_ONLY = (
    Probe("namespaces", {"error": "unshare: Operation not permitted"}),
    Probe(
        "landlock", {"writes_inside": True, "writes_outside": False, "reads_hidden": False, "network": False}
    ),
    Probe("limits", {"writes_inside": True}),
    Probe("off", {"writes_inside": True}),
)


def test_inspect_shows_the_level_scripts_would_get(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task = make_task(tmp_path, kind="regression")
    assert main(["inspect", str(task)]) == 0
    text = capsys.readouterr().out
    assert f"sandbox: {AVAILABLE[0]} (" in text
    assert main(["inspect", str(task), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["sandbox"]["level"] == AVAILABLE[0] and data["sandbox"]["mode"] == "auto"


def test_strict_on_a_machine_without_namespaces_refuses_before_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sandbox, "probe_machine", lambda python=None: LANDLOCK_ONLY)
    task = make_task(tmp_path, kind="regression")
    out = tmp_path / "run"
    assert main(["run", str(task), "--out", str(out), "--sandbox", "strict", "--no-live"]) == 2
    err = capsys.readouterr().err
    assert "expected --sandbox strict" in err and "Operation not permitted" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("flags", [["--disk-mb", "0"], ["--max-processes", "1"]])
def test_bad_caps_are_clear_errors(
    tmp_path: Path, flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    task = make_task(tmp_path, kind="regression")
    assert main(["run", str(task), "--out", str(tmp_path / "r"), *flags]) == 2
    assert "expected --disk-mb >= 1 and --max-processes >= 2" in capsys.readouterr().err


def test_an_unknown_sandbox_mode_is_refused_by_the_parser(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", str(tmp_path), "--sandbox", "loose"])
    assert info.value.code == 2 and "invalid choice: 'loose'" in capsys.readouterr().err


def test_each_session_journals_its_level_and_warns_when_weaker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sandbox, "probe_machine", lambda python=None: LANDLOCK_ONLY)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    journal = Journal(run_dir)
    progress = Progress("t", 60.0, live=False)
    app._journal_sandbox(config(regression_task(tmp_path / "task"), run_dir), journal, progress)
    progress.close()
    event = [e for e in Journal(run_dir).events if e["name"] == "sandbox"][0]
    assert event["level"] == "landlock" and event["mode"] == "auto"
    assert "user namespaces are not available" in event["warning"]
    said = capsys.readouterr()
    assert "user namespaces are not available" in said.out + said.err


@pytest.mark.skipif("namespaces" not in AVAILABLE, reason="no user namespaces here")
def test_the_ray_executor_confines_its_scripts_too(tmp_path: Path) -> None:
    from mlestar.execution.ray_executor import RayExecutor

    outside = tmp_path / "outside.txt"
    outside.write_text("kept")
    code = f"""
    import os
    try:
        open({str(outside)!r}, "w").write("overwritten")
    except OSError as exc:
        print("refused", exc.strerror)
    print("pid", os.getpid())
    """
    with RayExecutor(num_cpus=1, sandbox=Sandbox.for_level(LEVELS[0])) as ex:
        result = run(ex, tmp_path / "w", code, timeout_s=60)
    assert result.ok, result.stderr_tail
    assert "refused Read-only file system" in result.stdout_tail and "pid 1" in result.stdout_tail
    assert outside.read_text() == "kept"


@pytest.mark.parametrize(
    ("uri", "kept"),
    [
        ("http://alice:s3cr%40t@mlflow.example.com:5000/path", "http://mlflow.example.com:5000/path"),
        ("https://bob:pw@[::1]/", "https://[::1]/"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("sqlite:///tmp/x.db", "sqlite:///tmp/x.db"),
    ],
)
def test_a_tracking_password_never_reaches_the_config(
    uri: str, kept: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlestar.cli import build_parser, config_from_args
    from mlestar.config import config_to_json

    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    task = make_task(tmp_path, kind="regression")
    args = build_parser().parse_args(["run", str(task), "--tracking-uri", uri])
    config = config_from_args(args, {})
    assert config.tracking_uri == kept
    assert "s3cr" not in json.dumps(config_to_json(config)) and ":pw@" not in json.dumps(
        config_to_json(config)
    )
    if "alice" in uri:
        import os

        assert (os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"]) == (
            "alice",
            "s3cr@t",
        )
