"""One call from a configured executor kind to a ready Executor."""

from __future__ import annotations

import contextlib
import re
import threading

from mlestar.config import RunConfig
from mlestar.errors import ConfigError
from mlestar.execution.base import Executor
from mlestar.execution.local import DEFAULT_PRELOAD, LocalExecutor
from mlestar.execution.sandbox import Sandbox, device_paths
from mlestar.execution.sandbox import resolve as resolve_sandbox

_HOST_PORT = re.compile(r"^[\w.\-\[\]:]+:\d{1,5}$")
"""A Ray cluster's address as `ray start` prints it, e.g. 10.0.0.5:6379."""

KINDS = "'local', 'ray', 'auto', 'ray://host:port' or 'host:port'"


def make_executor(kind: str, preload: tuple[str, ...], sandbox: Sandbox | None = None) -> Executor:
    """ "local": this machine; "ray": a private Ray cluster on this machine; "auto", "ray://host:port"
    or "host:port": a running Ray cluster. Ray is imported only once a Ray executor starts.
    `sandbox`: how every script is confined (None: unconfined)."""
    if kind == "local":
        return LocalExecutor(preload=preload, sandbox=sandbox)
    from mlestar.execution.ray_executor import RayExecutor

    if kind == "ray":
        return RayExecutor(sandbox=sandbox)
    if kind == "auto" or (kind.startswith("ray://") and len(kind) > len("ray://")) or _HOST_PORT.match(kind):
        return RayExecutor(address=kind, sandbox=sandbox)
    raise ConfigError(f"expected an executor kind {KINDS}, found {kind!r}")


def start_executor(config: RunConfig) -> Executor:
    """The executor the run's config names, confined as it says, started in the background."""
    level = resolve_sandbox(config.sandbox).level
    sandbox = Sandbox.for_level(
        level, disk_mb=config.disk_mb, max_processes=config.max_processes, devices=device_paths(config.device)
    )
    return started(make_executor(config.executor, DEFAULT_PRELOAD, sandbox))


def started(executor: Executor) -> Executor:
    """Start it in the background now (the fork server imports the scripts' libraries for seconds)
    while the task is read and the engineer plans. Only a head start: a failure here (or the
    executor closed first, after a user's mistake) is met again, and reported, by the first run
    that needs it."""

    def start() -> None:
        with contextlib.suppress(Exception):
            executor.start()

    threading.Thread(target=start, name="executor-start", daemon=True).start()
    return executor
