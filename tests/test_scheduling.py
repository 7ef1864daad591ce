"""How `pytest -n 2` shares the suite out (tests/scheduling.py): the units of work and their order."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scheduling import LONG_FIRST, SHARED_RUN_MODULES, SHARED_RUN_UNIT, order_long_first, unit_of

ROOT = Path(__file__).resolve().parents[1]


def test_the_tests_needing_one_module_scoped_fixture_are_one_unit() -> None:
    ids = [
        "tests/test_search.py::test_every_stage_runs_and_all_k_plans_are_eligible",
        "tests/test_search.py::test_resume_after_a_kill_in_each_stage_ends_like_an_uninterrupted_run[1]",
    ]
    assert {unit_of(i, ROOT) for i in ids} == {"tests/test_search.py::whole_run"}


def test_a_test_needing_none_of_its_module_s_shared_fixtures_is_a_unit_of_its_own() -> None:
    free = "tests/test_search.py::test_failed_draft_is_debugged"
    assert unit_of(free, ROOT) == free


def test_every_reader_of_the_shared_run_is_in_one_unit() -> None:
    ids = [f"tests/{name}::test_a" for name in sorted(SHARED_RUN_MODULES)]
    ids.append("tests/test_report.py::test_a_run_writes_its_report_at_the_end")
    assert {unit_of(i, ROOT) for i in ids} == {SHARED_RUN_UNIT}
    free = "tests/test_report.py::test_facts_follow_the_journal"
    assert unit_of(free, ROOT) == free


MODULE = """
import pytest

@pytest.fixture(scope="module")
def cluster(): ...

@pytest.fixture(scope="module")
def run(cluster): ...

@pytest.fixture(scope="class")
def server(): ...

@pytest.fixture(scope="module")
def table(): ...

@pytest.fixture
def row(table): ...

def test_run(run): ...
def test_cluster(cluster, tmp_path): ...
def test_both(server, row): ...
def test_table(table): ...
def test_free(tmp_path): ...
"""


def _units(tmp_path: Path, text: str) -> dict[str, str]:
    (tmp_path / "test_mod.py").write_text(text)
    names = ("test_run", "test_cluster", "test_both", "test_table", "test_free")
    return {n: unit_of(f"test_mod.py::{n}[x]", tmp_path) for n in names}


def test_shared_fixtures_needed_together_or_built_from_one_another_are_one_unit(tmp_path: Path) -> None:
    units = _units(tmp_path, MODULE)
    assert units["test_run"] == units["test_cluster"] == "test_mod.py::cluster+run"
    # server and table are needed together (through the function-scoped row).
    assert units["test_both"] == units["test_table"] == "test_mod.py::server+table"
    assert units["test_free"] == "test_mod.py::test_free[x]"


@pytest.mark.parametrize(
    "extra",
    [
        "pytestmark = pytest.mark.usefixtures('table')\n",
        "@pytest.fixture(scope='module', autouse=True)\ndef everywhere(): ...\n",
        "def test_late(request): request.getfixturevalue('run')\n",
    ],
)
def test_a_module_whose_needs_are_not_in_the_signatures_is_one_unit(tmp_path: Path, extra: str) -> None:
    assert set(_units(tmp_path, MODULE + extra).values()) == {"test_mod.py::*"}


def test_a_test_not_found_in_its_module_s_source_goes_with_the_whole_module() -> None:
    assert unit_of("tests/test_search.py::test_gone", ROOT) == "tests/test_search.py::*"


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
        "test_builtin_e2e.py",
        "test_search.py",
        "test_metrics.py",
    ]
