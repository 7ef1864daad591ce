"""The executor seam: what running one script takes and gives back."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mlestar.config import RunConfig


@dataclass(frozen=True)
class Limits:
    """What one script may use."""

    timeout_s: float = 600.0
    memory_mb: int | None = RunConfig.memory_mb  # the run's defaults, stated once in config.py
    threads: int = 1
    max_processes: int = RunConfig.max_processes
    """Processes and threads the script may have at once (a fork bomb stops here)."""
    file_mb: int | None = 4096
    """The largest file it may write."""
    disk_mb: int | None = RunConfig.disk_mb
    """What its attempt folder may hold in all."""
    env: tuple[tuple[str, str], ...] = ()
    """Extra environment variables for the script (after secrets are scrubbed)."""


@dataclass(frozen=True)
class RunResult:
    """What happened when a script ran. A failing script is a result, never an exception."""

    exit_code: int | None
    """The process's exit status; None when it was killed by a signal."""
    signal: int | None
    timed_out: bool
    duration_s: float
    peak_memory_mb: float | None
    stdout_tail: str
    stderr_tail: str
    exception: str | None = None
    """The name of the exception that ended the script, e.g. "KeyError"."""
    traceback: str | None = None
    """The trimmed traceback, last frames first to go when trimming."""
    outputs: tuple[str, ...] = field(default_factory=tuple)
    """Paths of the files the script left in its output folder, relative to its workdir."""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunResult:
        return cls(**{**data, "outputs": tuple(data.get("outputs", ()))})


class Executor(Protocol):
    """Runs one Python script in its working folder under limits."""

    def run(self, script: Path, workdir: Path, limits: Limits) -> RunResult: ...

    def start(self) -> None:
        """Get ready now (start servers, connect) rather than on the first run."""
        ...

    def close(self) -> None: ...
