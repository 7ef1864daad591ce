"""How the default suite is shared between pytest-xdist workers (`make test`: `pytest -n 2`).

Three things, none of them a test's own work, decide the suite's wall time on two workers:
- a module-scoped fixture (a real run, an exported project, a Ray cluster) is built again on every
  worker that runs one of its tests, so the tests that need it are one unit of work, run by one
  worker (tests/shared_fixtures.py reads which those are; a module's other tests are free);
- the session's shared real run (tests/serving_support.py) is built by one worker while any other
  that needs it waits on its lock, so all its readers are one unit as well;
- a long module started last leaves the other worker idle, so the long ones are handed out first.
Every other test is a unit of its own, which keeps both workers busy to the end.

The units are decided on the controller, which collects nothing: from the test ids and the test
files' text. (pytest-xdist's own `xdist_group` mark cannot do this: with pytest 9 the worker's
renamed test ids no longer reach the controller.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from xdist.scheduler import LoadScopeScheduling

from tests.shared_fixtures import module_needs

SHARED_RUN_MODULES = frozenset(
    {
        "test_monitoring_monitor.py",
        "test_report.py",
        "test_retrain.py",
        "test_serving_cli.py",
        "test_serving_http.py",
        "test_serving_mlflow.py",
    }
)
"""Modules that read the session's shared real run (serving_support.real_run) in their module-scoped
fixtures; their tests that need none of those are free like any other."""

LONG_FIRST = (
    "test_builtin_e2e.py",
    "test_search.py",
    "test_export.py",
    "test_handover.py",
    "test_builtin_tasks.py",
    "test_handover_rows.py",
    "test_llm_bar.py",
    "test_search_screening.py",
    "test_builtin_rendering.py",
    "test_handover_reuse.py",
    "test_replicas.py",
    "test_ray_executor.py",
    "test_llm_providers.py",
    "test_llm_e2e.py",
    "test_determinism.py",
    "test_agent_folder.py",
    "test_tracking_store.py",
    "test_pixel_masks.py",
    "test_runner.py",
    "test_executor_contract.py",
    "test_media_engineer.py",
    "test_sandbox_cli.py",
    "test_sandbox.py",
)
"""The modules that took longest (CPU seconds per module, measured with a per-test CPU log), the one
with the largest unit that cannot be split (the bundled example's run) first; the shared-run readers
go before all of them, so the two largest units start together, one on each worker. A module
missing here only starts later."""

SHARED_RUN_UNIT = "shared-real-run"


class ModuleFixtureScheduling(LoadScopeScheduling):
    """Units of work as the module docstring says, handed out in collection order."""

    def _split_scope(self, nodeid: str) -> str:
        return unit_of(nodeid, self.config.rootpath)


def unit_of(nodeid: str, root: Path) -> str:
    """The unit of work a test belongs to (tests of one unit run on one worker, in order)."""
    path, _, rest = nodeid.partition("::")
    test_name = rest.split("::")[-1].split("[", 1)[0]
    group = module_needs(str(root / path)).group_of(test_name)
    if not group:
        return nodeid
    # A shared-run reader's module fixtures all stem from the shared run.
    return SHARED_RUN_UNIT if Path(path).name in SHARED_RUN_MODULES else f"{path}::{group}"


def make_scheduler(config: pytest.Config, log: object) -> ModuleFixtureScheduling:
    # The units are already in the order they should start (see order_long_first); the stock
    # reordering by the number of tests per unit would undo it.
    config.option.loadscopereorder = False
    return ModuleFixtureScheduling(config, log)  # type: ignore[arg-type]


def order_long_first(items: list[pytest.Item]) -> None:
    """The shared-run readers, then the long modules, then the rest (stable: a module keeps its
    own order, so its module-scoped fixtures are still built once when run in one process)."""
    items.sort(key=_rank)


def _rank(item: pytest.Item) -> int:
    name = item.path.name
    if name in SHARED_RUN_MODULES:
        return 0
    return 1 + LONG_FIRST.index(name) if name in LONG_FIRST else 1 + len(LONG_FIRST)
