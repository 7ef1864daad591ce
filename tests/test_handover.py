"""The hand-over: what is handed over (plan.py), solution.py's shape (standalone.py), and whole runs
whose submission `python solution.py` rebuilds byte for byte, zero-weight members left out."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlestar.app import resume_run, start_run
from mlestar.blocks import get_block
from mlestar.engineers.base import Candidate, EnsembleMember, EnsemblePlan, PlanOutcome, TaskContext
from mlestar.handover.plan import HandoverPlan, plan_of, schedule
from mlestar.handover.shipped import write_parts
from mlestar.handover.standalone import standalone_script
from mlestar.handover.submission import to_submission_frame, write_submission
from mlestar.journal import Journal, Node, Stage
from mlestar.journal.events import FinalChosen, SubmissionWritten
from mlestar.search.budget import Budget, packed_s, refit_seconds
from tests.builders import build_node
from tests.scripted_engineer import ScriptedEngineer
from tests.search_support import config, handover_refits, light_executor, regression_task


def _node(node_id: str, duration: float = 1.0, **meta: object) -> Node:
    code = None if meta else f"attempts/{node_id}/solution.py"
    stage = Stage.ENSEMBLE if meta else Stage.REFINE
    return build_node(node_id, stage=stage, role="x", plan="", code_path=code, ended=duration, meta=meta)


# -- what is handed over ----------------------------------------------------------------------------


def test_a_script_hands_over_itself() -> None:
    assert plan_of(_node("t1-k2")) == HandoverPlan("t1-k2", "script", ("t1-k2",), (1.0,))


def test_members_with_zero_weight_are_left_out_of_a_weighted_ensemble() -> None:
    best = _node("ens-1", kind="greedy", members=["a", "b", "c", "d"], weights=[0.6, 0.0, 0.4, 0.0])
    plan = plan_of(best)
    assert plan.members == ("a", "c") and plan.weights == (0.6, 0.4) and plan.dropped == ("b", "d")
    average = plan_of(_node("ens-0", kind="average", members=["a", "b"], weights=[0.5, 0.5]))
    assert average.members == ("a", "b") and not average.dropped
    stacking = plan_of(_node("ens-2", kind="stacking", members=["a", "b"], meta_model="linear"))
    assert stacking.members == ("a", "b") and stacking.weights == (0.5, 0.5)


def test_refits_go_most_weighted_first_and_a_member_without_time_is_refused_with_the_reason() -> None:
    nodes = {"a": _node("a", 40.0), "b": _node("b", 30.0), "c": _node("c", 25.0)}
    weights = {"a": 0.2, "b": 0.5, "c": 0.3}
    admitted, refused = schedule(["a", "b", "c"], weights, nodes, lanes=2, remaining_s=60.0)
    assert admitted == ["b", "c"]  # b and c in parallel; a (least weight) would end at 25 + 40 s
    assert refused == {"a": "no time left to refit it: it takes about 40 s, 35 s were left"}
    assert schedule(["a", "b", "c"], weights, nodes, lanes=2, remaining_s=70.0) == (["b", "c", "a"], {})


def test_a_refit_takes_one_run_of_a_script_the_search_repeated_on_several_splits() -> None:
    repeated = build_node(
        "t0-k1", stage=Stage.REFINE, role="x", plan="", code_path="a.py", ended=90.0, meta={"repeats": 3}
    )
    assert refit_seconds(repeated) == 30.0 and refit_seconds(_node("b", 40.0)) == 40.0
    admitted, refused = schedule(["t0-k1"], {"t0-k1": 1.0}, {"t0-k1": repeated}, lanes=1, remaining_s=45.0)
    assert admitted == ["t0-k1"] and not refused


def test_with_nothing_to_refit_the_reserve_keeps_seconds_for_the_hand_over_not_a_share() -> None:
    assert Budget.plan(300.0, 0.0, None, 0).reserve_s == 15.0
    assert Budget.plan(3600.0, 0.0, None, 0).reserve_s == pytest.approx(72.0)  # 2% of a long budget
    assert Budget.plan(20.0, 0.0, None, 0).reserve_s == pytest.approx(6.0)  # at most 30%


def test_the_reserve_covers_every_member_packed_into_parallel_refits() -> None:
    assert packed_s([40.0, 30.0, 25.0], lanes=2) == 55.0 and packed_s([40.0, 30.0], lanes=1) == 70.0
    budget = Budget.plan(600.0, 0.0, None, 0)
    budget.reserve_for_final_fit(40.0, 30.0, 25.0, lanes=2)
    assert budget.reserve_s == pytest.approx(1.3 * 55.0 + 3.0)
    budget.reserve_for_final_fit(150.0)
    assert budget.reserve_s == pytest.approx(0.3 * 600.0)  # never more than 30% of the budget
    # A member that cannot be refit within that holds no time: the search spends it.
    budget.reserve_for_final_fit(1000.0)
    assert budget.reserve_s == pytest.approx(budget.base_reserve_s)
    budget.reserve_for_final_fit(100.0, 1000.0)  # the most likely member fits, the second does not
    assert budget.reserve_s == pytest.approx(1.3 * 100.0 + 3.0)


def test_max_nodes_shares_of_a_batch_follow_the_order_of_its_attempts() -> None:
    budget = Budget.plan(600.0, 0.0, max_nodes=10, nodes_run=5)
    assert [s.allowed for s in budget.batch_shares(4, runs_each=2)] == [2, 1, 1, 1]
    budget = Budget.plan(600.0, 0.0, max_nodes=10, nodes_run=8)
    shares = budget.batch_shares(3, runs_each=3)
    assert [s.allowed for s in shares] == [1, 1, 0]
    assert budget.take_node(shares[2]) is False and budget.take_node(shares[1]) is True
    assert budget.take_node(shares[1]) is False and budget.nodes_run == 9
    assert all(s.allowed is None for s in Budget.plan(60.0, 0.0, None, 0).batch_shares(3, 2))


# -- solution.py's shape ------------------------------------------------------------------------------


def _top_level_names(code: str) -> Counter[str]:
    names: Counter[str] = Counter()
    for s in ast.parse(code).body:
        if isinstance(s, ast.FunctionDef | ast.ClassDef):
            names[s.name] += 1
        elif isinstance(s, ast.Assign):
            names.update(t.id for t in s.targets if isinstance(t, ast.Name))
    return names


def _main_guards(code: str) -> int:
    return sum(1 for s in ast.parse(code).body if isinstance(s, ast.If) and "__main__" in ast.unparse(s.test))


def test_the_script_s_entry_point_also_writes_the_submission() -> None:
    script = (
        'ID_COLUMN = "id"\n\n\ndef main():\n    print("fit")\n\n\nif __name__ == "__main__":\n    main()\n'
    )
    code = standalone_script(script)
    assert _main_guards(code) == 1 and code.rstrip().endswith("    main()\n    write_submission()")
    assert max(_top_level_names(code).values()) == 1  # the submission block repeats no name
    assert code.index("import write_submission") < code.index('if __name__ == "__main__":')
    no_guard = standalone_script('print("fit")\n')
    assert _main_guards(no_guard) == 1 and no_guard.rstrip().endswith("write_submission()")


def test_a_main_block_that_is_its_entry_point_stays_whole_after_the_submission_block() -> None:
    """The built-in scripts do their work under the guard itself: the submission block goes before
    the main block (imports and all), not between its marker and its guard."""
    script = (
        "# %% block: predict\ndef predict():\n    return 1\n\n\n"
        '# %% block: main\nimport time\n\nif __name__ == "__main__":\n    print(predict(), time.time())\n'
    )
    code = standalone_script(script)
    assert _main_guards(code) == 1 and code.rstrip().endswith("time.time())\n    write_submission()")
    assert code.index("# %% block: submission") < code.index("# %% block: main")
    assert get_block(code, "main").startswith("import time\n\nif __name__")
    assert get_block(code, "submission").strip().startswith("from solution_parts.submission import")
    assert "__main__" not in get_block(code, "submission")


LAYOUTS = {
    # name: (problem, classes, target columns, layout fields, spec fields)
    "binary labels": ("binary", ("no", "yes"), ("label",), {"value_kind": "label"}, {}),
    "binary probability, test order": (
        "binary",
        ("no", "yes"),
        ("label",),
        {"value_kind": "probability", "row_order": "test"},
        {},
    ),
    "multiclass probability": (
        "multiclass",
        ("x", "y", "z"),
        ("x", "y", "z"),
        {"value_kind": "probability"},
        {},
    ),
    "multiclass labels": ("multiclass", ("x", "y", "z"), ("label",), {"value_kind": "label"}, {}),
    "regression, no id": ("regression", None, ("label",), {"value_kind": "number"}, {"id_column": None}),
    "multilabel probability": ("multilabel", ("0", "1"), ("l1", "l2"), {"value_kind": "probability"}, {}),
    "label lists": (
        "multilabel",
        ("a", "b", "c"),
        ("tags",),
        {"value_kind": "labels"},
        {"label_column": "tags", "label_separator": " "},
    ),
    "top 2 classes": (
        "multiclass",
        ("w", "x", "y", "z"),
        ("pred",),
        {"value_kind": "ranked", "top_k": 2},
        {},
    ),
    "distribution": ("multi_target_regression", None, ("p", "q"), {"value_kind": "distribution"}, {}),
    "text answers": ("text", None, ("answer",), {"value_kind": "text"}, {}),
    "rows by position": (
        "regression",
        None,
        ("label",),
        {"value_kind": "number", "key": "position", "copy_columns": ("extra",)},
        {},
    ),
    "several test rows per id": (
        "regression",
        None,
        ("label",),
        {"value_kind": "number", "aggregate": "mean"},
        {},
    ),
}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_the_shipped_submission_code_writes_the_harness_s_bytes(tmp_path: Path, name: str) -> None:
    spec, test, sample, pred = _layout_case(tmp_path, *LAYOUTS[name])
    write_submission(to_submission_frame(spec, pred, test, sample), tmp_path / "harness.csv")
    work = tmp_path / "standalone"
    (work / "input").mkdir(parents=True)
    (work / "output").mkdir()
    (work / "input" / "files").symlink_to(spec.task_dir)
    test.to_parquet(work / "input" / "test.parquet")
    np.save(work / "output" / "test.npy", pred)
    write_parts(work / "solution_parts", spec, {})
    code = "from solution_parts.submission import write_submission\nwrite_submission()\n"
    subprocess.run([sys.executable, "-c", code], cwd=work, check=True)
    assert (work / "submission.csv").read_bytes() == (tmp_path / "harness.csv").read_bytes()


def test_an_empty_text_answer_is_written_as_the_sample_spells_it(tmp_path: Path) -> None:
    """Masks as run-length text: a learned model's empty mask is "", the sample writes "-"; the
    harness and solution.py's shipped code both write "-"."""
    spec, test, sample, pred = _layout_case(tmp_path, *LAYOUTS["text answers"])
    sample["answer"] = "-"
    sample.to_csv(spec.sample_submission_path, index=False)
    pred[::2, 0] = ""
    frame = to_submission_frame(spec, pred, test, sample)
    by_id = dict(zip(test["id"], pred[:, 0], strict=True))
    expected = ["-" if by_id[i] == "" else by_id[i] for i in frame["id"]]
    assert frame["answer"].tolist() == expected and "-" in expected
    write_submission(frame, tmp_path / "harness.csv")
    work = tmp_path / "standalone"
    (work / "input").mkdir(parents=True)
    (work / "output").mkdir()
    (work / "input" / "files").symlink_to(spec.task_dir)
    test.to_parquet(work / "input" / "test.parquet")
    np.save(work / "output" / "test.npy", pred)
    write_parts(work / "solution_parts", spec, {})
    code = "from solution_parts.submission import write_submission\nwrite_submission()\n"
    subprocess.run([sys.executable, "-c", code], cwd=work, check=True)
    assert (work / "submission.csv").read_bytes() == (tmp_path / "harness.csv").read_bytes()


def test_a_second_hand_over_ships_only_its_own_members(tmp_path: Path) -> None:
    """A resumed run hands over again: members of the earlier hand-over must not stay behind."""
    spec, *_ = _layout_case(tmp_path, *LAYOUTS[sorted(LAYOUTS)[0]])
    parts = tmp_path / "solution_parts"
    write_parts(parts, spec, {"draft-0": "print(0)\n", "draft-1": "print(1)\n"})
    write_parts(parts, spec, {"draft-1": "print(1)\n"})
    assert sorted(p.name for p in parts.iterdir()) == ["combine.py", "draft-1.py", "submission.py"]


def _layout_case(tmp_path, problem, classes, columns, layout, fields):  # type: ignore[no-untyped-def]
    """A spec with this layout, a test table, its sample submission (written where the spec says)
    and predictions of the contract's shape."""
    from dataclasses import replace

    from mlestar.task.spec import ProblemType, SubmissionLayout
    from tests.export_factory import make_task

    base = make_task(tmp_path / "task")
    rng = np.random.default_rng(3)
    ids = np.arange(100, 120)
    test_ids = np.repeat(ids[:10], 2) if layout.get("aggregate") else ids
    sample_ids = ids[:10] if layout.get("aggregate") else rng.permutation(ids)
    sample = pd.DataFrame({"id": sample_ids, **{c: 0.5 for c in columns}, "extra": "kept"})
    if "extra" not in layout.get("copy_columns", ()):
        sample = sample.drop(columns="extra")
    sample.to_csv(base.sample_submission_path, index=False)
    sample = pd.read_csv(base.sample_submission_path)  # as the run reads it
    spec = replace(
        base,
        problem_type=ProblemType(problem),
        target_columns=columns,
        classes=classes,
        submission=SubmissionLayout(columns=tuple(sample.columns), **layout),
        **fields,
    )
    test = pd.DataFrame({"id": test_ids, "a": rng.normal(size=len(test_ids))})
    if spec.problem_type is ProblemType.TEXT:
        pred = np.array([[f"w{i} {i % 3}"] for i in range(len(test))], dtype=np.str_)
    else:
        pred = rng.random((len(test), spec.n_outputs))
    return spec, test, sample, pred


# -- whole runs ----------------------------------------------------------------------------------------


def _start(cfg, engineer):  # type: ignore[no-untyped-def]
    """A run whose scripts need only numpy and pandas: a fork server that imports only those."""
    return start_run(cfg, engineer=engineer, executor=light_executor())


SCRIPTED_RNG = "rng = np.random.default_rng(SEED + salt)"
DISTINCT = "rng = np.random.default_rng(SEED + salt + int(NOISE * 1e6))"
"""Each scripted member its own noise (the scripted template seeds them all alike)."""


class _EnsemblingEngineer(ScriptedEngineer):
    """Members with independent noise and noisy test predictions of their own; greedy ensembles."""

    def draft(self, ctx: TaskContext, candidate: Candidate) -> str:
        return _distinct(super().draft(ctx, candidate))

    def merge(self, ctx: TaskContext, base: str, other: str, other_candidate: Candidate) -> str:
        return _distinct(super().merge(ctx, base, other, other_candidate))

    def plan_ensemble(
        self, ctx: TaskContext, members: list[EnsembleMember], history: list[PlanOutcome]
    ) -> EnsemblePlan:
        self._call("plan_ensemble")
        return EnsemblePlan("greedy", "greedy weights over every member")


def _distinct(code: str) -> str:
    assert SCRIPTED_RNG in code, "the scripted template changed: update SCRIPTED_RNG"
    code = code.replace(SCRIPTED_RNG, DISTINCT)
    return code.replace(
        "test = np.full((n_test, y.shape[1]), float(np.nanmean(y)))",
        "test = np.nanmean(y) + rng.normal(0.0, NOISE, (n_test, y.shape[1]))",
    )


@pytest.fixture(scope="module")
def ensemble_run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("handover")
    task = regression_task(root / "task")
    # Two good drafts and a bad one; merging only hurts, no refinement: the greedy ensemble of the
    # drafts wins, and the bad draft gets no weight.
    engineer = _EnsemblingEngineer(drafts={"a": 0.5, "b": 0.52, "c": 4.0}, merge_gain=3.0)
    cfg = config(task, root / "run", t_outer=0, r_ensemble=1)
    outcome = _start(cfg, engineer)
    return cfg, outcome, Journal(cfg.run_dir)


def test_an_ensemble_hands_over_only_its_weighted_members(ensemble_run) -> None:  # type: ignore[no-untyped-def]
    cfg, outcome, journal = ensemble_run
    final = next(e for e in journal.events if e["name"] == "final")
    best = journal.nodes[final["node"]]
    assert best.stage == "ensemble" and outcome.best == best.id
    zero = [m for m, w in zip(best.meta["members"], best.meta["weights"], strict=True) if w == 0]
    assert "draft-2" in zero and final["dropped"] == zero
    assert set(final["members"]) == set(best.meta["members"]) - set(zero)
    assert handover_refits(journal) <= {
        f"final-{m}" for m in final["members"]
    }  # none of a zero-weight member
    assert all(journal.nodes[f"final-{m}"].ok for m in final["members"])
    parts = sorted(p.name for p in (cfg.run_dir / "solution_parts").iterdir())
    assert parts == sorted([*(f"{m}.py" for m in final["members"]), "combine.py", "submission.py"])
    solution = (cfg.run_dir / "solution.py").read_text()
    assert _main_guards(solution) == 1 and max(_top_level_names(solution).values()) == 1
    assert "from solution_parts.combine import combine" in solution and "LogisticRegression" not in solution
    members = [e for e in journal.events if e["name"] == "final_member"]
    assert [e["member"] for e in members] == final["members"] and all(e["refit"] for e in members)
    assert all(e["repeated"] is True for e in members)  # each refit predicted what its search run did
    finished = next(e for e in journal.events if e["name"] == "run_finished")
    assert (
        finished["exact"]
        and finished["stored_members"] == []
        and finished["threads"] == max(1, (os.cpu_count() or 1) // 2)
    )


def _rebuild(run_dir: Path, work: Path, search_folds: str = "folds.npy") -> bytes:
    """solution.py run by hand in a fresh folder, on the data the final fit read (and the search's
    folds as folds_search.npy, for a member kept stored from a subsample)."""
    (work / "input").mkdir(parents=True)
    for f in (run_dir / "data").iterdir():
        if f.name not in ("folds.npy", "folds_full.npy"):
            (work / "input" / f.name).symlink_to(f.resolve())
    (work / "input" / "folds.npy").symlink_to((run_dir / "data" / "folds_full.npy").resolve())
    (work / "input" / "folds_search.npy").symlink_to((run_dir / "data" / search_folds).resolve())
    spec_dir = Path(__import__("json").loads((run_dir / "task.json").read_text())["task_dir"])
    (work / "input" / "files").symlink_to(spec_dir)
    shutil.copy(run_dir / "solution.py", work)
    if (run_dir / "solution_parts").exists():
        shutil.copytree(run_dir / "solution_parts", work / "solution_parts")
    env = {"PATH": str(Path(sys.executable).parent), "MLESTAR_MODE": "handover"}
    subprocess.run([sys.executable, "solution.py"], cwd=work, check=True, capture_output=True, env=env)
    return (work / "submission.csv").read_bytes()


def test_the_ensemble_solution_rebuilds_the_submission_byte_for_byte(ensemble_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg, _, _ = ensemble_run
    assert _rebuild(cfg.run_dir, tmp_path / "rebuild") == (cfg.run_dir / "submission.csv").read_bytes()


def test_the_ensemble_s_export_rebuilds_the_submission_with_dvc(ensemble_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from mlestar.versioning import export_run

    cfg, _, _ = ensemble_run
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    report = export_run(cfg.run_dir, tmp_path / "export", env=env, check=True)
    assert report.check is not None and report.check.same, str(report.check)
    assert "combine.py" in {Path(p).name for p in report.committed}
    assert not [r for r in report.requirements if r.startswith("solution_parts")]
    assert "MLESTAR_MODE=handover" in (report.dest / "dvc.yaml").read_text()


def test_a_member_not_refit_keeps_its_stored_predictions_and_the_run_says_why(tmp_path: Path) -> None:
    import mlestar.handover.final as final

    task = regression_task(tmp_path / "task")
    engineer = _EnsemblingEngineer(drafts={"a": 0.5, "b": 0.52, "c": 4.0}, merge_gain=3.0)
    cfg = config(task, tmp_path / "run", t_outer=0, r_ensemble=1)

    def no_time_for_b(members, weights, nodes, lanes, remaining_s):  # type: ignore[no-untyped-def]
        admitted, refused = schedule(members, weights, nodes, lanes, remaining_s)
        refused["draft-1"] = "no time left to refit it (a test said so)"
        return [m for m in admitted if m != "draft-1"], refused

    mp = pytest.MonkeyPatch()
    mp.setattr(final, "schedule", no_time_for_b)
    try:
        _start(cfg, engineer)
    finally:
        mp.undo()
    journal = Journal(cfg.run_dir)
    stored = [e for e in journal.events if e["name"] == "final_member" and not e["refit"]]
    assert [(e["member"], e["reason"], e["exact"]) for e in stored] == [
        ("draft-1", "no time left to refit it (a test said so)", True)
    ]
    assert "final-draft-1" not in journal.nodes
    finished = next(e for e in journal.events if e["name"] == "run_finished")
    assert finished["stored_members"] == ["draft-1"] and finished["exact"] and finished["model"] is None
    # The search used every row: the stored predictions are what the member's script computes.
    assert _rebuild(cfg.run_dir, tmp_path / "rebuild") == (cfg.run_dir / "submission.csv").read_bytes()


def test_a_single_script_solution_rebuilds_the_submission_byte_for_byte(tmp_path: Path) -> None:
    task = regression_task(tmp_path / "task")
    cfg = config(task, tmp_path / "run", t_outer=1, k_inner=1, r_ensemble=0)
    _start(cfg, ScriptedEngineer())
    journal = Journal(cfg.run_dir)
    final = next(e for e in journal.events if e["name"] == "final")
    assert final["solution_kind"] == "script" and f"final-{final['node']}" in journal.nodes
    solution = (cfg.run_dir / "solution.py").read_text()
    assert _main_guards(solution) == 1 and solution.rstrip().endswith("main()\n    write_submission()")
    assert _rebuild(cfg.run_dir, tmp_path / "rebuild") == (cfg.run_dir / "submission.csv").read_bytes()


class _UnrepeatableEngineer(_EnsemblingEngineer):
    """Its scripts draw their noise from the process id: no two runs predict the same."""

    def draft(self, ctx: TaskContext, candidate: Candidate) -> str:
        code = super().draft(ctx, candidate).replace(DISTINCT, "rng = np.random.default_rng(os.getpid())")
        return code.replace("import time\n", "import os\nimport time\n")


def test_a_script_that_is_not_repeatable_is_named_by_the_run_and_for_the_check(tmp_path: Path) -> None:
    from mlestar.versioning.finished_run import read_finished_run

    task = regression_task(tmp_path / "task")
    cfg = config(task, tmp_path / "run", t_outer=0, r_ensemble=0, m_candidates=1)
    _start(cfg, _UnrepeatableEngineer(drafts={"a": 0.5}))
    journal = Journal(cfg.run_dir)
    events = [e for e in journal.events if e["name"] == "final_member"]
    assert [(e["member"], e["refit"], e["repeated"], e["exact"]) for e in events] == [
        ("draft-0", True, False, False)
    ]
    assert not next(e for e in journal.events if e["name"] == "run_finished")["exact"]
    reasons = read_finished_run(cfg.run_dir).inexact  # what export --check gives as the reason
    assert len(reasons) == 1 and reasons[0].startswith("draft-0 predicted differently in its refit")


def test_with_every_member_fitted_the_hand_over_writes_the_file_once(tmp_path: Path) -> None:
    """The search's answers are written beside the refits, so the file holds the chosen solution while
    they run; with every member's final fit done (ahead on idle lanes, or before a kill during the
    hand-over, as here), the final answers are ready and written at once, the only write (on a test
    set of millions of rows, a write is seconds)."""
    task = regression_task(tmp_path / "task")
    engineer = _EnsemblingEngineer(drafts={"a": 0.5, "b": 0.52, "c": 4.0}, merge_gain=3.0, rows_answer=True)
    cfg = config(
        task, tmp_path / "run", t_outer=0, r_ensemble=1, subsample_rows=60
    )  # refits answer otherwise
    _start(cfg, engineer)
    journal = Journal(cfg.run_dir)
    chosen = journal.last(FinalChosen)
    assert chosen is not None and chosen.node.startswith("ens-") and len(chosen.members) == 2
    assert [(w.answers, w.node) for w in journal.find_any(SubmissionWritten)][-2:] == [
        ("search", chosen.node),  # beside the refits
        ("final", None),
    ]
    # Killed during the hand-over once every member was refit: what it recorded from then on is gone.
    lines = (cfg.run_dir / "journal.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    cut = next(i for i, r in enumerate(records) if r.get("name") == FinalChosen.name)
    kept = lines[:cut] + [
        line for line, r in zip(lines[cut:], records[cut:], strict=True) if r["kind"] == "node"
    ]
    (cfg.run_dir / "journal.jsonl").write_text("\n".join(kept) + "\n")
    written_before = len(list(Journal(cfg.run_dir).find_any(SubmissionWritten)))
    outcome = resume_run(cfg.run_dir, engineer=engineer, executor=light_executor())
    resumed = Journal(cfg.run_dir)
    assert outcome.status == "ok" and outcome.best == chosen.node
    assert all(f"final-{m}" in resumed.nodes for m in chosen.members)
    assert [(w.answers, w.node) for w in resumed.find_any(SubmissionWritten)][written_before:] == [
        ("final", None)
    ]


def test_an_ensemble_draws_only_on_members_the_hand_over_can_refit(tmp_path: Path) -> None:
    """A member whose refit would not fit in the time left is not offered to the ensembles, so the
    ensemble handed over is refit whole: exact and servable."""
    from mlestar.search import attempts

    task = regression_task(tmp_path / "task")
    engineer = _EnsemblingEngineer(drafts={"a": 0.5, "b": 0.52, "c": 0.55})
    cfg = config(task, tmp_path / "run", t_outer=0, r_ensemble=2, m_candidates=3)

    def slow_c(node):  # type: ignore[no-untyped-def]
        return 1e6 if node.meta.get("candidate") == "c" else node.duration_s

    with pytest.MonkeyPatch.context() as mp:
        # Attempts.refit_need: the time kept for the final fit and the members offered to the ensembles.
        mp.setattr(attempts, "refit_seconds", slow_c)
        _start(cfg, engineer)
    journal = Journal(cfg.run_dir)
    slow = next(n.id for n in journal.nodes.values() if n.meta.get("candidate") == "c" and n.ok)
    ensembles = [n for n in journal.nodes.values() if n.stage == "ensemble"]
    assert ensembles and all(slow not in n.meta["members"] for n in ensembles)
    finished = next(e for e in journal.events if e["name"] == "run_finished")
    assert finished["stored_members"] == [] and finished["exact"]  # every member refit
