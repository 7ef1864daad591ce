"""Running solution scripts: one Executor protocol, a local sandboxed runner, a Ray runner."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlestar.execution.base import Executor, Limits, RunResult
from mlestar.execution.local import LocalExecutor

if TYPE_CHECKING:
    from mlestar.execution.ray_executor import RayExecutor

__all__ = ["Executor", "Limits", "LocalExecutor", "RayExecutor", "RunResult"]


def __getattr__(name: str) -> Any:
    # Lazy: the executor imports ray_keeper, which `python -m mlestar.execution.ray_keeper` (the
    # cluster's keeper process) must not find imported already.
    if name == "RayExecutor":
        from mlestar.execution.ray_executor import RayExecutor

        return RayExecutor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
