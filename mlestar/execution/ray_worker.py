"""What runs on a Ray worker: one script as one task, and the clean-up of a run on its node.

The driver (ray_executor.py, through ray_connection.py) ships these functions by reference, so a
worker imports this module and what it needs (the local runner), never the driver nor the keeper.
A script runs under a plain-subprocess LocalExecutor: the same limits, scrubbed environment,
sandbox, output files and RunResult as running locally. The task writes a start file into the
run's folder: the driver reads there when the script really started (a queued task is not late)
and which worker to kill if the task stops answering.

ray is imported inside the task only: the driver imports this module before Ray is needed.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil

from mlestar.execution.base import Limits
from mlestar.execution.env import RAY_RUN_MARK_VARIABLE
from mlestar.execution.local import LocalExecutor
from mlestar.execution.sandbox import Sandbox
from mlestar.execution.supervise import kill_marked


def start_file_name(mark: str) -> str:
    """The file in the run's folder that says a run has started, on which node and worker."""
    return f".ray-run-{mark}.json"


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

    start_file = Path(workdir) / start_file_name(mark)
    node_id, me = ray.get_runtime_context().get_node_id(), psutil.Process()
    start_file.write_text(json.dumps({"node_id": node_id, "worker": [me.pid, me.create_time()]}))
    executor = LocalExecutor(use_forkserver=False, base_env=base_env, tail_chars=tail_chars, sandbox=sandbox)
    try:
        marked = replace(limits, env=(*limits.env, (RAY_RUN_MARK_VARIABLE, mark)))
        return executor.run(Path(script), Path(workdir), marked).to_json()
    finally:
        executor.close()
        start_file.unlink(missing_ok=True)


def clean_up_run(mark: str, worker: tuple[int, float] | None) -> int:
    """The clean-up task, on the run's node: kill its worker (if that pid is still the same process)
    and its scripts (they run in sessions of their own, so they outlive the worker)."""
    if worker is not None:
        try:
            proc = psutil.Process(worker[0])
            if proc.create_time() == worker[1] and proc.pid != os.getpid():
                proc.kill()
        except psutil.Error:
            pass
    return kill_marked(RAY_RUN_MARK_VARIABLE, mark)
