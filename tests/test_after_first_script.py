"""Work the first script does not need waits for it: the monitoring schema is written beside the
scripts, and a run's schema is the one its tables describe."""

from __future__ import annotations

import threading
from pathlib import Path

from mlestar.after_first_script import AfterFirstScript
from mlestar.app import start_run
from mlestar.journal import Journal, Stage
from mlestar.journal.events import AttemptStarted, SessionStarted, StageStarted
from mlestar.monitoring.schema import SCHEMA_FILE, DataSchema, infer_schema
from mlestar.task.load import load_task_tables
from tests.scripted_engineer import ScriptedEngineer
from tests.search_support import config, light_executor, regression_task


def test_the_work_begins_when_the_first_script_starts(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    ran_on: list[str] = []
    later = AfterFirstScript(journal, lambda: ran_on.append(threading.current_thread().name), "later")
    journal.record(SessionStarted(pid=1))
    journal.record(StageStarted(stage=Stage.SCREEN))
    assert not later.begun and ran_on == []
    journal.record(AttemptStarted(node="screen-0", timeout_s=5.0))
    journal.record(AttemptStarted(node="screen-1", timeout_s=5.0))  # a second start starts nothing more
    assert later.begun
    assert later.wait() is None
    assert ran_on == ["later"]  # once, in its own thread


def test_with_no_script_the_work_is_done_at_wait_and_its_failure_returned(tmp_path: Path) -> None:
    def fails() -> None:
        raise ValueError("unreadable column")

    later = AfterFirstScript(Journal(tmp_path), fails, "later")
    error = later.wait()
    assert isinstance(error, ValueError) and "unreadable column" in str(error)


def test_a_run_writes_the_schema_of_its_tables(tmp_path: Path) -> None:
    task = regression_task(tmp_path / "task")
    cfg = config(task, tmp_path / "run", max_nodes=1)
    start_run(cfg, engineer=ScriptedEngineer(), executor=light_executor())
    spec, tables = load_task_tables(task, {})
    written = DataSchema.load(cfg.run_dir / SCHEMA_FILE)
    assert written == infer_schema(spec, tables.train, tables.test)
    journal = Journal(cfg.run_dir)
    first_start = min(e["time"] for e in journal.events if e["name"] == AttemptStarted.name)
    assert (cfg.run_dir / SCHEMA_FILE).stat().st_mtime + 0.05 >= first_start  # written once a script ran
