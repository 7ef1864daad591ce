"""Starting, resuming and driving a run: the glue between the CLI and the search.

A new run folder is laid out by lay_out.py (renamed into place only when complete); a run is driven
from its folder, so a new run and a resumed one take the same path.
"""

from __future__ import annotations

import fcntl
import importlib
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from mlestar.after_first_script import AfterFirstScript
from mlestar.checks.leakage import column_leaks
from mlestar.config import RunConfig, config_from_json
from mlestar.engineers.base import Engineer, TaskContext
from mlestar.errors import ConfigError, RunFolderError
from mlestar.execution.base import Executor
from mlestar.execution.factory import start_executor, started
from mlestar.execution.sandbox import resolve as resolve_sandbox
from mlestar.handover.final import Finisher, Outcome
from mlestar.hardware import Hardware, resolve_device
from mlestar.journal import Journal, drop_torn_tail
from mlestar.journal.events import (
    HardwareSeen,
    ReportWritten,
    RunFinished,
    RunStarted,
    SandboxChosen,
    SessionStarted,
)
from mlestar.lay_out import read_and_lay_out
from mlestar.metrics import get_metric, stand_in
from mlestar.monitoring.schema import SCHEMA_FILE, load_schema
from mlestar.run_layout import RunLayout
from mlestar.search.budget import Budget
from mlestar.search.harness import Harness
from mlestar.search.progress import Progress
from mlestar.search.stages import Search
from mlestar.task.spec import TaskSpec


def start_run(
    config: RunConfig,
    llm: Any = None,
    engineer: Engineer | None = None,
    hardware: Hardware | None = None,
    *,
    executor: Executor | None = None,
) -> Outcome:
    """Read the task, lay out a new run folder, then drive the search to a submission.

    `llm` is the LLMSettings built at the CLI edge; `engineer` replaces the configured one (tests);
    `hardware` is what the CLI detected (None: this machine's cores, no GPU); `executor` runs the
    scripts instead of the one the config names, and the run owns it (see `drive`).
    """
    began = time.time()  # the budget covers reading and preparing the task too
    try:
        # `--sandbox strict` on a machine that cannot, `--device cuda` without a GPU: refused before any folder.
        resolve_sandbox(config.sandbox)
        resolve_device(config.device, hardware or _plain_machine())
        layout = RunLayout(config.run_dir)
        layout.refuse_existing()
        # The fork server imports the scripts' libraries in its own process while this one reads the task.
        executor = started(executor) if executor is not None else start_executor(config)
        schema = read_and_lay_out(config, layout, began)
    except BaseException:
        if executor is not None:  # one given, or started here: the run owns it
            executor.close()
        raise
    return drive(layout, llm, engineer, hardware, executor=executor, after_first_script=schema)


def resume_run(
    run_dir: Path,
    llm: Any = None,
    engineer: Engineer | None = None,
    hardware: Hardware | None = None,
    *,
    executor: Executor | None = None,
) -> Outcome:
    """Continue an interrupted run in `run_dir`; the arguments are those of `start_run`."""
    layout = RunLayout(run_dir)
    if not layout.config.exists() or not layout.journal.exists():
        raise RunFolderError(
            f"expected a run folder made by `mlestar run` (config.json, journal.jsonl) at {run_dir}; found none"
        )
    journal = Journal(layout.root)
    if journal.has(RunFinished):
        raise RunFolderError(f"the run in {run_dir} has already finished; expected an interrupted run")
    # A run stopped before its first script has no schema yet: written from its data folder.
    schema = None if (layout.root / SCHEMA_FILE).is_file() else partial(load_schema, layout.root)
    return drive(layout, llm, engineer, hardware, executor=executor, after_first_script=schema)


@contextmanager
def run_lock(layout: RunLayout) -> Iterator[None]:
    """Two processes never drive one run folder at once."""
    layout.lock.touch()
    with layout.lock.open("r+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = f.read().strip() or "another process"
            raise RunFolderError(
                f"expected to be the only process driving {layout.root}; pid {holder} holds its lock"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def spent_seconds(journal: Journal) -> float:
    """Time the run already used: reading and preparing the task, and earlier sessions (gaps between
    sessions do not count)."""
    spent, start, last = 0.0, None, None
    for record in journal.records():
        t = record.get("time") if record["kind"] == "event" else record.get("ended")
        if record["kind"] == "event" and record.get("name") == RunStarted.name:
            spent += float(record.get("prepare_s") or 0.0)
        if record["kind"] == "event" and record.get("name") == SessionStarted.name:
            if start is not None and last is not None:
                spent += last - start
            start = t
        if t is not None:
            last = t
    if start is not None and last is not None:
        spent += last - start
    return spent


def _plain_machine() -> Hardware:
    """Hardware when the caller detected none (tests, library use): this machine's cores, no GPU."""
    return Hardware(cores=os.cpu_count() or 1)


def drive(
    layout: RunLayout,
    llm: Any = None,
    engineer: Engineer | None = None,
    hardware: Hardware | None = None,
    *,
    executor: Executor | None = None,
    after_first_script: Callable[[], object] | None = None,
) -> Outcome:
    """Drive a laid-out run to its end. `llm` is the LLMSettings built at the CLI edge, if any;
    `hardware` what the CLI detected this session (None: this machine's cores, no GPU);
    `after_first_script` is work done beside the scripts once the first one started, before the
    hand-over.

    `executor` (None: the one the config names) is started in the background (starting one twice
    is harmless) and closed when the run ends, as the run's own would be: the run owns the executor
    it is given, so a caller passes a fresh one to each run or resume."""
    config = config_from_json(json.loads(layout.config.read_text()))
    spec = TaskSpec.load(layout.task)
    hardware = hardware or _plain_machine()
    # This session's device: "auto" resolved on the machine it runs on (config.json keeps the choice).
    config = replace(config, device=resolve_device(config.device, hardware))
    with run_lock(layout):
        drop_torn_tail(layout.journal)
        journal = Journal(layout.root)
        spent = spent_seconds(journal)
        later = (
            AfterFirstScript(journal, after_first_script, "after-first-script")
            if after_first_script
            else None
        )
        AfterFirstScript(journal, _import_ahead, "import-ahead")
        journal.record(SessionStarted(pid=os.getpid()))
        # A resume may be on another machine.
        journal.record(HardwareSeen(device=config.device, **hardware.to_json()))
        tracker = _start_tracking(config, layout, journal)
        progress = Progress(spec.name, config.budget_s, live=config.live)
        progress.follow(journal, spec.lower_is_better)
        _journal_sandbox(config, journal, progress)
        executor = started(executor) if executor is not None else start_executor(config)
        try:
            engineer = engineer or make_engineer(config, layout, llm)
            outcome = _search_and_finish(
                config, spec, layout, journal, spent, progress, executor, engineer, hardware, later
            )
            _write_report(layout, journal, progress)
            return outcome
        finally:
            executor.close()
            if tracker is not None:
                report = tracker.close(timeout_s=60.0, timeout_when_down_s=5.0)
                if not report.complete:
                    progress.note(report.summary())
            progress.close()


HARNESS_LIBRARIES = ("sklearn.metrics", "sklearn.linear_model")
"""What the harness scores and combines predictions with. Imported beside the first scripts: the
run lays out its task without them (seconds sooner to its first script), and its first result is
judged without waiting for them."""


def _import_ahead() -> None:
    for name in HARNESS_LIBRARIES:
        importlib.import_module(name)


def _search_and_finish(  # type: ignore[no-untyped-def]
    config, spec, layout, journal, spent, progress, executor, engineer, hardware, later
) -> Outcome:
    nodes_run = sum(1 for n in journal.nodes.values() if n.result is not None)
    budget = Budget.plan(config.budget_s, spent, config.max_nodes, nodes_run)
    progress.bind_clock(budget.elapsed)
    jobs = max(1, config.jobs)
    threads = max(1, (os.cpu_count() or 1) // jobs)
    profile = json.loads((layout.data / "profile.json").read_text())
    ctx = TaskContext(
        spec,
        profile,
        config.seed,
        threads,
        _script_budget(config),
        layout.data,
        hardware=hardware,
        device=config.device,
    )
    harness = Harness(
        layout,
        spec,
        executor,
        journal,
        stand_in.for_search(get_metric(spec.metric)),  # per-row context the harness lacks
        config.seed,
        config.memory_mb,
        ctx.script_budget_s,
        config.device,
        save_models=not config.refit_all,
    )
    # Columns that alone give the answer away are judged from the data, not from a script: beside
    # the first scripts, so the check stage finds them judged.
    AfterFirstScript(journal, partial(column_leaks, layout.data, profile), "column-leaks")
    search = Search(ctx, engineer, harness, journal, budget, config.search, jobs, _warm(config))
    # The final fit runs each script with the search's threads, so refits and stored predictions agree.
    finisher = Finisher(harness, budget, progress, threads, lanes=jobs)
    finisher.follow_search()
    with _one_thread():
        best = search.run() if spec.solver == "engineers" else None  # else a documented baseline answers
    if later is not None and (error := later.wait()) is not None:
        progress.note(f"work beside the scripts failed: {type(error).__name__}: {error}")
    return finisher.finish(best)


@contextmanager
def _one_thread() -> Iterator[None]:
    """This process's numerical libraries on one thread while the search runs. The cores belong to
    the scripts; the harness's own arithmetic (judging, computed ensembles) is small, and a BLAS or
    OpenMP pool spinning beside busy scripts slows both (a stacker's fit took three times longer).
    The hand-over combines with the pools as they were, as `python solution.py` does."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _warm(config: RunConfig) -> tuple[Any, ...]:
    if not config.warm_start:
        return ()
    from mlestar.retrain.warm import warm_scripts

    return warm_scripts(Path(config.warm_start))


def _write_report(layout: RunLayout, journal: Journal, progress: Progress) -> None:
    """report.html beside the journal; the tracker logs it when it sees the event. A report that
    cannot be drawn must not fail a run whose submission is already written."""
    from mlestar.report import report_run

    try:
        path = report_run(layout.root)
    except Exception as e:  # the page is a view of the journal, never the run's result
        progress.note(f"report not written: {type(e).__name__}: {e}")
        return
    journal.record(ReportWritten(path=path.name))


def _script_budget(config: RunConfig) -> float:
    return max(30.0, config.budget_s * 0.25)


def make_engineer(config: RunConfig, layout: RunLayout, llm: Any = None) -> Engineer:
    from mlestar.engineers.builtin import BuiltinEngineer

    builtin = BuiltinEngineer(card_dirs=config.card_dirs)
    if config.engineer == "builtin":
        return builtin
    from mlestar.engineers.fallback import FallbackEngineer
    from mlestar.engineers.llm import build_engineer

    if llm is None:
        raise ConfigError(f"expected LLM settings for the engineer {config.engineer!r}; none were given")
    # No model call outlives the run's budget (what earlier sessions spent counts).
    deadline = time.time() + max(0.0, config.budget_s - spent_seconds(Journal(layout.root)))
    return build_engineer(config, llm, FallbackEngineer(builtin), layout.llm, deadline=deadline)


def _journal_sandbox(config: RunConfig, journal: Journal, progress: Progress) -> None:
    """Each session says how its scripts are confined (a resumed run may be on another machine)."""
    choice = resolve_sandbox(config.sandbox)
    journal.record(SandboxChosen(**choice.to_json()))
    if choice.warning:
        progress.note(choice.warning)


def _start_tracking(config: RunConfig, layout: RunLayout, journal: Journal):  # type: ignore[no-untyped-def]
    if not config.tracking:
        return None
    try:
        from mlestar.tracking import MlflowTracker
    except ImportError:
        return None
    return MlflowTracker.attach(config, layout, journal)
