"""How `pytest -n 2` shares the suite out (tests/scheduling.py): the units of work and their order."""

from __future__ import annotations

from pathlib import Path

from tests.scheduling import LONG_FIRST, SHARED_RUN_MODULES, SHARED_RUN_UNIT, order_long_first, unit_of

ROOT = Path(__file__).resolve().parents[1]


def test_a_module_with_a_module_scoped_fixture_is_one_unit() -> None:
    ids = [
        "tests/test_search.py::test_every_stage_runs_and_all_k_plans_are_eligible",
        "tests/test_search.py::x[1]",
    ]
    assert {unit_of(i, ROOT) for i in ids} == {"tests/test_search.py"}


def test_every_reader_of_the_shared_run_is_in_one_unit() -> None:
    ids = [f"tests/{name}::test_a" for name in sorted(SHARED_RUN_MODULES)]
    assert {unit_of(i, ROOT) for i in ids} == {SHARED_RUN_UNIT}


def test_other_tests_are_units_of_their_own() -> None:
    ids = ["tests/test_metrics.py::test_a", "tests/test_metrics.py::test_b"]
    assert [unit_of(i, ROOT) for i in ids] == ids


def test_the_modules_named_are_still_there() -> None:
    """A renamed module would silently lose its place (or, for a shared-run reader, its unit)."""
    names = {p.name for p in (ROOT / "tests").rglob("test_*.py")}
    assert set(LONG_FIRST) | SHARED_RUN_MODULES <= names


def test_shared_run_readers_then_long_modules_go_first() -> None:
    class Item:
        def __init__(self, name: str) -> None:
            self.path = ROOT / "tests" / name

    items = [Item(n) for n in ("test_metrics.py", "test_builtin_e2e.py", "test_report.py", "test_search.py")]
    order_long_first(items)  # type: ignore[arg-type]
    assert [i.path.name for i in items] == [
        "test_report.py",
        "test_search.py",
        "test_builtin_e2e.py",
        "test_metrics.py",
    ]
