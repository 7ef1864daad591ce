"""A member the run could not refit on every row, whose search used a subsample of the rows: the
submission holds its stored predictions, and solution.py and the export run it on the rows it was
searched on (handover/rows.py), so both rebuild the run's submission byte for byte."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from mlestar.engineers.base import Candidate, EnsembleMember, EnsemblePlan, PlanOutcome, TaskContext
from mlestar.handover import rows
from mlestar.handover.plan import schedule
from mlestar.handover.standalone import SearchedRows, member_script
from mlestar.journal import Journal, Node
from mlestar.run_layout import RunLayout
from mlestar.versioning.finished_run import read_finished_run
from mlestar.versioning.project_files import ProjectFacts, readme
from tests.builders import build_node
from tests.search_support import config, regression_task
from tests.test_handover import _EnsemblingEngineer, _rebuild, _start

SUBSAMPLE = 60
"""Of the task's 120 training rows, the search uses these."""


class _RowsEngineer(_EnsemblingEngineer):
    """Its test predictions depend on the rows a script is given: the mean answer of the rows in a
    fold, plus each member's own noise. A member run on other rows predicts other values."""

    kind = "greedy"

    def plan_ensemble(
        self, ctx: TaskContext, members: list[EnsembleMember], history: list[PlanOutcome]
    ) -> EnsemblePlan:
        self._call("plan_ensemble")
        return EnsemblePlan(self.kind, f"{self.kind} over every member")

    def draft(self, ctx: TaskContext, candidate: Candidate) -> str:
        code = super().draft(ctx, candidate)
        assert "np.nanmean(y) + rng.normal" in code, "the scripted template changed"
        return code.replace("np.nanmean(y) + rng.normal", "np.nanmean(y[folds >= 0]) + rng.normal")


def _refusing(*members: str):  # type: ignore[no-untyped-def]
    """final.schedule, except that `members` get no time to be refit."""

    def refuse(names, weights, nodes, lanes, remaining_s):  # type: ignore[no-untyped-def]
        admitted, refused = schedule(names, weights, nodes, lanes, remaining_s)
        refused.update({m: "no time left to refit it (a test said so)" for m in members if m in names})
        return [m for m in admitted if m not in members], refused

    return refuse


def _not_ahead(*members: str):  # type: ignore[no-untyped-def]
    """Search.final_fit_ahead, except that `members` are not fitted ahead either."""
    from mlestar.search.stages import Search

    ahead = Search.final_fit_ahead

    def fit_ahead(search: Search):  # type: ignore[no-untyped-def]
        best = search.best()
        return None if best is not None and best.id in members else ahead(search)

    return fit_ahead


DRAFTS = {"a": 0.5, "b": 0.52, "c": 4.0}
"""Two good drafts and a bad one (greedy weights leave it out)."""


def _run(
    root: Path,
    refused: tuple[str, ...],
    kind: str = "greedy",
    fold_noise: bool = False,
    drafts: dict[str, float] = DRAFTS,
    **settings: object,
) -> Path:
    import mlestar.handover.final as final

    task = regression_task(root / "task")
    cfg = config(task, root / "run", subsample_rows=SUBSAMPLE, **settings)
    engineer = _RowsEngineer(drafts=dict(drafts), merge_gain=3.0, fold_noise=fold_noise)
    engineer.kind = kind
    from mlestar.search.stages import Search

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(final, "schedule", _refusing(*refused))
        mp.setattr(Search, "final_fit_ahead", _not_ahead(*refused))
        _start(cfg, engineer)
    return cfg.run_dir


def _events(run_dir: Path, name: str) -> list[dict]:  # type: ignore[type-arg]
    return [e for e in Journal(run_dir).events if e["name"] == name]


def _export_check(run_dir: Path, dest: Path):  # type: ignore[no-untyped-def]
    from mlestar.versioning import export_run

    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    return export_run(run_dir, dest, env=env, check=True)


@pytest.fixture(scope="module")
def script_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One draft, no refinement, no ensemble: the solution is a script the final fit may not refit."""
    root = tmp_path_factory.mktemp("rows-script")
    return _run(root, ("draft-0",), t_outer=0, r_ensemble=0, m_candidates=1)


def test_a_stored_script_is_run_on_its_search_rows_and_the_run_calls_it_exact(script_run: Path) -> None:
    assert int((np.load(script_run / "data/folds.npy") >= 0).sum()) == SUBSAMPLE  # the search's subsample
    (member,) = _events(script_run, "final_member")
    assert (member["member"], member["refit"], member["folds"], member["exact"]) == (
        "draft-0",
        False,
        rows.SEARCH_FOLDS_FILE,
        True,
    )
    (finished,) = _events(script_run, "run_finished")
    assert finished["exact"] and finished["stored_members"] == ["draft-0"]
    solution = (script_run / "solution.py").read_text()
    assert "SEARCH_FOLDS = {'draft-0': 'folds_search.npy'}" in solution
    words = " ".join(solution.split())
    assert "draft-0 runs on the rows it was searched on" in words and "a test said so" in words
    parts = sorted(p.name for p in (script_run / "solution_parts").iterdir())
    assert parts == ["draft-0.py", "submission.py"]


def test_the_stored_script_s_solution_rebuilds_the_submission_and_every_row_would_not(
    script_run: Path, tmp_path: Path
) -> None:
    submitted = (script_run / "submission.csv").read_bytes()
    assert _rebuild(script_run, tmp_path / "search-rows") == submitted
    # The member run on every row predicts otherwise: the search's rows are what makes it exact.
    assert _rebuild(script_run, tmp_path / "every-row", search_folds="folds_full.npy") != submitted


def test_the_stored_script_s_export_ships_the_search_folds_and_its_check_says_same(
    script_run: Path, tmp_path: Path
) -> None:
    report = _export_check(script_run, tmp_path / "export")
    assert report.check is not None and report.check.same, str(report.check)
    shipped = np.load(report.dest / "input" / rows.SEARCH_FOLDS_FILE)
    assert np.array_equal(shipped, np.load(script_run / "data/folds.npy"))
    assert f"input/{rows.SEARCH_FOLDS_FILE}" in report.data
    text = (report.dest / "README.md").read_text()
    assert f"- `draft-0` runs on `input/{rows.SEARCH_FOLDS_FILE}` ({SUBSAMPLE} rows in a fold" in text


def test_an_ensemble_runs_only_its_stored_member_on_the_search_rows(tmp_path: Path) -> None:
    run_dir = _run(tmp_path, ("draft-1",), t_outer=0, r_ensemble=1)
    final = _events(run_dir, "final")[0]
    assert final["solution_kind"] == "ensemble" and "draft-1" in final["members"]
    members = {e["member"]: e for e in _events(run_dir, "final_member")}
    assert members["draft-1"]["folds"] == rows.SEARCH_FOLDS_FILE and not members["draft-1"]["refit"]
    assert all(e["folds"] is None and e["refit"] for m, e in members.items() if m != "draft-1")
    assert all(e["exact"] for e in members.values()) and _events(run_dir, "run_finished")[0]["exact"]
    assert _rebuild(run_dir, tmp_path / "rebuild") == (run_dir / "submission.csv").read_bytes()
    searched = read_finished_run(run_dir).searched_rows
    assert searched == (("draft-1", rows.SEARCH_FOLDS_FILE, SUBSAMPLE),)


def _repeated(root: Path, kind: str) -> Path:
    """Three splits of the search's rows, each script predicting otherwise on each (as real models
    do); draft-1 not refit."""
    two = {"a": 0.5, "b": 0.52}
    run_dir = _run(root, ("draft-1",), kind, True, two, m_candidates=2, t_outer=0, r_ensemble=1, repeats=3)
    assert Journal(run_dir).nodes["draft-1"].meta["repeats"] == 3
    return run_dir


def test_a_repeated_member_s_stored_test_predictions_are_its_first_split_s_and_rebuild(
    tmp_path: Path,
) -> None:
    run_dir = _repeated(tmp_path, "greedy")
    members = {e["member"]: e for e in _events(run_dir, "final_member")}
    assert members["draft-1"]["folds"] == rows.SEARCH_FOLDS_FILE and members["draft-1"]["exact"]
    assert _rebuild(run_dir, tmp_path / "rebuild") == (run_dir / "submission.csv").read_bytes()


def test_a_stacker_reads_a_repeated_member_s_averaged_out_of_fold_predictions_so_it_is_inexact(
    tmp_path: Path,
) -> None:
    run_dir = _repeated(tmp_path, "stacking")
    assert _events(run_dir, "final")[0]["solution_kind"] == "ensemble"
    members = {e["member"]: e for e in _events(run_dir, "final_member")}
    assert not members["draft-1"]["exact"] and not _events(run_dir, "run_finished")[0]["exact"]
    (reason,) = read_finished_run(run_dir).inexact
    assert reason.startswith("draft-1 was not refit (no time left to refit it (a test said so))")
    assert reason.endswith("averaged over several splits of the rows")


# -- units ----------------------------------------------------------------------------------------


def _node(node_id: str, **meta: object) -> Node:
    return build_node(node_id, role="x", plan="", meta=meta)


def test_a_member_needs_its_search_folds_only_when_they_leave_rows_out(tmp_path: Path) -> None:
    layout = RunLayout(tmp_path)
    layout.data.mkdir()
    full = np.arange(20) % 4
    np.save(layout.folds_full, full)
    np.save(layout.folds, full)
    np.save(layout.folds_screen, np.where(np.arange(20) < 8, full % 2, -1))
    assert rows.search_folds_for(layout, _node("a")) is None  # the search used every row
    assert rows.search_folds_for(layout, _node("b", split="screen")) == rows.SCREEN_FOLDS_FILE
    np.save(layout.folds, np.where(np.arange(20) < 10, full, -1))
    assert rows.search_folds_for(layout, _node("a")) == rows.SEARCH_FOLDS_FILE
    assert rows.rows_in(layout.folds) == 10


def test_a_reason_quoting_an_error_cannot_end_solution_py_s_docstring() -> None:
    reason = 'its refit failed: SyntaxError: """ C:\\path'
    code = member_script("draft-3", SearchedRows({"draft-3": rows.SEARCH_FOLDS_FILE}, {"draft-3": reason}))
    compile(code, "solution.py", "exec")  # the docstring still ends where it should
    assert "SEARCH_FOLDS = {'draft-3': 'folds_search.npy'}" in code


def test_the_readme_says_nothing_of_search_rows_when_every_member_was_refit() -> None:
    facts = ProjectFacts("t", "r", "rmse", 0.1, "ok", 42, True, 1, True, None)
    assert "searched on" not in readme(facts)
    searched = readme(
        ProjectFacts("t", "r", "rmse", 0.1, "ok", 42, True, 1, True, None, (("m", "f.npy", 7),))
    )
    assert "- `m` runs on `input/f.npy` (7 rows in a fold" in searched and ", f.npy," in searched
