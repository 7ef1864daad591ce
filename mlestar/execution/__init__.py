"""Running solution scripts: one Executor protocol, a local sandboxed runner, a Ray runner."""

from mlestar.execution.base import Executor, Limits, RunResult
from mlestar.execution.local import LocalExecutor

__all__ = ["Executor", "Limits", "LocalExecutor", "RunResult"]
