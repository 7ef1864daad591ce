"""Small task folders and run configs for the search tests."""

from __future__ import annotations

import atexit
import os
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlestar import app
from mlestar.config import RunConfig, SearchSettings
from mlestar.errors import ExecutionFault
from mlestar.execution.base import Executor
from mlestar.execution.env import server_environment
from mlestar.execution.forkclient import ForkServer
from mlestar.execution.local import LocalExecutor
from mlestar.journal import Journal
from mlestar.journal.events import FinalChosen
from mlestar.search.keys import AHEAD
from tests.builders import write_task

LIGHT = ("numpy", "pandas")
"""What the scripted and test scripts import: a fork server that preloads only these starts fast."""


def regression_task(root: Path, n_train: int = 120, n_test: int = 40, seed: int = 0) -> Path:
    """A tiny regression task laid out as Kaggle hands it out (RMSE)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_train + n_test, 3))
    y = x @ np.array([1.0, -2.0, 0.5]) + rng.normal(0, 0.1, n_train + n_test)
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame.insert(0, "id", np.arange(n_train + n_test))
    frame["y"] = y
    files = {
        "train.csv": frame.iloc[:n_train],
        "test.csv": frame.iloc[n_train:].drop(columns=["y"]),
        "sample_submission.csv": frame.iloc[n_train:][["id"]].assign(y=0.0),
        "description.md": "# Tiny regression\n\nPredict y. Submissions are scored on the root mean squared error (RMSE).\n",
    }
    return write_task(root, files)


def config(task: Path, run: Path, **settings: object) -> RunConfig:
    # One split and no seed variants unless a test asks: both multiply the scripts a run takes.
    search = SearchSettings(
        m_candidates=3, t_outer=2, k_inner=2, r_ensemble=3, max_debug_rounds=1, repeats=1, widen_seeds=0
    )
    budget = float(settings.pop("budget_s", 600.0))  # type: ignore[arg-type]
    max_nodes = settings.pop("max_nodes", None)
    search_over = {k: settings.pop(k) for k in list(settings) if hasattr(search, k)}
    if search_over:
        search = SearchSettings(**{**search.__dict__, **search_over})
    return RunConfig(
        task_dir=Path(task),
        run_dir=Path(run),
        budget_s=budget,
        max_nodes=max_nodes,  # type: ignore[arg-type]
        jobs=2,
        search=search,
        tracking=False,
        live=False,
        memory_mb=2048,
        **settings,  # type: ignore[arg-type]
    )


def light_executor() -> LocalExecutor:
    """An executor whose fork server imports only numpy and pandas; a run owns and closes it, so each
    run or resume gets a new one. The fork server itself is this test process's one (see
    _LightExecutor): each run would otherwise pay half a second of imports again."""
    return _LightExecutor(preload=LIGHT)


class _LightExecutor(LocalExecutor):
    """A LocalExecutor that borrows this process's light fork server instead of starting its own.
    Closing it is what closing a LocalExecutor is to the run (its scripts killed, no run after it);
    only the server, which holds no run's state (each script gets its request's environment and
    folder), outlives it."""

    def _fork_server(self) -> ForkServer | None:
        with self._lock:
            if self._closed:
                raise ExecutionFault("expected an open executor, found it closed")
        return _shared_light_server(self.python)


_SHARED_LOCK = threading.Lock()
_SHARED: dict[int, ForkServer] = {}
"""The light fork server of each process (by pid: a forked copy starts its own)."""


def _shared_light_server(python: str) -> ForkServer | None:
    with _SHARED_LOCK:
        server = _SHARED.get(os.getpid())
        if server is not None and server.alive:
            return server
        server = ForkServer(python, LIGHT, server_environment(os.environ))
        try:
            server.start()
        except ExecutionFault:
            return None  # plain processes, as a LocalExecutor whose server failed
        _SHARED[os.getpid()] = server
        atexit.register(server.close)
        return server


def cli_runs_on(mp: pytest.MonkeyPatch, executor: Executor) -> None:
    """`mlestar run` called in this process (cli.main) hands `executor` to its run: the CLI's own
    path, from its flags to the start-up model check, with the test's fork server."""
    mp.setattr(app, "start_run", partial(app.start_run, executor=executor))


def searched(journal: Journal) -> list[str]:
    """The attempts of the search itself: every node but the final fits."""
    return sorted(n.id for n in journal.nodes.values() if n.stage != "final")


def assert_same_path(again: Journal, first: Journal) -> None:
    """The search's path and scores, and its solution's final fits. The final fits done ahead on
    idle lanes are spare work, timed by the machine: which of them ran may differ."""
    assert searched(again) == searched(first)
    assert [again.nodes[k].score for k in searched(again)] == [first.nodes[k].score for k in searched(first)]
    chosen, repeat = first.last(FinalChosen), again.last(FinalChosen)
    assert chosen is not None and repeat is not None and repeat.node == chosen.node
    assert repeat.members == chosen.members  # each refit, ahead or by the hand-over:
    assert all(again.nodes[f"final-{m}"].ok for m in repeat.members)


def handover_refits(journal: Journal) -> set[str]:
    """The final fits the hand-over ran itself; those a lane ran ahead during the search are spare
    work, timed by the machine."""
    return {n.id for n in journal.nodes.values() if n.stage == "final" and AHEAD not in n.plan}
