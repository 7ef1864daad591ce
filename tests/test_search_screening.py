"""The search with screening, repeated splits and widening, driven by the scripted engineer."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from mlestar.app import resume_run, start_run
from mlestar.journal import SCRIPT_STAGES, Journal
from mlestar.journal.events import Screened
from mlestar.search import screening
from mlestar.search.ranking import ensemble_members, ranked
from mlestar.status import summarize
from tests.scripted_engineer import ScriptedEngineer
from tests.search_support import LIGHT, assert_same_path, config, light_executor, regression_task

FAST = {"t_outer": 1, "k_inner": 1, "r_ensemble": 1, "repeats": 1}
"""Settings that keep a run short: one refinement round, one ensemble, one split."""


def _run(tmp_path: Path, engineer: ScriptedEngineer, name: str = "run", **settings: object):
    task = tmp_path / "task"
    if not task.exists():
        regression_task(task)
    cfg = config(task, tmp_path / name, **{**FAST, **settings})
    outcome = start_run(cfg, engineer=engineer, executor=light_executor())
    return cfg, outcome, Journal(cfg.run_dir)


def _screening(journal: Journal) -> dict:
    return next(e for e in journal.events if e["name"] == "screening")


def _families() -> ScriptedEngineer:
    return ScriptedEngineer(
        drafts={"a": 0.9, "b": 0.3, "c": 0.35, "d": 0.36, "e": 0.6},
        families={"b": "trees", "c": "trees", "d": "linear"},
    )


def test_screening_drafts_the_best_of_each_family_and_shows_its_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    eng = _families()
    cfg, outcome, journal = _run(tmp_path, eng, m_candidates=2, screen_rows=60, widen_seeds=0)
    assert outcome.status == "ok"
    screened = sorted(n.id for n in journal.nodes.values() if n.stage == "screen")
    assert screened == [f"screen-{i}" for i in range(5)]
    # Screening ran on its own split: 60 of the 120 rows, in two folds.
    folds = np.load(cfg.run_dir / "attempts/screen-0/input/folds.npy")
    assert (folds >= 0).sum() == 60 and set(folds[folds >= 0]) == {0, 1}
    assert journal.nodes["screen-0"].meta["split"] == "screen"
    # The best of "trees" (b), then the best of another family not clearly worse (d), not the
    # second tree (c).
    event = _screening(journal)
    assert event["drafts"] == ["b", "d"]
    assert [r["name"] for r in event["results"]][:3] == ["b", "c", "d"]
    draft = journal.nodes["draft-0"]
    assert draft.meta["candidate"] == "b" and draft.meta["screened_as"] == "screen-1"
    assert (cfg.run_dir / draft.code_path).read_text() == (
        cfg.run_dir / "attempts/screen-1/solution.py"
    ).read_text()
    assert eng.calls.count("draft") == 5  # one script per candidate, reused for its draft
    assert eng.screening_seen and set(eng.screening_seen) == {5}  # later roles see the table
    # The candidates left over are drafted with the time left (widening), best screened first.
    wide = [journal.nodes[f"wide-draft-{j}"].meta["candidate"] for j in range(3)]
    assert wide == ["c", "e", "a"]
    status = summarize(cfg.run_dir)
    assert "Screening: 60 rows in 2 folds" in status and "<- drafted" in status
    assert "rank  candidate" in capsys.readouterr().err


def test_screening_choices_do_not_depend_on_which_job_finishes_first(tmp_path: Path) -> None:
    # c and d tie; whichever finishes first, the engineer's order (c before d) decides.
    drafts: dict[str, float | str] = {"a": 0.9, "b": 0.3, "c": 0.5, "d": 0.5}
    families = {"c": "f1", "d": "f2"}
    first = ScriptedEngineer(drafts=drafts, families=families, draft_sleeps={"c": 1.0, "b": 1.0})
    second = ScriptedEngineer(drafts=drafts, families=families, draft_sleeps={"d": 1.0, "a": 1.0})
    runs = [
        _run(tmp_path, eng, name=f"r{i}", m_candidates=2, widen_seeds=0, max_nodes=14)
        for i, eng in enumerate((first, second))
    ]
    events = [_screening(journal) for _, _, journal in runs]
    assert events[0]["drafts"] == events[1]["drafts"] == ["b", "c"]
    assert [r["name"] for r in events[0]["results"]] == [r["name"] for r in events[1]["results"]]
    assert [r["score"] for r in events[0]["results"]] == [r["score"] for r in events[1]["results"]]


def test_screening_leaves_most_of_a_node_budget_to_the_search(tmp_path: Path) -> None:
    eng = ScriptedEngineer(drafts={k: 0.3 + 0.1 * i for i, k in enumerate("abcdef")})
    _, outcome, journal = _run(tmp_path, eng, m_candidates=2, max_nodes=12)
    screened = sorted(n.id for n in journal.nodes.values() if n.stage == "screen")
    assert screened == ["screen-0", "screen-1", "screen-2", "screen-3"]  # a third of 12
    assert _screening(journal)["drafts"] == ["a", "b"]
    assert outcome.status == "ok"


def test_a_candidate_slower_than_the_time_box_is_cut_and_not_drafted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(screening, "time_box", lambda search: 3.0)
    eng = ScriptedEngineer(drafts={"slow": 0.1, "b": 0.5, "c": 0.6}, draft_sleeps={"slow": 30.0})
    _, _, journal = _run(tmp_path, eng, m_candidates=2, widen_seeds=0, t_outer=0)
    assert journal.nodes["screen-0"].status == "timeout"
    assert journal.nodes["screen-0"].duration_s < 15.0
    assert _screening(journal)["drafts"] == ["b", "c"]
    assert "wide-draft-0" not in journal.nodes  # a candidate that failed screening is not widened to


def test_small_data_averages_several_splits_and_reports_an_interval(tmp_path: Path) -> None:
    eng = ScriptedEngineer(drafts={"a": 0.5, "b": 0.7}, fold_noise=True)
    cfg, _, journal = _run(tmp_path, eng, m_candidates=2, repeats=3, t_outer=0, widen_seeds=0)
    started = next(e for e in journal.events if e["name"] == "run_started")
    assert "120 rows" in started["validation"] and "3 splits" in started["validation"]
    node = journal.nodes["draft-0"]
    assert node.meta["repeats"] == 3 and len(set(node.meta["repeat_scores"])) == 3
    # Three independent draws of noise, averaged, score better than any one of them.
    assert node.score < min(node.meta["repeat_scores"])
    low, high = node.meta["interval"]
    assert low < node.score < high
    for r in (1, 2):
        link = cfg.run_dir / f"attempts/draft-0/repeat-{r}/input/folds.npy"
        assert os.path.realpath(link) == str((cfg.run_dir / f"data/folds_repeat{r}.npy").resolve())
    # The final fit runs once, on every row, as solution.py does.
    final = next(n for n in journal.nodes.values() if n.stage == "final")
    assert "repeats" not in final.meta and not (cfg.run_dir / f"attempts/{final.id}/repeat-1").exists()
    assert "x3 splits" in summarize(cfg.run_dir)


class _FragileEngineer(ScriptedEngineer):
    """Its first draft works on the search's own split and fails on any other."""

    def draft(self, ctx, candidate):  # type: ignore[no-untyped-def]
        code = super().draft(ctx, candidate)
        if candidate.name != "a":
            return code
        check = '    if "repeat" in Path("input/folds.npy").resolve().name:\n        raise RuntimeError("split")\n'
        return code.replace("def load():\n", "def load():\n" + check)


def test_a_script_that_fails_on_another_split_fails_and_goes_to_debugging(tmp_path: Path) -> None:
    eng = _FragileEngineer(drafts={"a": 0.5, "b": 0.7}, debug_fixes=False)
    _, outcome, journal = _run(tmp_path, eng, m_candidates=2, repeats=3, t_outer=0, widen_seeds=0)
    node = journal.nodes["draft-0"]
    assert node.status == "failed" and (node.error or "").startswith("on split 2 of 3:")
    assert "RuntimeError" in (node.error or "") and "debug" in eng.calls  # the debug role sees it
    assert journal.nodes["draft-1"].ok and outcome.status == "ok"


def test_widening_spends_time_left_on_seeds_and_stops_when_nothing_is_left(tmp_path: Path) -> None:
    eng = ScriptedEngineer()
    cfg, outcome, journal = _run(tmp_path, eng, widen_seeds=2, r_ensemble=3)
    seeds = [n.id for n in journal.nodes.values() if n.meta.get("seed_of")]  # in the order they ran
    scripts = [
        n
        for n in journal.nodes.values()
        if n.ok and n.code_path and n.stage in SCRIPT_STAGES and n.repeat_of is None
    ]
    targets = {n.id for n in scripts if "seed_of" not in n.meta}
    # Time was left once the best two had their seeds: every script got its two (which first:
    # tests/test_widen_batches.py).
    assert sorted(seeds) == sorted(f"wide-seed{k}-{t}" for t in targets for k in (1, 2))
    assert all(journal.nodes[s].stage == "widen" for s in seeds)
    base = ranked([n for n in scripts if n.stage != "widen"], lower_is_better=True)[0]
    seeded = (cfg.run_dir / journal.nodes[f"wide-seed1-{base.id}"].code_path).read_text()
    assert "SEED = 43" in seeded
    members = {m for n in journal.nodes.values() if n.stage == "ensemble" for m in n.meta["members"]}
    assert members & set(seeds)  # the seed variants reach the ensembles
    # The best script's seeds are averaged first; a variant alone is never handed over.
    top = ensemble_members(journal, lower_is_better=True)[0]
    group_of = top.seed_of or top.id
    averaged = journal.nodes[f"ens-seeds-{group_of}"]
    assert averaged.meta["members"][0] == top.id and averaged.meta["kind"] == "average"
    assert set(averaged.meta["members"]) == {group_of, f"wide-seed1-{group_of}", f"wide-seed2-{group_of}"}
    assert [(h.plan, h.score) for h in eng.ensembles_seen[0]] == [(averaged.plan, averaged.score)]
    assert outcome.status == "ok" and journal.nodes[outcome.best].seed_of is None  # type: ignore[index]


def test_seeds_stop_when_they_change_nothing(tmp_path: Path) -> None:
    eng = ScriptedEngineer(drafts={"a": 0.0})  # no noise: every seed gives the same predictions
    _, _, journal = _run(tmp_path, eng, m_candidates=1, t_outer=0, widen_seeds=3)
    assert "wide-seed1-draft-0" in journal.nodes
    assert "wide-seed2-draft-0" not in journal.nodes


class _Killed(BaseException):
    """Stands in for the process dying: nothing in the search catches it."""


def test_resume_after_a_kill_during_screening_takes_the_same_path(tmp_path: Path) -> None:
    from mlestar.execution.local import LocalExecutor

    whole = _run(tmp_path, _families(), name="whole", m_candidates=2, widen_seeds=1)

    class Killing(LocalExecutor):
        runs = 0

        def run(self, script, workdir, limits):  # type: ignore[no-untyped-def]
            Killing.runs += 1
            if Killing.runs > 3:
                raise _Killed()
            return super().run(script, workdir, limits)

    cfg = config(whole[0].task_dir, tmp_path / "killed", **{**FAST, "m_candidates": 2, "widen_seeds": 1})
    with pytest.raises(_Killed):
        start_run(cfg, engineer=_families(), executor=Killing(preload=LIGHT))
    assert not Journal(cfg.run_dir).has(Screened)
    resume_run(cfg.run_dir, engineer=_families(), executor=light_executor())
    resumed = Journal(cfg.run_dir)
    assert_same_path(resumed, whole[2])
    assert _screening(resumed)["drafts"] == _screening(whole[2])["drafts"]
    assert (cfg.run_dir / "submission.csv").read_text() == (whole[0].run_dir / "submission.csv").read_text()


def test_with_per_row_files_the_first_candidate_is_screened_alone_and_unboxed(tmp_path: Path) -> None:
    """Its script computes the files' features for the run's cache; the others start after it."""
    task = regression_task(tmp_path / "task")
    (task / "readings").mkdir()
    for i in range(160):
        (task / "readings" / f"{i}.txt").write_text(f"{i % 7} {i % 5}\n")
    cfg, outcome, journal = _run(tmp_path, _families(), m_candidates=2, screen_rows=60, widen_seeds=0)
    assert outcome.status == "ok"
    screened = sorted((n for n in journal.nodes.values() if n.stage == "screen"), key=lambda n: n.id)
    assert len(screened) == 5
    first, others = screened[0], screened[1:]
    assert all(first.ended is not None and first.ended <= n.started for n in others)
    assert "the first alone and unboxed" in _screening(journal)["split"]
    # The schedule's new start is journaled, so a resumed run lays the stages out the same way.
    start = next(e for e in journal.events if e["name"] == "memo" and e["key"] == "schedule-start")
    assert start["value"] >= first.ended - first.started


def test_work_done_once_for_every_script_moves_the_whole_schedule() -> None:
    from mlestar.search.budget import Budget

    budget = Budget.plan(300.0, 0.0, None, 0)
    search_s = budget.total_s - budget.reserve_s
    assert budget.stage_deadline("draft") == pytest.approx(0.35 * search_s)
    budget.start_schedule_after(60.0)
    assert budget.stage_deadline("screen") == pytest.approx(60.0 + 0.20 * (search_s - 60.0))
    assert budget.stage_deadline("draft") == pytest.approx(60.0 + 0.35 * (search_s - 60.0))
    assert budget.stage_deadline("ensemble") == pytest.approx(search_s)
    budget.start_schedule_after(30.0)  # never moved back
    assert budget.stage_deadline("draft") == pytest.approx(60.0 + 0.35 * (search_s - 60.0))


def test_each_split_a_script_ran_on_is_journaled_inside_its_node(tmp_path: Path) -> None:
    """meta "ran": when the script itself ran on each split, within the node's span and as long as
    the executor measured; the harness's judging around it is not in those spans."""
    eng = ScriptedEngineer(drafts={"a": 0.5, "b": 0.7}, draft_sleeps={"a": 0.5})
    _, _, journal = _run(tmp_path, eng, m_candidates=2, repeats=3, t_outer=0, widen_seeds=0)
    node = journal.nodes["draft-0"]
    spans = node.script_spans
    assert len(spans) == node.meta["repeats"] == 3
    assert node.started <= spans[0][0] < spans[0][1] <= spans[1][0] < spans[2][1] <= node.ended
    assert spans[0][1] - spans[0][0] == pytest.approx(node.result["duration_s"], abs=2e-3)
    assert all(end - start >= 0.5 for start, end in spans)  # the script's own sleep is inside


def test_a_late_stage_may_run_its_first_step_into_the_next_stages_share() -> None:
    from mlestar.search.budget import Budget

    fresh = Budget.plan(300.0, 0.0, None, 0)
    search_s = fresh.total_s - fresh.reserve_s
    # Drafts ended between the merge stage's deadline (45% of the search) and the check stage's (50%).
    late = Budget.plan(300.0, 0.47 * search_s, None, 0)
    assert not late.may_start("merge", 10.0)
    assert late.may_start("merge", 10.0, into_next=True)
    assert not late.may_start("merge", 0.1 * search_s, into_next=True)  # it would overrun that too
    later = Budget.plan(300.0, 0.51 * search_s, None, 0)
    assert not later.may_start("merge", 0.0, into_next=True)
    end = Budget.plan(300.0, 0.99 * search_s, None, 0)
    assert end.may_start("ensemble", 0.0, into_next=True) == end.may_start("ensemble", 0.0)
