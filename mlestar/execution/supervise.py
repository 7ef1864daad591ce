"""Watching the processes of one run: their memory, their descendants, and killing all of them.

A run's processes are found three ways, because each misses something: its session (children that
stay in it), every descendant seen while sampling (children that called setsid), and the run mark in
the environment (children that outlived their parent between two samples, once they exec'd).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections import defaultdict

import psutil

from mlestar.execution.env import RUN_MARK_VARIABLE

_MB = 1024 * 1024


def is_alive(proc: psutil.Process) -> bool:
    """Running and not a zombie (a zombie holds no memory and cannot be killed further)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


def _children_by_parent() -> dict[int, list[int]]:
    children: dict[int, list[int]] = defaultdict(list)
    for proc in psutil.process_iter(["ppid"]):
        ppid = proc.info.get("ppid")
        if ppid is not None:
            children[ppid].append(proc.pid)
    return children


def _rss(proc: psutil.Process) -> int:
    try:
        return int(proc.memory_info().rss)
    except psutil.Error:
        return 0


def _threads(proc: psutil.Process) -> int:
    try:
        return int(proc.num_threads())
    except psutil.Error:
        return 0


def folder_size_mb(folder: str, skip: tuple[str, ...] = ()) -> float:
    """Bytes held by the files under `folder` (links not followed, top-level names in `skip` left out), in MB."""
    total, stack = 0, [folder]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if not (entry.name in skip and os.path.dirname(entry.path) == folder):
                        stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                continue
    return total / _MB


def _kill(proc: psutil.Process) -> None:
    with contextlib.suppress(psutil.Error):
        proc.kill()


def kill_marked(variable: str, prefix: str) -> int:
    """Kill every process on this machine (but this one) whose `variable` starts with `prefix`;
    returns how many. Finds what outlived the parent that would have known its pid."""
    if not prefix:  # "" would match every process
        return 0
    killed = 0
    for proc in psutil.process_iter():
        try:
            mark = proc.environ().get(variable, "")
            if mark.startswith(prefix) and proc.pid != os.getpid():
                proc.kill()
                killed += 1
        except psutil.Error:
            continue
    return killed


class ProcessWatch:
    """Everything one run started. Not thread-safe: one watch per run, used by the run's thread."""

    def __init__(self, root_pid: int, mark: str, started_at: float, count_root: bool = True) -> None:
        """`count_root`: False when the root only waits for the script (a sandbox's outer process, a
        forked copy of the fork server: its memory is the server's, shared, not the script's)."""
        self.root_pid = root_pid
        self.mark = mark
        self.started_at = started_at
        self.count_root = count_root
        self.peak_rss_mb = 0.0
        self.processes = 0
        """Processes and threads of the run at the last sample."""
        self.disk_mb = 0.0
        """The size of the run's folder when last measured (by the runner)."""
        self._seen: dict[int, psutil.Process] = {}
        root = _process(root_pid)
        if root is not None:
            self._seen[root_pid] = root

    def sample(self) -> float:
        """The run's resident memory now, in MB; remembers every descendant it sees."""
        children = _children_by_parent()
        stack = [pid for pid, proc in self._seen.items() if is_alive(proc)]
        while stack:
            for pid in children.get(stack.pop(), ()):
                if pid not in self._seen and (proc := _process(pid)) is not None:
                    self._seen[pid] = proc
                    stack.append(pid)
        living = [proc for proc in self._seen.values() if is_alive(proc)]
        counted = [p for p in living if self.count_root or p.pid != self.root_pid]
        total = sum(_rss(proc) for proc in counted) / _MB
        self.processes = sum(_threads(proc) for proc in living)  # as the kernel counts: all of them
        self.peak_rss_mb = max(self.peak_rss_mb, total)
        return total

    def kill_all(self) -> None:
        """SIGKILL the run's session and every process seen in it."""
        if self.root_pid > 1 and self.root_pid not in (os.getpgrp(), os.getsid(0)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.root_pid, signal.SIGKILL)
        for proc in self._seen.values():
            _kill(proc)

    def sweep(self, rounds: int = 5) -> int:
        """Kill whatever of the run is still alive after its main process ended; returns how many."""
        killed = 0
        for _ in range(rounds):
            strays = self._strays()
            if not strays:
                break
            for proc in strays:
                _kill(proc)
            killed += len(strays)
            _wait_gone(strays, timeout_s=2.0)
        return killed

    def _strays(self) -> list[psutil.Process]:
        ours = {os.getpid(), os.getppid()}
        strays = [proc for proc in self._seen.values() if proc.pid not in ours and is_alive(proc)]
        known = {proc.pid for proc in strays}
        for proc in psutil.process_iter(["create_time"]):
            created = proc.info.get("create_time")
            if proc.pid in ours or proc.pid in known or created is None or created < self.started_at - 1:
                continue
            if (self._in_session(proc.pid) or self._carries_mark(proc)) and is_alive(proc):
                strays.append(proc)
        return strays

    def _in_session(self, pid: int) -> bool:
        try:
            return os.getsid(pid) == self.root_pid
        except OSError:
            return False

    def _carries_mark(self, proc: psutil.Process) -> bool:
        try:
            return proc.environ().get(RUN_MARK_VARIABLE) == self.mark
        except psutil.Error:
            return False


def _wait_gone(procs: list[psutil.Process], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while any(is_alive(proc) for proc in procs) and time.monotonic() < deadline:
        time.sleep(0.01)
