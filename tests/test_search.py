"""The MLE-STAR loop driven end to end by a scripted engineer: every stage and every fallback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlestar.app import resume_run, run_lock, start_run
from mlestar.engineers.base import EngineerFailure
from mlestar.errors import RunFolderError
from mlestar.execution.base import Executor
from mlestar.execution.local import LocalExecutor
from mlestar.journal import Journal
from mlestar.journal.events import RunFinished
from mlestar.report.facts import read_facts
from mlestar.retrain.warm import warm_scripts
from mlestar.run_layout import RunLayout
from mlestar.search.attempts import engineer_error
from mlestar.status import summarize
from tests.scripted_engineer import ScriptedEngineer
from tests.search_support import LIGHT, assert_same_path, config, light_executor, regression_task


def _run(
    tmp_path: Path,
    engineer: ScriptedEngineer,
    name: str = "run",
    executor: Executor | None = None,
    **settings: object,
):
    task = regression_task(tmp_path / "task")
    cfg = config(task, tmp_path / name, **settings)
    outcome = start_run(cfg, engineer=engineer, executor=executor or light_executor())
    return cfg, outcome, Journal(cfg.run_dir)


def _decisions(journal: Journal, what: str) -> list[dict]:
    return [e for e in journal.events if e["name"] == "decision" and e.get("what") == what]


def _assert_valid_submission(run_dir: Path, task_dir: Path) -> pd.DataFrame:
    sub = pd.read_csv(run_dir / "submission.csv")
    sample = pd.read_csv(task_dir / "sample_submission.csv")
    assert list(sub.columns) == list(sample.columns)
    assert sub["id"].tolist() == sample["id"].tolist()
    assert np.isfinite(sub["y"]).all()
    return sub


def test_every_stage_runs_and_all_k_plans_are_eligible(whole_run) -> None:
    cfg, outcome, journal = whole_run
    stages = {n.stage for n in journal.nodes.values()}
    assert {"draft", "merge", "ablation", "refine", "ensemble", "final"} <= stages
    assert outcome.status == "ok"
    # The last plan of the inner loop is the best one, and it is the one kept (no off-by-one).
    kept = _decisions(journal, "refinement_kept")
    assert kept and kept[0]["node"] == "t0-k1"
    # Merges that do not make things worse are kept, candidate after candidate.
    assert [d["node"] for d in _decisions(journal, "merge_kept")] == ["merge-1", "merge-2"]
    _assert_valid_submission(cfg.run_dir, cfg.task_dir)
    finished = [e for e in journal.events if e["name"] == "run_finished"]
    assert finished and finished[0]["status"] == "ok"


def test_standalone_solution_reproduces_the_submission(tmp_path: Path, whole_run) -> None:
    cfg, outcome, journal = whole_run
    work = tmp_path / "standalone"
    shutil.copytree(cfg.run_dir / "attempts" / "draft-0" / "input", work / "input", symlinks=True)
    shutil.copy(cfg.run_dir / "solution.py", work / "solution.py")
    if (cfg.run_dir / "solution_parts").exists():
        shutil.copytree(cfg.run_dir / "solution_parts", work / "solution_parts")
    subprocess.run([sys.executable, "solution.py"], cwd=work, check=True, capture_output=True)
    ours = pd.read_csv(work / "submission.csv")
    theirs = pd.read_csv(cfg.run_dir / "submission.csv")
    pd.testing.assert_frame_equal(ours, theirs)


def test_failed_draft_is_debugged(tmp_path: Path) -> None:
    eng = ScriptedEngineer(drafts={"a": "fail", "b": 0.6}, plan_gains=[0.9])
    _, _, journal = _run(tmp_path, eng, t_outer=1, k_inner=1)
    assert journal.nodes["draft-0"].status == "failed"
    assert "RuntimeError" in (journal.nodes["draft-0"].error or "")
    fixed = journal.nodes["draft-0.debug1"]
    assert fixed.ok and fixed.parent == "draft-0" and fixed.role == "debug"


def test_nothing_works_still_writes_a_valid_trivial_submission(tmp_path: Path) -> None:
    eng = ScriptedEngineer(drafts={"a": "fail", "b": "raise"}, debug_fixes=False)
    cfg, outcome, journal = _run(tmp_path, eng)
    assert outcome.status == "fallback"
    assert journal.nodes["draft-1"].status == "rejected"
    sub = _assert_valid_submission(cfg.run_dir, cfg.task_dir)
    train = pd.read_csv(cfg.task_dir / "train.csv")
    assert np.allclose(sub["y"], train["y"].mean())
    assert journal.nodes["fallback"].result["exit_code"] == 0  # the prior script itself ran in the harness
    assert "write_submission()" in (cfg.run_dir / "solution.py").read_text()


class _SpeechlessEngineer(ScriptedEngineer):
    """Fails (EngineerFailure) on the listed roles, as an engineer with nothing left to say does."""

    def __init__(self, *roles: str) -> None:
        super().__init__()
        self.silent = roles

    def _call(self, role: str) -> None:
        super()._call(role)
        if role in self.silent and not (role == "plan_next" and self.calls.count(role) == 1):
            raise EngineerFailure(f"scripted: no answer for {role}")


@pytest.mark.parametrize(
    "roles",
    [
        ("plan_next",),
        ("pick_block",),
        ("ablate", "summarize_ablation"),
        ("plan_ensemble",),
        ("check_leakage",),
    ],
)
def test_an_engineer_that_cannot_answer_a_role_does_not_end_the_run(
    tmp_path: Path, roles: tuple[str, ...]
) -> None:
    cfg, outcome, journal = _run(tmp_path, _SpeechlessEngineer(*roles))
    assert outcome.status == "ok"
    failed = [e for e in journal.events if e["name"] == "engineer_failed"]
    assert failed and all("scripted: no answer" in e["error"] for e in failed)
    _assert_valid_submission(cfg.run_dir, cfg.task_dir)
    if roles == ("plan_next",):  # the first plan comes with the block choice; the second is missing
        refine = sorted(n.id for n in journal.nodes.values() if n.stage == "refine")
        assert refine == ["t0-k0", "t0-k1", "t1-k0"]  # round 1 ran out of plans after its first
    # Cut the journal just after the last failure, as a kill would, and resume with an engineer
    # that answers everything: failures are read back, not asked again, so the path is the same.
    lines = (cfg.run_dir / "journal.jsonl").read_text().splitlines(keepends=True)
    last = max(i for i, line in enumerate(lines) if '"engineer_failed"' in line)
    (cfg.run_dir / "journal.jsonl").write_text("".join(lines[: last + 2]))
    resume_run(cfg.run_dir, engineer=ScriptedEngineer(), executor=light_executor())
    assert_same_path(Journal(cfg.run_dir), journal)


def test_an_engineer_failure_is_shown_in_its_own_words_and_a_bug_with_its_type() -> None:
    said = engineer_error(EngineerFailure("no refinement left to try on the model block"))
    assert said == "the engineer could not write this attempt: no refinement left to try on the model block"
    assert engineer_error(KeyError("view")) == "the engineer could not write this attempt: KeyError: 'view'"


def test_an_engineer_with_no_candidates_still_submits_a_prior(tmp_path: Path) -> None:
    cfg, outcome, journal = _run(tmp_path, _SpeechlessEngineer("retrieve"))
    assert outcome.status == "fallback"
    assert not journal.nodes.get("draft-0")
    _assert_valid_submission(cfg.run_dir, cfg.task_dir)


def test_a_script_that_already_ran_is_not_run_again(tmp_path: Path) -> None:
    # Plans 0 and 2 of a round write the same script (same gain on the same base); plan 1 runs
    # longer, so plan 0 is back first and plan 2 takes its lane after it.
    eng = ScriptedEngineer(plan_gains=[0.95, 0.8, 0.95, 0.8], plan_sleeps=[0.0, 1.0])
    cfg, outcome, journal = _run(tmp_path, eng, k_inner=4, t_outer=1)
    assert outcome.status == "ok"
    first, again = journal.nodes["t0-k0"], journal.nodes["t0-k2"]
    assert again.meta["same_as"] == "t0-k0" and again.result is None  # nothing ran
    assert again.score == first.score and again.duration_s == pytest.approx(first.duration_s, abs=1e-3)
    assert (cfg.run_dir / again.code_path).read_text() == (cfg.run_dir / first.code_path).read_text()
    assert "t0-k2" in summarize(cfg.run_dir) and "same script as t0-k0" in summarize(cfg.run_dir)
    members = journal.nodes["ens-0"].meta["members"]
    assert not {"t0-k0", "t0-k2"} <= set(members)  # twins are one ensemble member, not two


def test_a_script_that_predicts_what_another_did_is_no_new_member(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # Plan 2 has plan 0's gain but sleeps longer: another script, the same predictions (as more
    # tuning trials that settle on the same settings would give).
    eng = ScriptedEngineer(plan_gains=[0.95, 0.8, 0.95, 0.8], plan_sleeps=[0.0, 0.0, 0.2])
    cfg, outcome, journal = _run(tmp_path, eng, k_inner=4, t_outer=1)
    assert outcome.status == "ok"
    first, again = journal.nodes["t0-k0"], journal.nodes["t0-k2"]
    assert again.result is not None and "same_as" not in again.meta  # it ran
    assert again.meta["same_predictions_as"] == "t0-k0" and again.repeat_of == "t0-k0"
    assert first.repeat_of is None and journal.nodes["t0-k1"].repeat_of is None
    assert "(same predictions as t0-k0) plan 2" in "".join(capfd.readouterr())
    assert "(same predictions as t0-k0) plan 2" in summarize(cfg.run_dir)
    assert {n.id: n.outcome for n in read_facts(cfg.run_dir).nodes}["t0-k2"] == "repeat"
    warm = {w.source for w in warm_scripts(cfg.run_dir, limit=len(journal.nodes))}
    assert "t0-k0" in warm and "t0-k2" not in warm  # a retrain does not start from it either
    members = journal.nodes["ens-0"].meta["members"]
    assert "t0-k2" not in members and "t0-k0" in members
    assert not any(n.seed_of == "t0-k2" for n in journal.nodes.values())  # not seeded either


def test_a_plan_that_repeats_a_script_gives_its_lane_to_the_next_plan(tmp_path: Path) -> None:
    # Plan 2 writes plan 0's script again (plan 0 is back before plan 1), so it is back at once
    # and plan 3 (a second and a half) takes its lane; plan 4 takes plan 1's lane while plan 3 runs.
    eng = ScriptedEngineer(
        plan_gains=[0.95, 0.8, 0.95, 0.85, 0.7],
        sleep=0.5,
        draft_sleeps=dict.fromkeys("abc", 0.0),
        plan_sleeps=[0.3, 1.0, 0.3, 1.5],
    )
    cfg, outcome, journal = _run(tmp_path, eng, k_inner=5, t_outer=1)
    assert outcome.status == "ok" and journal.nodes["t0-k2"].meta["same_as"] == "t0-k0"
    k3, k4 = journal.nodes["t0-k3"], journal.nodes["t0-k4"]
    assert k4.plan == "plan 4" and k4.started < k3.ended  # ran beside plan 3
    assert k4.score < k3.score  # its script is its own: plan 4's gain
    kept = _decisions(journal, "refinement_kept")
    assert kept and kept[0]["node"] == "t0-k4"  # and it counts in the round like any plan


def test_a_plan_back_early_gives_its_lane_to_the_next_plan_which_sees_its_score(tmp_path: Path) -> None:
    # Plan 0's script takes 3 s, the others a fraction: plans 2 and 3 run in plan 1's lane while
    # plan 0 still runs, each written seeing the scores back so far and plan 0 pending.
    eng = ScriptedEngineer(
        plan_gains=[0.95, 0.8, 0.9, 0.85],
        plan_sleeps=[3.0, 0.3, 0.3, 0.3],
        draft_sleeps=dict.fromkeys("abc", 0.0),
    )
    cfg, outcome, journal = _run(tmp_path, eng, k_inner=4, t_outer=1)
    k = [journal.nodes[f"t0-k{i}"] for i in range(4)]
    assert outcome.status == "ok" and all(n.ok for n in k)
    assert k[2].started >= k[1].ended and k[3].started >= k[2].ended  # one lane, one after another
    assert k[3].ended < k[0].ended  # all while plan 0 ran: no batch waited for it
    seen = {len(h): h for h in eng.plans_seen}  # plan k was asked with k outcomes before it
    assert [o.score is None for o in seen[1]] == [True]  # plan 1 starts beside plan 0
    assert [o.score is None for o in seen[2]] == [True, False]  # plan 1 back, plan 0 pending
    assert [o.score is None for o in seen[3]] == [True, False, False]
    assert seen[3][1].score == k[1].score and seen[3][2].plan == "plan 2"
    kept = _decisions(journal, "refinement_kept")
    assert kept and kept[0]["node"] == "t0-k1"  # the best of the four, by the plans' gains


def test_scripts_that_differ_only_in_comments_and_docstrings_behave_the_same() -> None:
    from mlestar.syntax import behaviour_digest

    one = '"""Plan: add the ratios."""\n# %% block: model\ndef fit(x):\n    """Fit."""\n    return x * 2\n'
    two = '"""Plan: undo the member."""\n\n# %% block: model\ndef fit(x):  # doubled\n    return x * 2\n'
    other = one.replace("x * 2", "x * 3")
    assert behaviour_digest(one) == behaviour_digest(two)
    assert behaviour_digest(one) != behaviour_digest(other)
    assert behaviour_digest("def broken(:\n") != behaviour_digest("def broken(:\n\n")


def test_an_ablation_variant_that_scores_better_can_be_handed_over(tmp_path: Path) -> None:
    eng = ScriptedEngineer(ablation_gain=0.2, plan_gains=[1.5, 1.6])  # every plan is worse
    cfg, outcome, journal = _run(tmp_path, eng, t_outer=1)
    variant = journal.nodes["t0-ablate-noisier"]
    assert outcome.status == "ok" and variant.ok
    final = next(e for e in journal.events if e["name"] == "final")
    handed = journal.nodes[final["node"]]
    assert handed.id == variant.id or variant.id in handed.meta.get("members", [])


def test_failed_merge_stops_merging(tmp_path: Path) -> None:
    eng = ScriptedEngineer(merge_fails=True, debug_fixes=False)
    _, _, journal = _run(tmp_path, eng, t_outer=1, k_inner=1)
    assert journal.nodes["merge-1"].status == "failed"
    assert [d["node"] for d in _decisions(journal, "merge_rejected")] == ["merge-1"]
    assert "merge-2" not in journal.nodes


def test_missing_block_is_a_failed_attempt_not_a_corrupted_script(tmp_path: Path) -> None:
    eng = ScriptedEngineer(missing_block=True)
    cfg, outcome, journal = _run(tmp_path, eng, t_outer=1, k_inner=2)
    node = journal.nodes["t0-k0"]
    assert node.status == "rejected" and "no block named 'nowhere'" in (node.error or "")
    assert _decisions(journal, "refinement_none")
    assert outcome.status == "ok"


def test_all_plans_worse_keeps_the_current_solution(tmp_path: Path) -> None:
    eng = ScriptedEngineer(plan_gains=[1.5, 2.0])
    _, _, journal = _run(tmp_path, eng, t_outer=2, k_inner=2, r_ensemble=0)
    assert not _decisions(journal, "refinement_kept")
    assert len(_decisions(journal, "refinement_none")) == 2
    best = journal.best(lower_is_better=True, stages=("draft", "merge", "check", "refine"))
    assert best is not None and best.stage == "merge"


def test_leakage_found_is_fixed_even_at_a_lower_score(tmp_path: Path) -> None:
    eng = ScriptedEngineer(leak=True)
    _, _, journal = _run(tmp_path, eng, t_outer=1, k_inner=1)
    assert any(e["name"] == "leakage_found" for e in journal.events)
    assert _decisions(journal, "leakage_fixed")[0]["node"] == "check-leak"


@pytest.mark.parametrize(
    ("max_nodes", "leak", "last_stage"),
    [(2, False, "draft"), (4, False, "merge"), (6, True, "check"), (6, False, "refine")],
)
def test_node_budget_ends_each_stage_with_a_valid_submission(
    tmp_path: Path, max_nodes: int, leak: bool, last_stage: str
) -> None:
    # With a leak found, the check stage runs a script (the fix) after 3 drafts and 2 merges.
    cfg, outcome, journal = _run(tmp_path, ScriptedEngineer(leak=leak), max_nodes=max_nodes)
    searched = [n for n in journal.nodes.values() if n.stage not in ("final",) and n.result is not None]
    assert len(searched) <= max_nodes
    assert max(searched, key=lambda n: n.started).stage in (last_stage, "ablation")
    if leak:
        assert not any(n.stage in ("ablation", "refine") for n in journal.nodes.values())
    _assert_valid_submission(cfg.run_dir, cfg.task_dir)


def test_budget_spent_at_the_ensemble_stage_submits_the_best_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlestar.search.budget import Budget

    # The ensemble stage runs no script: its only guard is the time left for harness-computed work.
    monkeypatch.setattr(Budget, "may_compute", lambda self: False)
    cfg, outcome, journal = _run(tmp_path, ScriptedEngineer())
    assert outcome.status == "ok"
    assert not any(n.stage == "ensemble" for n in journal.nodes.values())
    final = next(e for e in journal.events if e["name"] == "final")
    assert final["solution_kind"] == "script" and journal.nodes[final["node"]].stage != "ensemble"
    _assert_valid_submission(cfg.run_dir, cfg.task_dir)


def test_time_budget_ends_on_time(tmp_path: Path) -> None:
    import time

    t0 = time.monotonic()
    cfg, outcome, journal = _run(tmp_path, ScriptedEngineer(sleep=2.0), budget_s=12.0)
    assert time.monotonic() - t0 < 12.0 + 8.0
    assert outcome.status == "ok"
    _assert_valid_submission(cfg.run_dir, cfg.task_dir)


def test_same_seed_same_decisions_and_submission(tmp_path: Path, whole_run) -> None:
    a = whole_run
    b = _run(tmp_path, ScriptedEngineer(), name="b")
    assert_same_path(b[2], a[2])
    assert (a[0].run_dir / "submission.csv").read_text() == (b[0].run_dir / "submission.csv").read_text()


class _Killed(BaseException):
    """Stands in for the process dying: nothing in the search catches it."""


def _killing_executor(after: int) -> LocalExecutor:
    class Killing(LocalExecutor):
        runs = 0

        def run(self, script, workdir, limits):  # type: ignore[no-untyped-def]
            Killing.runs += 1
            if Killing.runs > after:
                raise _Killed()
            return super().run(script, workdir, limits)

    return Killing(preload=LIGHT)


@pytest.fixture(scope="module")
def whole_run(tmp_path_factory: pytest.TempPathFactory):
    """One uninterrupted run that the resumed and repeated runs are compared with."""
    return _run(tmp_path_factory.mktemp("whole"), ScriptedEngineer(), name="whole")


@pytest.mark.parametrize("after", [1, 4, 6, 9])
def test_resume_after_a_kill_in_each_stage_ends_like_an_uninterrupted_run(
    tmp_path: Path, after: int, whole_run
) -> None:
    whole = whole_run
    task = whole[0].task_dir
    cfg = config(task, tmp_path / "killed")
    with pytest.raises(_Killed):
        start_run(cfg, engineer=ScriptedEngineer(), executor=_killing_executor(after))
    interrupted = Journal(cfg.run_dir)
    assert not interrupted.has(RunFinished)
    resume_run(cfg.run_dir, engineer=ScriptedEngineer(), executor=light_executor())
    resumed = Journal(cfg.run_dir)
    assert_same_path(resumed, whole[2])
    assert (cfg.run_dir / "submission.csv").read_text() == (whole[0].run_dir / "submission.csv").read_text()
    # Finished attempts were not run again: one node record per attempt in the file.
    ids = [
        json.loads(line)["id"]
        for line in (cfg.run_dir / "journal.jsonl").read_text().splitlines()
        if json.loads(line)["kind"] == "node"
    ]
    assert len(ids) == len(set(ids))


def test_two_processes_never_drive_one_run(tmp_path: Path) -> None:
    eng = ScriptedEngineer()
    cfg, _, _ = _run(tmp_path, eng, max_nodes=1)
    layout = RunLayout(cfg.run_dir)
    # An unfinished copy of the run, held by "another process".
    journal_lines = (cfg.run_dir / "journal.jsonl").read_text().splitlines()
    kept = [line for line in journal_lines if json.loads(line).get("name") != "run_finished"]
    (cfg.run_dir / "journal.jsonl").write_text("\n".join(kept) + "\n")
    with run_lock(layout), pytest.raises(RunFolderError, match="holds its lock"):
        resume_run(cfg.run_dir, engineer=eng)


class _Owned(LocalExecutor):
    """Notes what the run asks of the executor it was handed."""

    def __init__(self) -> None:
        super().__init__(preload=LIGHT)
        self.calls: list[str] = []

    def start(self) -> None:
        self.calls.append("start")
        super().start()

    def run(self, script, workdir, limits):  # type: ignore[no-untyped-def]
        self.calls.append("run")
        return super().run(script, workdir, limits)

    def close(self) -> None:
        self.calls.append("close")
        super().close()


@pytest.fixture(scope="module")
def one_node_run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A finished one-attempt run, and the executor it was handed (no test writes into it)."""
    executor = _Owned()
    cfg, _, _ = _run(tmp_path_factory.mktemp("one-node"), ScriptedEngineer(), max_nodes=1, executor=executor)
    return cfg, executor


def test_a_run_starts_uses_and_closes_the_executor_it_is_given(one_node_run) -> None:  # type: ignore[no-untyped-def]
    _, executor = one_node_run
    assert "start" in executor.calls and "run" in executor.calls
    assert executor.calls[-1] == "close" and executor.calls.count("close") == 1


def test_run_folder_in_use_is_refused_with_a_pointer_to_resume(one_node_run) -> None:  # type: ignore[no-untyped-def]
    cfg, _ = one_node_run
    with pytest.raises(RunFolderError, match="mlestar resume"):
        start_run(cfg, engineer=ScriptedEngineer())


def test_kill_minus_nine_mid_script_then_resume(tmp_path: Path) -> None:
    """A real SIGKILL of the whole driving process group while a script runs."""
    import signal
    import time

    task = regression_task(tmp_path / "task")
    run_dir = tmp_path / "run"
    driver = tmp_path / "driver.py"
    driver.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent.parent)!r})\n"
        "from mlestar.app import start_run\n"
        "from tests.scripted_engineer import ScriptedEngineer\n"
        "from tests.search_support import config, light_executor\n"
        f"start_run(config({str(task)!r}, {str(run_dir)!r}), engineer=ScriptedEngineer(sleep=1.5),"
        " executor=light_executor())\n"
    )
    proc = subprocess.Popen(
        [sys.executable, str(driver)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        journal = run_dir / "journal.jsonl"
        if journal.exists() and journal.read_text().count('"kind": "node"') >= 3:
            break
        time.sleep(0.2)
    time.sleep(0.5)  # let the next scripts start
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not Journal(run_dir).has(RunFinished)
    # The resumed scripts need not sleep: what is tested is that the run picks up after the kill.
    outcome = resume_run(run_dir, engineer=ScriptedEngineer(), executor=light_executor())
    assert outcome.status == "ok"
    _assert_valid_submission(run_dir, task)
    resumed = Journal(run_dir)
    assert {"draft-0", "draft-1", "draft-2"} <= set(resumed.nodes)
    assert resumed.nodes["draft-0"].ok


@pytest.fixture(scope="module")
def whole_leaky_run(tmp_path_factory: pytest.TempPathFactory):
    """An uninterrupted run whose leakage check finds something, so the check stage runs a script."""
    return _run(tmp_path_factory.mktemp("leaky"), ScriptedEngineer(leak=True), name="whole")


class _DyingEngineer(ScriptedEngineer):
    """Dies (like the process would) on the n-th call of one role: a kill inside a stage that may
    run no script at all, such as the harness-computed ensembles."""

    def __init__(self, role: str, nth: int) -> None:
        super().__init__(leak=True)
        self.role, self.nth = role, nth

    def _call(self, role: str) -> None:
        super()._call(role)
        if role == self.role and self.calls.count(role) == self.nth:
            raise _Killed()


@pytest.mark.parametrize(
    ("role", "nth", "stage"),
    [
        ("check_leakage", 1, "check"),  # before the fixed script runs
        ("summarize_ablation", 1, "refine"),  # after the check's script ran, before refinement
        ("plan_ensemble", 2, "ensemble"),  # after the first ensemble, before the second
    ],
)
def test_resume_after_a_kill_in_the_check_and_ensemble_stages(
    tmp_path: Path, role: str, nth: int, stage: str, whole_leaky_run
) -> None:
    whole = whole_leaky_run
    cfg = config(whole[0].task_dir, tmp_path / "killed")
    with pytest.raises(_Killed):
        start_run(cfg, engineer=_DyingEngineer(role, nth), executor=light_executor())
    interrupted = Journal(cfg.run_dir)
    assert not interrupted.has(RunFinished)
    if stage == "ensemble":
        assert any(n.stage == "ensemble" for n in interrupted.nodes.values())
    resume_run(cfg.run_dir, engineer=ScriptedEngineer(leak=True), executor=light_executor())
    resumed = Journal(cfg.run_dir)
    assert any(n.stage == "check" for n in resumed.nodes.values())
    assert_same_path(resumed, whole[2])
    assert (cfg.run_dir / "submission.csv").read_text() == (whole[0].run_dir / "submission.csv").read_text()
