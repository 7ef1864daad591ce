"""The Ray executor: the same scripts, run as Ray tasks on a cluster, with the local runner's guarantees.

This is the driver: it runs in mlestar's own process and is what the harness calls (the Executor
protocol). Each script becomes one Ray task that asks for `limits.threads` CPUs, so Ray schedules
attempts by cores; the task itself (ray_worker.py) runs the script under a plain-subprocess
LocalExecutor on whichever node takes it. The task reads the script and writes its outputs in the
run's working folder, so every node must see that folder at the same path: a local cluster shares
this machine's filesystem; a remote cluster needs a shared filesystem (NFS and the like) and mlestar
installed on its nodes.

With no address the executor starts a private cluster on 127.0.0.1 through its keeper
(ray_keeper.py: a process of its own that never sees a secret), and `close()` stops every process
of it. Every Ray call goes through ray_connection.py; this module never imports ray. Imports run
one way: executor -> connection -> worker, executor -> keeper; nothing imports the executor.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlestar.errors import ConfigError, ExecutionFault
from mlestar.execution.base import Limits, RunResult
from mlestar.execution.env import RAY_RUN_MARK_VARIABLE, scrub
from mlestar.execution.local import STDERR_FILE, STDOUT_FILE, list_outputs, read_tail
from mlestar.execution.ray_connection import RayConnection
from mlestar.execution.ray_keeper import (
    BOOTSTRAP_FILE,
    STOP_WAIT_S,
    LocalCluster,
    cluster_environment,
    ensure_bootstrap_config,
    is_loopback_address,
)
from mlestar.execution.ray_worker import start_file_name
from mlestar.execution.sandbox import Sandbox
from mlestar.execution.supervise import kill_marked

_MAX_POLL_S = 0.2


@dataclass
class _Flight:
    """One run between submission and result."""

    mark: str
    ref: Any
    start_file: Path
    started_at: float | None = None
    node_id: str | None = None
    worker: tuple[int, float] | None = None


class RayExecutor:
    """Runs scripts as Ray tasks under Limits. Safe to call `run` from several threads at once.

    `address`: None starts a private cluster on 127.0.0.1; "auto", "ray://host:port" or "host:port"
    connect to a running one. `num_cpus` (private cluster only): its size, default all cores.
    `tmp_dir` (private cluster only): Ray's temporary folder, default a new one removed at close.
    `hang_grace_s`: how long past its time limit a task may stay silent before it is force-cancelled.
    """

    def __init__(
        self,
        address: str | None = None,
        num_cpus: int | None = None,
        tmp_dir: Path | None = None,
        *,
        base_env: Mapping[str, str] | None = None,
        tail_chars: int = 8000,
        hang_grace_s: float = 60.0,
        home: Path | None = None,
        sandbox: Sandbox | None = None,
    ) -> None:
        """`base_env`: the environment scripts start from (secrets dropped); default: this process's."""
        if address is not None and (num_cpus is not None or tmp_dir is not None):
            raise ConfigError(
                f"expected num_cpus and tmp_dir only for a private cluster, found address {address!r}"
            )
        self.address, self.num_cpus, self.tmp_dir = address, num_cpus, tmp_dir
        self.tail_chars, self.hang_grace_s = tail_chars, hang_grace_s
        self._home = home
        self.sandbox = sandbox
        self._base_env = scrub(os.environ if base_env is None else base_env)
        self._mark = uuid.uuid4().hex[:12]
        self._cluster: LocalCluster | None = None
        self._own_tmp: Path | None = None
        self._connection: RayConnection | None = None
        self._state = threading.Condition()
        self._flights: dict[str, _Flight] = {}
        self._closed = False

    # ---- life cycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start (or connect to) the cluster now rather than on the first run."""
        with self._state:
            if self._closed:
                raise ExecutionFault("expected an open executor, found it closed")
            if self._connection is not None:
                return
            home = self._home or Path.home()
            if self.address is None or not (home / BOOTSTRAP_FILE).exists():
                ensure_bootstrap_config(home)  # a cluster's own file is its business: only ours must be local
            address = self.address if self.address is not None else self._start_cluster()
            try:
                self._connection = RayConnection.open(address, pin_loopback=is_loopback_address(address))
            except BaseException:
                self._stop_cluster()
                raise

    @property
    def cluster_pid(self) -> int | None:
        """The pid of the keeper of the private cluster while it runs, else None."""
        process = self._cluster.process if self._cluster is not None else None
        return process.pid if process is not None else None

    @property
    def gcs_address(self) -> str | None:
        """The address of the cluster this executor is connected to, once started."""
        return self._connection.address if self._connection is not None else None

    def close(self) -> None:
        """Stop running scripts, disconnect, and stop the private cluster. Cannot run after this."""
        with self._state:
            if self._closed:
                return
            self._closed = True
            connection = self._connection
        if connection is not None:
            self._drain(connection)
            connection.close()
        self._stop_cluster()

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _start_cluster(self) -> str:
        num_cpus = self.num_cpus or os.cpu_count() or 1
        if self.tmp_dir is None:  # short: Ray's socket paths under it must stay below 108 characters
            self._own_tmp = temp_dir = Path(tempfile.mkdtemp(prefix="mlestar-ray-"))
        else:
            temp_dir = self.tmp_dir
            temp_dir.mkdir(parents=True, exist_ok=True)
        env = cluster_environment(self._base_env, temp_dir)
        self._cluster = LocalCluster(num_cpus, temp_dir, env, self._mark)
        return self._cluster.start()

    def _stop_cluster(self) -> None:
        if self._cluster is not None:
            self._cluster.stop()
            kill_marked(RAY_RUN_MARK_VARIABLE, self._mark)
        if self._own_tmp is not None:
            shutil.rmtree(self._own_tmp, ignore_errors=True)
            self._own_tmp = None

    def _drain(self, connection: RayConnection) -> None:
        """Cancel every run (their scripts are killed by the runner in the task), then force the rest."""
        with self._state:
            flights = list(self._flights.values())
        for flight in flights:
            connection.cancel(flight.ref, force=False)
        if self._wait_drained(STOP_WAIT_S):
            return
        with self._state:
            flights = list(self._flights.values())
        for flight in flights:
            self._abandon(connection, flight)
        self._wait_drained(STOP_WAIT_S)

    def _wait_drained(self, timeout_s: float) -> bool:
        with self._state:
            return self._state.wait_for(lambda: not self._flights, timeout_s)

    # ---- one run ---------------------------------------------------------------------------------

    def run(self, script: Path, workdir: Path, limits: Limits) -> RunResult:
        script, workdir = Path(script).resolve(), Path(workdir).resolve()
        if not script.is_file() or not workdir.is_dir():
            raise ExecutionFault(f"expected a script file and a working folder, found {script} and {workdir}")
        self.start()
        connection = self._connection
        assert connection is not None
        connection.check_feasible(limits.threads)
        mark = f"{self._mark}-{uuid.uuid4().hex[:12]}"
        flight = _Flight(mark, None, workdir / start_file_name(mark))
        with self._state:
            if self._closed:
                raise ExecutionFault("expected an open executor, found it closed")
            flight.ref = connection.submit(
                script, workdir, limits, self._base_env, self.tail_chars, mark, self.sandbox
            )
            self._flights[mark] = flight
        try:
            return self._await(connection, flight, limits, workdir)
        finally:
            flight.start_file.unlink(missing_ok=True)
            with self._state:
                self._flights.pop(mark, None)
                self._state.notify_all()

    def _await(self, connection: RayConnection, flight: _Flight, limits: Limits, workdir: Path) -> RunResult:
        """Wait for the task; the time limit counts from its start (a queued task is not late)."""
        interval = 0.005
        try:
            while not connection.ready(flight.ref, interval):
                if flight.started_at is None:
                    _note_start(flight)
                elif time.monotonic() > flight.started_at + limits.timeout_s + self.hang_grace_s:
                    self._abandon(connection, flight)
                    return _killed_result(flight, workdir, self.tail_chars, limits, timed_out=True)
                interval = min(interval * 2, _MAX_POLL_S)
            return RunResult.from_json(connection.result(flight.ref))
        except ExecutionFault:
            if not self._closed:
                if flight.node_id is not None:  # the worker died: its script may live on
                    connection.clean_up_on_node(flight.node_id, flight.mark, flight.worker)
                raise
            if flight.started_at is None:
                raise ExecutionFault(
                    "expected an open executor, found it closed before the script started"
                ) from None
            return _killed_result(flight, workdir, self.tail_chars, limits, timed_out=False)

    def _abandon(self, connection: RayConnection, flight: _Flight) -> None:
        """Kill a task that stopped answering, and the script it started (it lives on past its worker)."""
        connection.cancel(flight.ref, force=True)
        if flight.node_id is not None:
            connection.clean_up_on_node(flight.node_id, flight.mark, flight.worker)


def _note_start(flight: _Flight) -> None:
    try:
        info = json.loads(flight.start_file.read_text())
    except (OSError, ValueError):
        return
    flight.started_at, flight.node_id = time.monotonic(), info.get("node_id")
    flight.worker = tuple(info["worker"]) if info.get("worker") else None


def _killed_result(
    flight: _Flight, workdir: Path, tail_chars: int, limits: Limits, timed_out: bool
) -> RunResult:
    """The result of a run whose task was cancelled: what its files show, killed by us."""
    duration = time.monotonic() - (flight.started_at or time.monotonic())
    why = f"the Ray task stopped answering past the {limits.timeout_s:g} s limit and was cancelled"
    return RunResult(
        exit_code=None,
        signal=signal.SIGKILL,
        timed_out=timed_out,
        duration_s=round(duration, 3),
        peak_memory_mb=None,
        stdout_tail=read_tail(workdir / STDOUT_FILE, tail_chars),
        stderr_tail=read_tail(workdir / STDERR_FILE, tail_chars),
        exception="TimeLimitExceeded" if timed_out else None,
        traceback=f"TimeLimitExceeded: {why}" if timed_out else None,
        outputs=list_outputs(workdir),
    )
