"""Drive one `mlestar run` for the hostile suite, in a process of its own (so the provider key is in
its real environment, where /proc/PID/environ shows it): python -m tests.hostile.driver SETTINGS_JSON.

The settings fix what the CLI does not expose (the number of candidates, no debugging of failed
drafts) and a light fork server; everything else is the product's own path: the LLM engineer on the
scripted server, the sandbox chosen by --sandbox auto, the local executor.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from mlestar import app
from mlestar.config import RunConfig, SearchSettings
from mlestar.execution.local import LocalExecutor
from mlestar.execution.sandbox import Sandbox, resolve
from mlestar.llm.settings import LLMSettings


def main(settings: dict) -> int:
    config = RunConfig(
        task_dir=Path(settings["task"]),
        run_dir=Path(settings["run"]),
        budget_s=float(settings["budget_s"]),
        max_nodes=int(settings["max_nodes"]),
        jobs=int(settings.get("jobs", 2)),
        engineer="openai:scripted-model",
        search=SearchSettings(m_candidates=int(settings["candidates"]), max_debug_rounds=0, n_folds=3),
        memory_mb=int(settings["memory_mb"]),
        disk_mb=int(settings["disk_mb"]),
        max_processes=int(settings["max_processes"]),
        tracking=False,
        live=False,
    )
    # As the run would build it, but a light fork server: these scripts import nothing else.
    sandbox = Sandbox.for_level(
        resolve(config.sandbox).level, disk_mb=config.disk_mb, max_processes=config.max_processes
    )
    executor = LocalExecutor(preload=("numpy", "pandas"), sandbox=sandbox)
    outcome = app.start_run(config, LLMSettings.from_env(os.environ, config.engineer), executor=executor)
    print(json.dumps({"status": outcome.status, "best": outcome.best}))
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
