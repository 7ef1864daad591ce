"""How the default suite is shared between pytest-xdist workers (`make test`: `--dist loadgroup`).

Three things, none of them a test's own work, decide the suite's wall time on two workers:
- a module-scoped fixture (a real run, an exported project, a Ray cluster) is built again on every
  worker that runs one of its tests, so the tests sharing one are kept on one worker (one group);
- the session's shared real run (tests/serving_support.py) is built by one worker while any other
  that needs it waits on its lock, so all its readers are one group as well;
- a long module started last leaves the other worker idle, so the long ones are handed out first.
Everything else is handed out test by test, which keeps both workers busy to the end.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

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
"""Modules that read the session's shared real run (serving_support.real_run)."""

LONG_FIRST = (
    "test_search.py",
    "test_builtin_e2e.py",
    "test_handover.py",
    "test_export.py",
    "test_handover_rows.py",
    "test_search_screening.py",
    "test_builtin_tasks.py",
    "test_llm_bar.py",
    "test_agent_folder.py",
    "test_ray_executor.py",
    "test_builtin_rendering.py",
    "test_replicas.py",
    "test_determinism.py",
    "test_tracking_store.py",
    "test_llm_e2e.py",
    "test_pixel_masks.py",
    "test_executor_contract.py",
)
"""The modules that took longest (CPU seconds, `--durations` and a per-test CPU log), longest
first; the shared-run group goes before all of them. A module missing here only starts later."""

SHARED_RUN_GROUP = "shared-real-run"


def group_and_order(items: list[pytest.Item]) -> None:
    """Mark every test that shares a costly fixture with others with one xdist_group per set of
    such tests, and put the long modules first (stable: each module's own order is kept)."""
    for item, group in zip(items, _groups(items), strict=True):
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=_rank)


def _rank(item: pytest.Item) -> int:
    name = item.path.name
    if name in SHARED_RUN_MODULES:
        return 0
    return 1 + LONG_FIRST.index(name) if name in LONG_FIRST else 1 + len(LONG_FIRST)


def _groups(items: list[pytest.Item]) -> list[str | None]:
    """Per item, its group name, or None when it shares no costly fixture with another test.
    Tests of a module that use one module-scoped fixture (directly or through another) are joined,
    transitively: a fixture built once per module is then built once per session."""
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    keys_per_item = [_shared_keys(item) for item in items]
    for keys in keys_per_item:
        for key in keys[1:]:
            parent[find(key)] = find(keys[0])
    sizes: dict[str, int] = {}
    for keys in keys_per_item:
        if keys:
            sizes[find(keys[0])] = sizes.get(find(keys[0]), 0) + 1
    return [find(keys[0]) if keys and sizes[find(keys[0])] > 1 else None for keys in keys_per_item]


def _shared_keys(item: pytest.Item) -> list[str]:
    """The costly things this test shares: its module's module-scoped fixtures, or the shared run."""
    if item.path.name in SHARED_RUN_MODULES:
        return [SHARED_RUN_GROUP]
    return [f"{item.path.name}::{name}" for name in _module_scoped(item)]


def _module_scoped(item: pytest.Item) -> Iterable[str]:
    info = getattr(item, "_fixtureinfo", None)  # pytest's record of the fixtures the test closes over
    if info is None:
        return ()
    return sorted(
        name
        for name, defs in info.name2fixturedefs.items()
        if defs and defs[-1].scope in ("module", "class", "package")
    )
