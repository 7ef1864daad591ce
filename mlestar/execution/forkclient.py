"""The client side of the fork server: start it once, ask it for children, learn how each ended.

Thread-safe: many threads may spawn and wait at once. One reader thread takes the server's replies
and hands each to the child it concerns.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psutil

from mlestar.errors import ExecutionFault
from mlestar.execution.supervise import is_alive

SERVER_PROGRAM = Path(__file__).with_name("forkserver.py")


@dataclass
class ForkChild:
    """One script the server forked, as the client sees it."""

    request_id: int
    started: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)
    pid: int | None = None
    status: int | None = None
    """The raw wait status; None while running or when it could not be learnt."""
    maxrss_kb: int | None = None
    error: str | None = None
    lost: bool = False
    """The server died before reporting the end: the status is unknown."""
    process: psutil.Process | None = None

    def wait(self, timeout: float) -> bool:
        """True once the child has ended; waits at most `timeout` seconds."""
        if not self.ended.wait(timeout):
            return False
        if not self.lost or self.process is None or not is_alive(self.process):
            return True
        time.sleep(timeout)  # an orphan now: nobody will tell us, so look
        return not is_alive(self.process)


class ForkServer:
    """A running forkserver.py with its preloaded modules."""

    def __init__(
        self, python: str, preload: Sequence[str], env: Mapping[str, str], start_timeout_s: float = 300.0
    ) -> None:
        self._command = [python, str(SERVER_PROGRAM), *preload]
        self._env = dict(env)
        self._start_timeout_s = start_timeout_s
        self._ids = itertools.count(1)
        self._children: dict[int, ForkChild] = {}
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._dead = False
        self._proc: subprocess.Popen[bytes] | None = None
        self.loaded: tuple[str, ...] = ()
        self.failed: dict[str, str] = {}

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and not self._dead and self._proc.poll() is None

    def start(self) -> None:
        """Start the server and wait until it has imported its modules."""
        try:
            self._proc = subprocess.Popen(
                self._command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=self._env,
                cwd="/",
                start_new_session=True,
            )
        except OSError as exc:
            raise ExecutionFault(f"expected to start the fork server, found {exc}") from exc
        assert self._proc.stdout is not None
        threading.Thread(target=self._read, args=(self._proc.stdout,), daemon=True).start()
        if not self._ready.wait(self._start_timeout_s) or self._dead:
            self.close()
            raise ExecutionFault(f"expected the fork server to start within {self._start_timeout_s:.0f} s")

    def spawn(self, request: dict[str, Any]) -> ForkChild:
        """Ask for one child; returns once it exists. Raises ExecutionFault if the server cannot."""
        with self._lock:
            if not self.alive or self._proc is None or self._proc.stdin is None:
                raise ExecutionFault("expected a running fork server, found it stopped")
            child = ForkChild(next(self._ids))
            self._children[child.request_id] = child
            try:
                self._proc.stdin.write((json.dumps({**request, "id": child.request_id}) + "\n").encode())
                self._proc.stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                self._children.pop(child.request_id, None)
                raise ExecutionFault(f"expected the fork server to take a request, found {exc}") from exc
        if not child.started.wait(60.0) or child.pid is None:
            raise ExecutionFault(
                f"expected the fork server to fork a child, found {child.error or 'no answer'}"
            )
        return child

    def _read(self, stream: IO[bytes]) -> None:
        for line in stream:
            message = json.loads(line)
            if message.get("ready"):
                self.loaded = tuple(message["loaded"])
                self.failed = dict(message["failed"])
                self._ready.set()
            else:
                self._dispatch(message)
        self._on_death()

    def _dispatch(self, message: dict[str, Any]) -> None:
        with self._lock:
            child = self._children.get(message["id"])
            if child is None:
                return
            if "pid" in message:
                child.pid = message["pid"]
                child.process = _process(child.pid)
                child.started.set()
                return
            del self._children[message["id"]]
        child.error = message.get("error")
        child.status = message.get("status")
        child.maxrss_kb = message.get("maxrss_kb")
        child.started.set()
        child.ended.set()

    def _on_death(self) -> None:
        with self._lock:
            self._dead = True
            children, self._children = list(self._children.values()), {}
        self._ready.set()
        for child in children:
            child.lost = True
            child.error = child.error or "the fork server died"
            child.started.set()
            child.ended.set()

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the server: closing its stdin makes it kill its children and exit."""
        proc, self._dead = self._proc, True
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout_s)


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None
