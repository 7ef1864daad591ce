"""Leakage is checked on every solution that becomes the current best, not only the first: a
refinement that brings a leak in is caught, and its fix becomes the current solution."""

from __future__ import annotations

from pathlib import Path

from mlestar.app import start_run
from mlestar.engineers.base import LeakageReport, TaskContext
from mlestar.journal import Journal
from tests.scripted_engineer import ScriptedEngineer, noise_of, script
from tests.search_support import config, light_executor, regression_task


class _LeakyRefiner(ScriptedEngineer):
    """Its refinements lower the noise; below NOISE 0.4 a script 'leaks', and the fix puts the
    noise back at 0.45. Every script it is asked about is noted."""

    def __init__(self) -> None:
        super().__init__(drafts={"a": 0.5, "b": 0.6}, plan_gains=[0.7, 0.9])
        self.checked: list[float] = []

    def check_leakage(self, ctx: TaskContext, code: str) -> LeakageReport:
        self._call("check_leakage")
        noise = noise_of(code)
        self.checked.append(noise)
        if noise < 0.4:
            return LeakageReport((f"scripted leak at noise {noise:.3f}",), fixed_code=script(0.45))
        return LeakageReport(())


def test_each_refinement_kept_is_checked_for_leakage_and_its_leak_fixed(tmp_path: Path) -> None:
    engineer = _LeakyRefiner()
    cfg = config(regression_task(tmp_path / "task"), tmp_path / "run", t_outer=2, k_inner=2, r_ensemble=1)
    start_run(cfg, engineer=engineer, executor=light_executor())
    journal = Journal(cfg.run_dir)
    kept = [e["node"] for e in journal.events if e.get("what") == "refinement_kept"]
    assert len(kept) >= 1
    assert len(engineer.checked) == 1 + len(kept)  # the first solution, then every refinement kept
    found = [e for e in journal.events if e["name"] == "leakage_found"]
    assert [e["node"] for e in found] == [k for k in kept if noise_of(_code(cfg.run_dir, journal, k)) < 0.4]
    assert found, "a refinement brought a leak in"
    fixed = [e for e in journal.events if e.get("what") == "leakage_fixed"]
    assert fixed and fixed[0]["node"].endswith("-check-leak") and fixed[0]["base"] == found[0]["node"]
    assert journal.nodes[fixed[0]["node"]].stage == "refine"


def _code(run_dir: Path, journal: Journal, node_id: str) -> str:
    return (run_dir / journal.nodes[node_id].code_path).read_text()  # type: ignore[operator]
