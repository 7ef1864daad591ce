"""The solution's final fit, run ahead of the hand-over on a lane the search leaves idle: the hand-over
finds it under its id and does not refit, the best so far's file holds its answers before the search
ends, and the time kept for it goes back to the search. A fit of a script later beaten is not used."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mlestar.app import start_run
from mlestar.engineers.base import TaskContext, Variant
from mlestar.journal import Journal, Node, Stage
from mlestar.journal.events import AttemptStarted, FinalChosen, FinalMember, SubmissionWritten
from mlestar.run_layout import RunLayout
from mlestar.search.saved_models import delete_unused, model_path
from tests.builders import build_node
from tests.scripted_engineer import ScriptedEngineer
from tests.search_support import config, light_executor, regression_task

WORSE = [1.5, 1.6, 1.5, 1.6]
"""Plan gains that make every refinement worse: the solution after the checks stays the best."""


def _run(tmp_path: Path, engineer: ScriptedEngineer, **settings: object) -> Journal:
    """The search on a subsample of the rows, its scripts' answers depending on the rows they are
    given: a final fit predicts otherwise than the search run (as on a large task)."""
    engineer.rows_answer = True
    task = regression_task(tmp_path / "task")
    cfg = config(task, tmp_path / "run", subsample_rows=60, **settings)
    outcome = start_run(cfg, engineer=engineer, executor=light_executor())
    assert outcome.status == "ok"
    return Journal(cfg.run_dir)


def _started(journal: Journal, node_id: str) -> list[float]:
    return [e.time for e in journal.find_any(AttemptStarted) if e.node == node_id]


def test_the_solution_s_final_fit_runs_ahead_and_the_hand_over_uses_it(tmp_path: Path) -> None:
    # One plan per round: each refinement leaves a lane idle, where the final fit runs.
    journal = _run(tmp_path, ScriptedEngineer(plan_gains=WORSE), t_outer=1, k_inner=1, r_ensemble=0)
    chosen = journal.last(FinalChosen)
    assert chosen is not None and chosen.members == [chosen.node]  # a script
    fit = journal.nodes[f"final-{chosen.node}"]
    assert fit.ok and "ahead of the hand-over" in fit.plan
    assert fit.ended < chosen.time  # done while the search ran
    assert len(_started(journal, fit.id)) == 1  # the hand-over did not run it again
    (member,) = [e for e in journal.find_any(FinalMember) if e.member == chosen.node]
    assert member.refit and member.exact
    writes = list(journal.find_any(SubmissionWritten))
    ahead = [w for w in writes if w.node == fit.id]
    assert ahead and ahead[0].answers == "final" and ahead[0].time < chosen.time
    assert not [w for w in writes if w.time > chosen.time]  # the file held the final answers already


def test_the_next_scripts_an_ensemble_would_draw_on_are_fitted_ahead_after_the_best(tmp_path: Path) -> None:
    """The final reserve keeps time for the best few scripts (an ensemble may win): once the best is
    fitted ahead, the lanes left idle fit the next ones, most likely first."""
    from mlestar.search.ranking import ensemble_members

    engineer = ScriptedEngineer(plan_gains=WORSE, sleep=0.3)
    journal = _run(tmp_path, engineer, t_outer=3, k_inner=1, r_ensemble=0)
    chosen = journal.last(FinalChosen)
    assert chosen is not None
    ahead = sorted((n for n in journal.nodes.values() if "ahead" in n.plan), key=lambda n: n.started)
    likely = [n.id for n in ensemble_members(journal, lower_is_better=True)[:3]]
    assert len(ahead) >= 2 and all(n.ok for n in ahead)
    assert [n.parent for n in ahead] == likely[: len(ahead)] and likely[0] == chosen.node


def test_a_fit_ahead_that_failed_is_tried_again_by_the_hand_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fit ahead beside another script may run out of memory or time: the hand-over, with the
    machine to itself, tries once more under an id of its own, and submits that fit."""
    from mlestar.search import keys
    from mlestar.search.stages import Search

    def failing(search: Search, script: Node) -> Node:
        att = keys.final_fit(script, ahead=True)
        return search.harness.record_failure(att, "MemoryError: beside another script", time.time())

    monkeypatch.setattr(Search, "_fit_ahead", failing)
    journal = _run(tmp_path, ScriptedEngineer(plan_gains=WORSE), t_outer=1, k_inner=1, r_ensemble=0)
    chosen = journal.last(FinalChosen)
    assert chosen is not None
    first, again = journal.nodes[f"final-{chosen.node}"], journal.nodes[f"final-{chosen.node}-again"]
    assert not first.ok and first.ended < chosen.time
    assert again.ok and again.started > chosen.time and "again" in again.plan
    (member,) = [e for e in journal.find_any(FinalMember) if e.member == chosen.node]
    assert member.refit and member.exact
    last = list(journal.find_any(SubmissionWritten))[-1]
    assert last.answers == "final" and last.time > again.ended  # the second fit's answers


def test_a_fit_ahead_of_a_script_later_beaten_is_not_used(tmp_path: Path) -> None:
    # The checked solution is fitted ahead beside the ablation; the plan then beats it, and, the
    # last attempt of the search, is refit by the hand-over.
    journal = _run(tmp_path, ScriptedEngineer(plan_gains=[0.8]), t_outer=1, k_inner=1, r_ensemble=0)
    chosen = journal.last(FinalChosen)
    assert chosen is not None and chosen.node == "t0-k0"  # the plan beat the checked solution
    stale = [n for n in journal.nodes.values() if n.stage == Stage.FINAL and n.parent != chosen.node]
    assert stale and all(n.ok and "ahead" in n.plan and n.ended < chosen.time for n in stale)
    (member,) = list(journal.find_any(FinalMember))
    assert member.member == "t0-k0" and member.refit
    refit = journal.nodes["final-t0-k0"]
    assert "ahead" not in refit.plan and _started(journal, refit.id)[0] > chosen.time
    last = list(journal.find_any(SubmissionWritten))[-1]  # the submission holds the new best's refit
    assert last.answers == "final" and last.time > chosen.time


def test_no_fit_ahead_under_max_nodes(tmp_path: Path) -> None:
    """Runs under --max-nodes take a path set by counts alone: the final fit is the hand-over's."""
    journal = _run(
        tmp_path, ScriptedEngineer(plan_gains=WORSE), t_outer=1, k_inner=1, r_ensemble=0, max_nodes=12
    )
    chosen = journal.last(FinalChosen)
    assert chosen is not None
    finals = [n for n in journal.nodes.values() if n.stage == Stage.FINAL]
    assert finals and all(_started(journal, n.id)[0] > chosen.time for n in finals)


def test_the_time_kept_for_the_final_fit_goes_back_to_the_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every refit is taken to last 60 s: the three likely members on two lanes, 1.3 * 120 + 3 =
    159 s kept; once the best is fitted ahead, the other two: 1.3 * 60 + 3 = 81 s. The scripts'
    time boxes (what the search has left) grow by the difference."""
    from mlestar.search import attempts

    monkeypatch.setattr(attempts, "refit_seconds", lambda node: 60.0)
    engineer = ScriptedEngineer(plan_gains=WORSE, sleep=0.3)
    journal = _run(tmp_path, engineer, t_outer=1, k_inner=1, r_ensemble=0, widen_seeds=1, budget_s=600.0)
    fit = min((n for n in journal.nodes.values() if "ahead" in n.plan), key=lambda n: n.started)
    searched = [e for e in journal.find_any(AttemptStarted) if not e.node.startswith("final-")]
    # Time boxes only shrink as the search goes on and its reserve is set, except where time comes back.
    rises = [(b.timeout_s - a.timeout_s, b.time) for a, b in zip(searched, searched[1:], strict=False)]
    back = [(rise, when) for rise, when in rises if rise > 0.0]
    assert back and back[0][0] > 70.0 and back[0][1] > fit.started  # 78 s, less a moment


def test_the_hand_over_deletes_the_models_of_final_fits_it_does_not_use(tmp_path: Path) -> None:
    layout = RunLayout(tmp_path)
    nodes: list[Node] = [
        build_node("final-draft-0", parent="draft-0", stage="final"),
        build_node("final-t0-k0", parent="t0-k0", stage="final"),
    ]
    for node in nodes:
        path = model_path(layout, node.id)
        path.parent.mkdir(parents=True)
        path.write_bytes(b"model")
    delete_unused(layout, nodes, {"final-t0-k0"})
    assert not model_path(layout, "final-draft-0").exists() and model_path(layout, "final-t0-k0").exists()


def test_a_fit_ahead_that_raises_is_said_and_left_to_the_hand_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from mlestar.search.stages import Search

    def broken(search: Search, best: Node) -> Node:
        raise OSError("the disk is gone")

    monkeypatch.setattr(Search, "_fit_ahead", broken)
    with caplog.at_level("WARNING", logger="mlestar.search.attempts"):
        journal = _run(tmp_path, ScriptedEngineer(plan_gains=WORSE), t_outer=1, k_inner=1, r_ensemble=0)
    assert "spare work failed (left to the hand-over): OSError: the disk is gone" in caplog.text
    chosen = journal.last(FinalChosen)
    assert chosen is not None
    fit = journal.nodes[f"final-{chosen.node}"]
    assert fit.ok and "ahead" not in fit.plan and _started(journal, fit.id)[0] > chosen.time


class _NoAblation(ScriptedEngineer):
    """Proposes no ablation variant: refinement goes from the block choice straight to its plans."""

    def ablate(self, ctx: TaskContext, code: str, previous: list[str]) -> list[Variant]:
        self._call("ablate")
        return []


def test_a_fit_ahead_takes_only_a_lane_idle_beside_the_search_s_own_attempts(tmp_path: Path) -> None:
    # No ablation variant: between two steps no lane is idle (the plans want both), so the fit
    # waits until plan 1 is back with no plan to follow it, and runs beside plan 0.
    engineer = _NoAblation(plan_gains=WORSE, plan_sleeps=[1.5, 0.2])
    journal = _run(tmp_path, engineer, t_outer=1, k_inner=2, r_ensemble=0)
    k0, k1 = journal.nodes["t0-k0"], journal.nodes["t0-k1"]
    fit = next(n for n in journal.nodes.values() if "ahead" in n.plan)
    assert k1.started < k0.ended  # the two plans side by side
    assert k1.ended <= fit.started < k0.ended  # in plan 1's lane once it was back
