"""The CLI imports the run's stack with the garbage collector paused, and leaves it as it found it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from mlestar import cli


@pytest.fixture
def collector() -> Iterator[None]:
    was = gc.isenabled()
    yield
    gc.unfreeze()  # the rest of the test session collects as usual
    if was:
        gc.enable()
    else:
        gc.disable()


@pytest.mark.parametrize("enabled", [True, False])
def test_importing_the_app_keeps_the_collector_state_and_freezes_the_imports(
    collector: None, enabled: bool
) -> None:
    gc.enable() if enabled else gc.disable()
    gc.unfreeze()
    app = cli._import_app()
    assert callable(app.start_run) and callable(app.resume_run)
    assert gc.isenabled() is enabled
    assert gc.get_freeze_count() > 0


def test_a_run_into_a_used_folder_is_refused_before_any_process_starts(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlestar.execution import factory

    started: list[object] = []
    monkeypatch.setattr(factory, "start_executor", lambda config: started.append(config))
    task, out = tmp_path / "task", tmp_path / "run"
    task.mkdir()
    (task / "description.md").write_text("A task.")
    out.mkdir()
    (out / "journal.jsonl").write_text("")
    assert cli.main(["run", str(task), "--out", str(out)]) != 0
    assert "holds a run: continue it with `mlestar resume" in capsys.readouterr().err
    assert started == []
