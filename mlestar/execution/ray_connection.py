"""The driver's link to a Ray cluster: every Ray call made in mlestar's own process goes through here.

`RayConnection.open` joins a cluster (pinned to 127.0.0.1 when the cluster is there), registers
ray_worker.py's functions as remote tasks, and then submits, waits for, fetches and cancels them.
Ray's errors become ExecutionFault and ConfigError here, so the executor above sees no Ray types.

ray is imported inside `open` only: the driver imports this module before Ray is needed.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Any

from mlestar.errors import ConfigError, ExecutionFault
from mlestar.execution.base import Limits
from mlestar.execution.ray_worker import clean_up_run, run_on_worker
from mlestar.execution.sandbox import Sandbox

_CLEANUP_WAIT_S = 30.0
_log = logging.getLogger(__name__)


class RayConnection:
    """This process's connection to one Ray cluster, open from `open` until `close`."""

    def __init__(self, ray: Any, address: str) -> None:
        self._ray, self.address = ray, address
        self._run_task = ray.remote(num_cpus=1, max_retries=0)(run_on_worker)
        self._clean_up_task = ray.remote(num_cpus=0, max_retries=0)(clean_up_run)
        self._max_cpus = _largest_node(ray)

    @classmethod
    def open(cls, address: str, pin_loopback: bool) -> RayConnection:
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
        """Queue `run_on_worker` for one script, asking for `limits.threads` CPUs; returns its ref."""
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
            _log.debug("cancel failed", exc_info=True)

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
            _log.warning("could not clean up run %s on node %s", mark, node_id)

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
