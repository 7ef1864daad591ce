"""The Ray executor: the same scripts, run as Ray tasks on a cluster, with the local runner's guarantees.

Each script becomes one Ray task that asks for `limits.threads` CPUs, so Ray schedules attempts by
cores. Inside the task a plain-subprocess LocalExecutor runs the script: the same limits, scrubbed
environment, output files and RunResult as running locally. The task reads the script and writes its
outputs in the run's working folder, so every node must see that folder at the same path: a local
cluster shares this machine's filesystem; a remote cluster needs a shared filesystem (NFS and the
like) and mlestar installed on its nodes.

With no address the executor starts a private cluster on 127.0.0.1 (dashboard off, usage stats off,
no auth token: nothing listens beyond loopback) in a keeper process that never sees a secret, and
`close()` stops every process of it. This is the only module of mlestar that imports ray, and only
inside functions.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psutil

from mlestar.errors import ConfigError, ExecutionFault
from mlestar.execution.base import Limits, RunResult
from mlestar.execution.env import scrub
from mlestar.execution.local import STDERR_FILE, STDOUT_FILE, LocalExecutor, list_outputs, read_tail
from mlestar.execution.ray_cluster import (
    BOOTSTRAP_FILE,
    LOOPBACK,
    STOP_WAIT_S,
    LocalCluster,
    cluster_environment,
    ensure_bootstrap_config,
    is_loopback_address,
)
from mlestar.execution.sandbox import Sandbox

RUN_MARK = "MLESTAR_RAY_RUN"
"""Marks the processes of one Ray run, so they can be killed even after their worker was."""

_CLEANUP_WAIT_S = 30.0
_OBJECT_STORE_BYTES = 128 * 1024 * 1024
"""Tasks return small dicts; Ray's default would reserve 30% of the machine's memory."""
_MAX_POLL_S = 0.2


# ---- what runs on a worker -----------------------------------------------------------------------


def run_on_worker(
    script: str,
    workdir: str,
    limits: Limits,
    base_env: dict[str, str],
    tail_chars: int,
    mark: str,
    sandbox: Sandbox | None = None,
) -> dict[str, Any]:
    """The Ray task: announce the start in the working folder, then run the script like LocalExecutor
    (confined by the same sandbox: the launcher confines the script on the worker's node)."""
    import ray

    start_file = Path(workdir) / _start_file_name(mark)
    node_id, me = ray.get_runtime_context().get_node_id(), psutil.Process()
    start_file.write_text(json.dumps({"node_id": node_id, "worker": [me.pid, me.create_time()]}))
    executor = LocalExecutor(use_forkserver=False, base_env=base_env, tail_chars=tail_chars, sandbox=sandbox)
    try:
        marked = replace(limits, env=(*limits.env, (RUN_MARK, mark)))
        return executor.run(Path(script), Path(workdir), marked).to_json()
    finally:
        executor.close()
        start_file.unlink(missing_ok=True)


def kill_marked(prefix: str) -> int:
    """Kill every process on this machine whose run mark starts with `prefix`; returns how many."""
    killed = 0
    for proc in psutil.process_iter():
        try:
            mark = proc.environ().get(RUN_MARK, "")
            if mark.startswith(prefix) and proc.pid != os.getpid():
                proc.kill()
                killed += 1
        except psutil.Error:
            continue
    return killed


def clean_up_run(mark: str, worker: tuple[int, float] | None) -> int:
    """On the run's node: kill its worker (if that pid is still the same process) and its scripts."""
    if worker is not None:
        try:
            proc = psutil.Process(worker[0])
            if proc.create_time() == worker[1] and proc.pid != os.getpid():
                proc.kill()
        except psutil.Error:
            pass
    return kill_marked(mark)


def _start_file_name(mark: str) -> str:
    return f".ray-run-{mark}.json"


# ---- the keeper of a private cluster (run with -m) ----------------------------------------------


def _keeper_main(num_cpus: int, temp_dir: str, mark: str) -> int:
    """In the keeper process: start the cluster, print its address, hold it until stdin closes."""
    import ray

    ray.init(
        num_cpus=num_cpus,
        include_dashboard=False,
        _node_ip_address=LOOPBACK,
        _temp_dir=temp_dir,
        object_store_memory=_OBJECT_STORE_BYTES,
        logging_level=logging.WARNING,
        log_to_driver=False,
    )
    print(json.dumps({"address": ray.get_runtime_context().gcs_address}), flush=True)
    sys.stdin.buffer.read()  # until the executor closes the pipe, or dies
    ray.shutdown()
    kill_marked(mark)  # scripts run in sessions of their own: they outlive their workers
    return 0


# ---- the executor --------------------------------------------------------------------------------


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
        self._connection: _Connection | None = None
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
                self._connection = _Connection.open(address, pin_loopback=is_loopback_address(address))
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
            kill_marked(self._mark)
        if self._own_tmp is not None:
            shutil.rmtree(self._own_tmp, ignore_errors=True)
            self._own_tmp = None

    def _drain(self, connection: _Connection) -> None:
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
        flight = _Flight(mark, None, workdir / _start_file_name(mark))
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

    def _await(self, connection: _Connection, flight: _Flight, limits: Limits, workdir: Path) -> RunResult:
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

    def _abandon(self, connection: _Connection, flight: _Flight) -> None:
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


# ---- the driver's side of Ray --------------------------------------------------------------------


class _Connection:
    """This process's link to a Ray cluster: every Ray call on the driver's side goes through here."""

    def __init__(self, ray: Any, address: str) -> None:
        self._ray, self.address = ray, address
        self._run_task = ray.remote(num_cpus=1, max_retries=0)(run_on_worker)
        self._clean_up_task = ray.remote(num_cpus=0, max_retries=0)(clean_up_run)
        self._max_cpus = _largest_node(ray)

    @classmethod
    def open(cls, address: str, pin_loopback: bool) -> _Connection:
        import ray
        from ray._private import ray_constants

        if ray.is_initialized():
            raise ExecutionFault("expected no other Ray connection in this process, found one")
        multi_node = ray_constants.ENABLE_RAY_CLUSTER
        if pin_loopback:  # else Ray swaps 127.0.0.1 for the LAN address, where our cluster is not
            ray_constants.ENABLE_RAY_CLUSTER = False
        on_main = threading.current_thread() is threading.main_thread()
        sigterm = signal.getsignal(signal.SIGTERM) if on_main else None
        try:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        except Exception as exc:
            raise ExecutionFault(
                f"expected a Ray cluster at {address}, found {type(exc).__name__}: {exc}"
            ) from exc
        finally:
            ray_constants.ENABLE_RAY_CLUSTER = multi_node
            if on_main:
                signal.signal(signal.SIGTERM, sigterm)  # ray.init replaces the application's handler
        try:
            gcs_address = str(ray.get_runtime_context().gcs_address)
        except Exception:  # Ray Client ("ray://") does not tell
            gcs_address = address
        return cls(ray, gcs_address)

    def submit(
        self,
        script: Path,
        workdir: Path,
        limits: Limits,
        env: dict[str, str],
        tail: int,
        mark: str,
        sandbox: Sandbox | None,
    ) -> Any:
        task = self._run_task.options(num_cpus=limits.threads, name=f"mlestar {script.name}")
        return task.remote(str(script), str(workdir), limits, env, tail, mark, sandbox)

    def ready(self, ref: Any, timeout_s: float) -> bool:
        try:
            done, _ = self._ray.wait([ref], timeout=timeout_s)
        except Exception as exc:  # disconnected by close() in another thread
            raise ExecutionFault(
                f"expected a live Ray connection, found {type(exc).__name__}: {exc}"
            ) from exc
        return bool(done)

    def result(self, ref: Any) -> dict[str, Any]:
        try:
            return dict(self._ray.get(ref))
        except self._ray.exceptions.RayError as exc:
            cause = getattr(exc, "cause", None) or exc
            raise ExecutionFault(
                f"expected the Ray task to return a result, found {type(cause).__name__}: {cause} "
                "(every Ray node needs mlestar and the run folder at the same path)"
            ) from exc

    def cancel(self, ref: Any, force: bool) -> None:
        try:
            self._ray.cancel(ref, force=force)
        except Exception:  # already finished or the cluster is gone: nothing to cancel
            logging.getLogger(__name__).debug("cancel failed", exc_info=True)

    def clean_up_on_node(self, node_id: str, mark: str, worker: tuple[int, float] | None) -> None:
        """Kill the worker and scripts of one run on the node that ran it (a task that needs no CPU)."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        strategy = NodeAffinitySchedulingStrategy(node_id, soft=False)
        try:
            self._ray.get(
                self._clean_up_task.options(scheduling_strategy=strategy).remote(mark, worker),
                timeout=_CLEANUP_WAIT_S,
            )
        except Exception:
            logging.getLogger(__name__).warning("could not clean up run %s on node %s", mark, node_id)

    def check_feasible(self, threads: int) -> None:
        """Ray would queue a task no node can take forever: refuse it instead."""
        if threads > self._max_cpus:
            self._max_cpus = _largest_node(self._ray)  # nodes may have joined
        if threads > self._max_cpus:
            raise ConfigError(
                f"expected threads per script at most {self._max_cpus:g} (the CPUs of the largest Ray "
                f"node), found {threads}"
            )

    def close(self) -> None:
        self._ray.shutdown()


def _largest_node(ray: Any) -> float:
    return max((node["Resources"].get("CPU", 0.0) for node in ray.nodes() if node.get("Alive")), default=0.0)


if __name__ == "__main__":
    raise SystemExit(_keeper_main(int(sys.argv[1]), sys.argv[2], sys.argv[3]))
