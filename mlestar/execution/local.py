"""The local executor: one script, one process session, limits enforced, the outcome as a frozen result.

Each script runs as `__main__` in its working folder, in its own session, with stdout and stderr in
files there. By default a fork server (forkserver.py) that has already imported the heavy libraries
forks one child per script: milliseconds instead of seconds per start. Without it, or when it has
died, each script is a plain `python script.py`. Both paths give the same RunResult.

The calling thread supervises its run: it samples the memory, processes and disk use of the run, kills
it all at the deadline or over a cap, and sweeps away any process the script left behind. With a
Sandbox, the script is also confined before its first line (sandbox.py, confine.py): the kernel then
enforces the limits too, and keeps the script to its attempt folder.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from mlestar.contract import INPUT_DIR, OUTPUT_DIR
from mlestar.errors import ExecutionFault
from mlestar.execution.base import Limits, RunResult
from mlestar.execution.cgroup import PidsCgroup
from mlestar.execution.env import script_environment, scrub, server_environment
from mlestar.execution.forkclient import ForkServer
from mlestar.execution.forkserver import WHEN_IDLE
from mlestar.execution.sandbox import CONFINE_PROGRAM, Sandbox
from mlestar.execution.supervise import ProcessWatch, folder_size_mb
from mlestar.execution.traceback_trim import exception_name, trim_traceback

DEFAULT_PRELOAD = (
    "numpy",
    "pandas",
    "scipy",
    "sklearn",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "sklearn.model_selection",
    "sklearn.metrics",
    "sklearn.preprocessing",
    "sklearn.feature_extraction.text",
    "sklearn.pipeline",
    "sklearn.compose",
    "lightgbm",
    "cloudpickle",
    WHEN_IDLE,  # the server is ready before these: the first scripts start sooner
    "xgboost",
    "catboost",
)
"""What solution scripts usually import: the fork server imports it once, so each script starts in
a tenth of a second instead of several seconds."""
STDOUT_FILE = "stdout.txt"
STDERR_FILE = "stderr.txt"

_FIRST_POLL_S = 0.005
_MAX_POLL_S = 0.2
"""Sampling starts fast (short scripts return at once) and settles at 5 Hz (a few ms each)."""
_KILL_WAIT_S = 10.0
_DISK_EVERY_S = 1.0
"""How often the attempt folder's size is measured (a walk of its files)."""
_TRACEBACK_WINDOW = 64 * 1024
"""How much of the end of stderr is searched for the final traceback."""


class _Child(Protocol):
    pid: int | None
    status: int | None
    maxrss_kb: int | None
    lost: bool

    def wait(self, timeout: float) -> bool: ...


class _PopenChild:
    """A `python script.py` child, reaped with wait4 (its status, not its peak memory: see _reap)."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self.popen = popen
        self.pid: int | None = popen.pid
        self.status: int | None = None
        self.maxrss_kb: int | None = None
        self.lost = False
        try:
            self._pidfd: int | None = os.pidfd_open(popen.pid)
        except (AttributeError, OSError):
            self._pidfd = None

    def wait(self, timeout: float) -> bool:
        if self.status is not None:
            return True
        if self._pidfd is not None:
            select.select([self._pidfd], [], [], timeout)
        elif not self._reap():
            time.sleep(timeout)
        return self._reap()

    def _reap(self) -> bool:
        if self.status is not None:
            return True
        pid, status, usage = os.wait4(self.popen.pid, os.WNOHANG)
        if pid == 0:
            return False
        # wait4's ru_maxrss counts the forked copy of this (large) process before exec, so
        # it overstates a plain child's peak; the sampled RSS is the honest figure here.
        self.status, self.maxrss_kb = status, None
        del usage
        self.popen.returncode = os.waitstatus_to_exitcode(status)  # so Popen never waits again
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        return True


class LocalExecutor:
    """Runs scripts on this machine under Limits. Safe to call `run` from several threads at once."""

    def __init__(
        self,
        preload: tuple[str, ...] = DEFAULT_PRELOAD,
        use_forkserver: bool = True,
        python: str = sys.executable,
        tail_chars: int = 8000,
        base_env: Mapping[str, str] | None = None,
        sandbox: Sandbox | None = None,
    ) -> None:
        """`base_env`: the environment scripts start from (secrets are dropped); default: this process's.
        `sandbox`: how scripts are confined; None runs them unconfined (time, memory, environment only)."""
        self.preload = tuple(preload)
        self.use_forkserver = use_forkserver
        self.python = python
        self.tail_chars = tail_chars
        self._base_env = scrub(os.environ if base_env is None else base_env)
        if sandbox is not None and sandbox.level != "off":
            self.sandbox: Sandbox | None = sandbox.hiding(self._base_env.get("HOME"))
        else:
            self.sandbox = None
        self._server: ForkServer | None = None
        self._server_failed = False
        self._closed = False
        self._lock = threading.Lock()
        self._active: dict[str, ProcessWatch] = {}
        self._active_lock = threading.Lock()

    # ---- life cycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the fork server now rather than on the first run (it takes seconds to import)."""
        if self.sandbox is not None:
            PidsCgroup.remove_stale()  # what a killed run could not clean up
        self._fork_server()

    @property
    def forkserver_pid(self) -> int | None:
        """The fork server's pid while it serves, else None (not started, disabled or died)."""
        server = self._server
        return server.pid if server is not None and server.alive else None

    def close(self) -> None:
        """Kill any script still running, stop the fork server. The executor cannot run after this."""
        with self._lock:
            self._closed = True
            server, self._server = self._server, None
        with self._active_lock:
            watches = list(self._active.values())
        for watch in watches:
            watch.kill_all()
        if server is not None:
            server.close()

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _fork_server(self) -> ForkServer | None:
        with self._lock:
            if self._closed:
                raise ExecutionFault("expected an open executor, found it closed")
            if not self.use_forkserver or self._server_failed:
                return None
            if self._server is None:
                server = ForkServer(self.python, self.preload, server_environment(self._base_env))
                try:
                    server.start()
                except ExecutionFault:
                    self._server_failed = True
                    return None
                self._server = server
            if not self._server.alive:
                self._server_failed = True  # died: plain processes from now on
                return None
            return self._server

    # ---- one run ---------------------------------------------------------------------------------

    def run(self, script: Path, workdir: Path, limits: Limits) -> RunResult:
        script, workdir = Path(script).resolve(), Path(workdir).resolve()
        if not script.is_file() or not workdir.is_dir():
            raise ExecutionFault(f"expected a script file and a working folder, found {script} and {workdir}")
        mark = uuid.uuid4().hex
        if self.sandbox is not None:
            limits = self.sandbox.bound(limits)
        env = script_environment(self._base_env, limits, mark)
        spec, group = self._confinement(workdir, limits, mark)
        server = self._fork_server()  # before the clock starts: its first start takes seconds
        started_at, start = time.time(), time.monotonic()
        child = self._spawn(server, script, workdir, env, limits.threads, spec)
        if child.pid is None:
            raise ExecutionFault(f"expected a process for {script}, found none")
        # In a namespace the first process only waits for the script (pid 1 inside): not its memory.
        in_namespace = spec is not None and spec["level"] == "namespaces"
        watch = ProcessWatch(child.pid, mark, started_at, count_root=not in_namespace)
        with self._active_lock:
            self._active[mark] = watch
        refused = 0
        try:
            reason = _supervise(child, watch, limits, start, workdir, group)
        except BaseException:
            watch.kill_all()
            raise
        finally:
            with self._active_lock:
                self._active.pop(mark, None)
            watch.sweep()
            if group is not None:
                refused = group.refusals()
                group.remove()
        if reason is None and refused and child.status != 0:
            reason = "processes"  # the kernel refused a fork at pids.max, and the script failed
        duration = time.monotonic() - start
        return self._result(child, watch, reason, limits, workdir, duration)

    def _confinement(
        self, workdir: Path, limits: Limits, mark: str
    ) -> tuple[dict[str, object] | None, PidsCgroup | None]:
        """The sandbox spec of one run, and its pids cgroup where the machine allows one."""
        if self.sandbox is None:
            return None, None
        spec = self.sandbox.spec(workdir, limits)
        group = PidsCgroup.create(mark, limits.max_processes)
        if group is not None:
            spec["cgroup_procs"] = group.procs_file
        return spec, group

    def _spawn(
        self,
        server: ForkServer | None,
        script: Path,
        workdir: Path,
        env: dict[str, str],
        threads: int,
        spec: dict[str, object] | None,
    ) -> _Child:
        if server is not None:
            request = {
                "script": str(script),
                "workdir": str(workdir),
                "env": env,
                "threads": threads,
                "stdout": str(workdir / STDOUT_FILE),
                "stderr": str(workdir / STDERR_FILE),
                "confine": spec,
            }
            try:
                return server.spawn(request)
            except ExecutionFault:
                with self._lock:
                    self._server_failed = True
        return self._popen(script, workdir, env, spec)

    def _popen(
        self, script: Path, workdir: Path, env: dict[str, str], spec: dict[str, object] | None
    ) -> _Child:
        command = [self.python, str(script)]
        if spec is not None:  # the launcher confines itself, then becomes `python script`
            command = [self.python, str(CONFINE_PROGRAM), json.dumps(spec), *command]
        try:
            with open(workdir / STDOUT_FILE, "wb") as out, open(workdir / STDERR_FILE, "wb") as err:
                popen = subprocess.Popen(
                    command,
                    cwd=workdir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                )
        except OSError as exc:
            raise ExecutionFault(f"expected to start {self.python} {script}, found {exc}") from exc
        return _PopenChild(popen)

    def _result(
        self,
        child: _Child,
        watch: ProcessWatch,
        reason: str | None,
        limits: Limits,
        workdir: Path,
        duration: float,
    ) -> RunResult:
        exit_code, signal_number = _decode_status(child.status)
        stderr_text = read_tail(workdir / STDERR_FILE, _TRACEBACK_WINDOW)
        peak = max(watch.peak_rss_mb, (child.maxrss_kb or 0) / 1024)
        exception, traceback = _explain(reason, child, exit_code, stderr_text, limits, peak)
        return RunResult(
            exit_code=exit_code,
            signal=signal_number,
            timed_out=reason == "timeout",
            duration_s=round(duration, 3),
            peak_memory_mb=round(peak, 1) if peak > 0 else None,
            stdout_tail=read_tail(workdir / STDOUT_FILE, self.tail_chars),
            stderr_tail=stderr_text[-self.tail_chars :] if self.tail_chars > 0 else "",
            exception=exception,
            traceback=traceback,
            outputs=list_outputs(workdir),
        )


def _supervise(
    child: _Child, watch: ProcessWatch, limits: Limits, start: float, workdir: Path, group: PidsCgroup | None
) -> str | None:
    """Wait for the child, enforcing the limits. Returns why it was killed ("timeout", "memory",
    "processes", "disk"), or None when it ended by itself."""
    deadline = start + limits.timeout_s
    interval, next_disk = _FIRST_POLL_S, start + _DISK_EVERY_S
    reason: str | None = None
    while not child.wait(max(0.0, min(interval, deadline - time.monotonic()))):
        now = time.monotonic()
        reason = _over_limit(watch, limits, workdir if now >= next_disk else None, group)
        if reason is None and now >= deadline:
            reason = "timeout"
        if reason is not None:
            break
        if now >= next_disk:
            next_disk = now + _DISK_EVERY_S
        interval = min(interval * 2, _MAX_POLL_S)
    else:
        return None
    watch.kill_all()
    if not child.wait(_KILL_WAIT_S):
        child.lost = True
    return reason


def _over_limit(
    watch: ProcessWatch, limits: Limits, workdir: Path | None, group: PidsCgroup | None
) -> str | None:
    """The cap a running script is over now, if any (the folder size only when `workdir` is given)."""
    memory_mb = watch.sample()
    if group is not None and (group.refusals() or group.current() >= limits.max_processes):
        return "processes"  # the kernel's exact count, and forks it already refused
    if watch.processes >= limits.max_processes:  # at the cap the kernel refuses forks; checked first: a
        # fork bomb's copies also add up to memory
        return "processes"
    if limits.memory_mb is not None and memory_mb > limits.memory_mb:
        return "memory"
    if workdir is not None and limits.disk_mb is not None:
        watch.disk_mb = folder_size_mb(str(workdir), skip=(INPUT_DIR,))
        if watch.disk_mb > limits.disk_mb:
            return "disk"
    return None


def _decode_status(status: int | None) -> tuple[int | None, int | None]:
    """(exit code, signal) from a raw wait status; (None, None) when it is unknown."""
    if status is None:
        return None, None
    if os.WIFSIGNALED(status):
        return None, os.WTERMSIG(status)
    return os.WEXITSTATUS(status), None


def _explain(
    reason: str | None, child: _Child, exit_code: int | None, stderr_text: str, limits: Limits, peak_mb: float
) -> tuple[str | None, str | None]:
    """The exception name and trimmed traceback of a run that did not succeed."""
    if reason == "timeout":
        return "TimeLimitExceeded", (
            f"TimeLimitExceeded: the script ran past its {limits.timeout_s:g} s limit and was killed"
        )
    if reason == "memory":
        return "MemoryLimitExceeded", (
            f"MemoryLimitExceeded: the script's processes used {peak_mb:.0f} MB, over the "
            f"{limits.memory_mb} MB limit, and were killed"
        )
    if reason == "processes":
        return "ProcessLimitExceeded", (
            f"ProcessLimitExceeded: the script ran more than {limits.max_processes} processes and "
            "threads at once (further forks refused, or the run killed)"
        )
    if reason == "disk":
        return "DiskLimitExceeded", (
            f"DiskLimitExceeded: the script's folder grew past the {limits.disk_mb} MB limit, and it was killed"
        )
    if child.lost:
        return (
            "ExecutionFault",
            "ExecutionFault: the runner lost track of the script; its exit status is unknown",
        )
    if exit_code in (0, None):
        return None, None
    traceback = trim_traceback(stderr_text)
    if traceback is None:
        return None, None
    return exception_name(stderr_text), traceback


def read_tail(path: Path, chars: int) -> str:
    """The last `chars` characters of a text file, without reading the whole file."""
    if chars <= 0:
        return ""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - 4 * chars))
            data = handle.read()
    except OSError:
        return ""
    return data.decode("utf-8", errors="replace")[-chars:]


def list_outputs(workdir: Path) -> tuple[str, ...]:
    """Files under workdir/output, as paths relative to workdir."""
    folder = workdir / OUTPUT_DIR
    if not folder.is_dir():
        return ()
    return tuple(sorted(path.relative_to(workdir).as_posix() for path in folder.rglob("*") if path.is_file()))
