"""One call from a configured executor kind to a ready Executor."""

from __future__ import annotations

import re

from mlestar.errors import ConfigError
from mlestar.execution.base import Executor
from mlestar.execution.local import LocalExecutor
from mlestar.execution.sandbox import Sandbox

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
