"""The benchmark harness's own code: journal figures, tables, files, the driver with a stand-in mlestar.

No AutoML runs and nothing from ../shared/bench: tasks, grader and journals are fabricated here.
"""

from __future__ import annotations

import json
import math
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from mlestar.errors import ConfigError
from mlestar.journal import Journal, Node
from tests.builders import build_node, write_task

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "bench" / "baselines")]

import bench_journal as bj  # noqa: E402
import bench_report as br  # noqa: E402
import bench_systems as bs  # noqa: E402
import run_bench  # noqa: E402
import task_tables as tt  # noqa: E402


def _node(id: str, started: float, ended: float, ran: bool = True, score: float | None = 0.5,
          status: str = "ok", stage: str = "draft", spans: list | None = None) -> Node:  # fmt: skip
    result = {"exit_code": 0, "duration_s": ended - started} if ran else None
    meta = {"ran": spans} if spans else {}
    return build_node(
        id, stage=stage, status=status, score=score, started=started, ended=ended, result=result, meta=meta
    )


def _row(task: str = "t", system: str = "mlestar", seed: int = 1, score: float | None = 0.8, **kw) -> br.Row:
    base = dict(valid=score is not None, medal=None, above_median=False, wall_s=100.0)
    return br.Row(task=task, system=system, seed=seed, score=score, **{**base, **kw})


# --- journal figures ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("intervals", "expected"),
    [
        ([], 0.0),
        ([(0, 10)], 10.0),
        ([(0, 10), (20, 25)], 15.0),
        ([(0, 10), (5, 15)], 15.0),  # overlap counts once
        ([(0, 10), (2, 3)], 10.0),  # nested
        ([(10, 20), (0, 10)], 20.0),  # touching, unsorted
        ([(5, 5), (9, 3), (0, 1)], 1.0),  # empty and reversed intervals add nothing
        ([(0, 4), (3, 8), (7, 9), (20, 21)], 10.0),  # a chain of overlaps
    ],
)
def test_union_seconds(intervals, expected):
    assert bj.union_seconds(intervals) == pytest.approx(expected)


def test_overhead_share():
    assert bj.overhead_share(270.0, 300.0) == pytest.approx(0.10)
    assert bj.overhead_share(0.0, 300.0) == pytest.approx(1.0)
    assert bj.overhead_share(310.0, 300.0) == 0.0
    assert bj.overhead_share(None, 300.0) is None
    assert bj.overhead_share(5.0, 0.0) is None


def test_journal_stats_counts_script_intervals_once(tmp_path):
    j = Journal(tmp_path)
    j.add(_node("draft-0", 100.0, 130.0, score=0.70))
    j.add(_node("draft-1", 120.0, 150.0, score=0.75))  # ran beside draft-0
    j.add(_node("draft-2", 150.0, 150.5, ran=False, score=None, status="rejected"))
    j.add(_node("ens-0", 160.0, 161.0, ran=False, score=0.9, stage="ensemble"))  # harness computed
    # Its script ran 171-195 and 196-199 (two splits); the rest of its span is the harness's work.
    j.add(_node("refine-0", 170.0, 200.0, score=0.78, stage="refine", spans=[[171.0, 195.0], [196.0, 199.0]]))
    j.add(_node("final-draft-1", 210.0, 220.0, score=0.75, stage="final"))  # refit of a zero-weight member
    j.event("final", node="refine-0", solution_kind="script", score=0.78, dropped=["draft-1", "draft-2"])
    j.event("run_finished", status="ok", best="ens-0", score=0.78, submission="submission.csv")
    stats = bj.journal_stats(tmp_path, lower_is_better=False)
    assert stats == bj.JournalStats(
        attempts=6,
        scripts=4,
        script_s=87.0,
        attempt_s=90.0,
        validation_score=0.78,
        status="ok",
        zero_weight_refits=1,
    )


def test_journal_stats_falls_back_to_best_node_in_metric_direction(tmp_path):
    j = Journal(tmp_path)
    j.add(_node("a", 0, 1, score=0.30))
    j.add(_node("b", 1, 2, score=0.20))
    j.add(_node("c", 2, 3, score=0.10, status="failed"))  # failed: its score does not count
    assert bj.journal_stats(tmp_path, lower_is_better=True).validation_score == 0.20
    assert bj.journal_stats(tmp_path, lower_is_better=False).validation_score == 0.30
    assert bj.journal_stats(tmp_path, lower_is_better=True).status is None


def test_journal_stats_without_journal(tmp_path):
    assert bj.journal_stats(tmp_path, lower_is_better=True) is None


# --- tables -------------------------------------------------------------------------------------


def test_mean_sd():
    assert br.mean_sd([1.0, 2.0, 3.0]) == (2.0, 1.0)
    assert br.mean_sd([0.5, None]) == (0.5, None)
    assert br.mean_sd([None]) == (None, None)
    mean, sd = br.mean_sd([0.80, 0.82, 0.78, 0.81])
    assert mean == pytest.approx(0.8025) and sd == pytest.approx(0.0170783, abs=1e-6)


def test_summarize_over_seeds():
    rows = [
        _row(
            "a", "mlestar", 1, 0.80, medal="bronze", above_median=True, overhead=0.02, validation_score=0.81
        ),
        _row(
            "a", "mlestar", 2, 0.84, medal="silver", above_median=True, overhead=0.04, validation_score=0.83
        ),
        _row("a", "mlestar", 3, None, error="exit status 1", overhead=None, wall_s=40.0),
        _row("a", "flaml", 1, 0.70, wall_s=250.0, anchor=0.77931),
        _row("b", "mlestar", 1, 0.05),
    ]
    got = {(s.task, s.system): s for s in br.summarize(rows)}
    assert list(got) == [("a", "mlestar"), ("a", "flaml"), ("b", "mlestar")]
    a = got[("a", "mlestar")]
    assert (a.runs, a.valid, a.medals, a.above_median) == (3, 2, 2, 2)
    assert a.score_mean == pytest.approx(0.82) and a.score_sd == pytest.approx(math.sqrt(0.0008))
    assert a.wall_mean == pytest.approx(80.0) and a.overhead_mean == pytest.approx(0.03)
    assert a.validation_mean == pytest.approx(0.82)
    assert got[("a", "flaml")].score_sd is None and got[("a", "flaml")].anchor == 0.77931


ANCHORS_TEXT = """\
# Anchors
| task | AutoGluon 9.9, best_quality | FLAML 1.0 | median |
|---|---|---|---|
| toy (accuracy, higher better) | 0.80230 (above median, no medal) | 0.77931 | 0.79 |
| nomad2018 (mean RMSLE, lower better) | 0.05834 (silver) | n/a | 0.06988 |
"""


def test_parse_anchors_and_prefix_lookup():
    anchors = br.parse_anchors(ANCHORS_TEXT, ("autogluon", "flaml"))
    assert anchors == {
        ("toy", "autogluon"): 0.80230,
        ("toy", "flaml"): 0.77931,
        ("nomad2018", "autogluon"): 0.05834,
    }
    assert br.anchor_for(anchors, "nomad2018-predict-transparent-conductors", "autogluon") == 0.05834
    assert br.anchor_for(anchors, "nomad2018-predict-transparent-conductors", "flaml") is None
    assert br.anchor_for(anchors, "toy", "mlestar") is None
    assert br.parse_anchors("no table here", ("autogluon",)) == {}


def test_markdown_one_line_per_run_and_summary_only_over_seeds():
    meta = {"started": "2026-11-29T10:00:00", "commit": "abc1234", "budget_s": 300.0}
    rows = [
        _row(
            seed=1,
            score=0.81234,
            overhead=0.0312,
            attempt_overhead=0.025,
            attempts=7,
            script_s=290.4,
            validation_score=0.8,
        )
    ]
    md = br.render_markdown(meta, rows)
    assert md.startswith("# Benchmark 2026-11-29T10:00:00 (abc1234)")
    assert "| task | system | seed | score | valid | medal | above median | validation | wall s |" in md
    assert (
        "| t | mlestar | 1 | 0.81234 | yes | - | no | 0.80000 | 100.0 | 7 | 290.4 | 3.1 | 2.5 | - |  |  |"
        in md
    )
    assert "Over seeds" not in md
    md2 = br.render_markdown(meta, [*rows, _row(seed=2, score=None, error="killed after 500 s")])
    assert "## Over seeds" in md2 and "| t | mlestar | 1/2 | 0.81234 |" in md2
    assert "- t / mlestar / seed 2: killed after 500 s" in md2


def test_write_results_round_trip(tmp_path):
    rows = [_row(seed=1, score=0.5, medal="gold"), _row(seed=2, score=0.7)]
    md, js = br.write_results(tmp_path / "res", "20261129-100000-abc", {"started": "s", "commit": "c"}, rows)
    assert md.name == "20261129-100000-abc.md" and md.read_text().count("| t | mlestar |") == 3
    data = json.loads(js.read_text())
    assert br.rows_from_json(data) == rows
    assert data["summary"][0]["score_mean"] == pytest.approx(0.6) and data["meta"]["commit"] == "c"


# --- driver pieces ------------------------------------------------------------------------------


def _bench_dir(root: Path, answers_true: int = 3) -> Path:
    """A bench folder with one toy task (5 test rows), a stand-in grader and an ANCHORS.md."""
    task = root / "tasks" / "toy"
    ids = [f"r{i}" for i in range(5)]
    public = {
        "train.csv": pd.DataFrame({"id": ids, "x": range(5), "y": [True, False] * 2 + [True]}),
        "test.csv": pd.DataFrame({"id": ids, "x": range(5)}),
        "sample_submission.csv": pd.DataFrame({"id": ids, "y": False}),
        "description.md": "# toy\n",
    }
    write_task(task / "public", public)
    truth = [True] * answers_true + [False] * (5 - answers_true)
    write_task(task / "private", {"answers.csv": pd.DataFrame({"id": ids, "y": truth})})
    grading = {"competition": "toy", "metric": "accuracy", "id_column": "id", "target_columns": ["y"],
               "lower_is_better": False, "gold": 0.9, "silver": 0.8, "bronze": 0.7, "median": 0.5}  # fmt: skip
    (task / "grading.json").write_text(json.dumps(grading))
    (root / "ANCHORS.md").write_text(ANCHORS_TEXT)
    (root / "grade.py").write_text(textwrap.dedent("""\
        import csv, json, sys
        from pathlib import Path
        task, sub = Path(sys.argv[1]), Path(sys.argv[2])
        if not sub.exists():
            print(json.dumps({"valid": False, "score": None, "medal": None, "above_median": False,
                              "error": "Invalid: no submission file"}))
            sys.exit(0)
        ans = list(csv.DictReader((task / "private/answers.csv").open()))
        got = list(csv.DictReader(sub.open()))
        score = sum(a["y"] == g["y"] for a, g in zip(ans, got)) / len(ans)
        print(json.dumps({"valid": True, "score": score, "medal": "gold" if score >= 0.9 else None,
                          "above_median": score > 0.5, "error": None}))
        """))  # fmt: skip
    return root


STAND_IN = """\
import json, shutil, sys, time
from pathlib import Path
from mlestar.journal import Journal, Node

args = sys.argv[1:]
if args[0] == "export":  # the export check: seed 1's rebuild matches, seed 2's does not
    assert args[3] == "--check", args
    same = Path(args[1]).name.endswith("-1")
    print("check: `dvc repro` in a fresh clone rebuilt the run's submission byte for byte (3 s)" if same
          else "check: the rebuilt submission differs from the run's in 2 of 5 rows (1, 2)")
    sys.exit(0 if same else 1)
assert args[0] == "run", args
copy, out = Path(args[1]), Path(args[args.index("--out") + 1])
seed, budget = int(args[args.index("--seed") + 1]), float(args[args.index("--budget") + 1])
out.mkdir(parents=True)
(out / "received.json").write_text(json.dumps({
    "copy": str(copy), "budget": budget, "files": sorted(p.name for p in copy.iterdir()),
    "extra": args[args.index("--seed") + 2 :],
    "private_beside": (copy.parent / "private").exists(), "grading_beside": (copy.parent / "grading.json").exists(),
}))
journal = Journal(out)
for i in range(2):
    t0 = time.time()
    time.sleep(0.3)
    journal.add(Node(id=f"draft-{i}", parent=None, stage="draft", role="draft", plan="p", code_path=None,
                     status="ok", score=0.6 + seed / 100, started=t0, ended=time.time(), result={"exit_code": 0}))
journal.event("run_finished", status="ok", best="draft-1", score=0.6 + seed / 100)
shutil.copyfile(copy / "sample_submission.csv", out / "submission.csv")
"""


def test_driver_with_stand_in_mlestar(tmp_path, capsys):
    bench = _bench_dir(tmp_path / "bench", answers_true=1)  # the all-False sample scores 4/5
    stand_in = tmp_path / "fake_mlestar.py"
    stand_in.write_text(STAND_IN)
    argv = ["--bench-dir", str(bench), "--results", str(tmp_path / "results"), "--scratch", str(tmp_path / "scratch"),
            "--systems", "mlestar", "--seeds", "1,2", "--budget", "1m", "--mlestar", f"{sys.executable} {stand_in}", "--mlestar-args=--no-tracking --llm 'x:y z'"]  # fmt: skip
    assert run_bench.main(argv) == 0
    (js,) = (tmp_path / "results").glob("*.json")
    data = json.loads(js.read_text())
    rows = br.rows_from_json(data)
    assert [(r.task, r.system, r.seed) for r in rows] == [("toy", "mlestar", 1), ("toy", "mlestar", 2)]
    for r in rows:
        assert (r.score, r.valid, r.medal, r.error) == (0.8, True, None, None)
        assert r.validation_score == pytest.approx(0.6 + r.seed / 100) and r.attempts == 2
        assert 0.55 <= r.script_s <= r.wall_s and r.overhead == pytest.approx(1 - r.script_s / r.wall_s)
        assert r.zero_weight_refits == 0
    assert [r.repro for r in rows] == ["same", "2 of 5 rows differ"]
    assert data["summary"][0]["runs"] == 2 and data["meta"]["budget_s"] == 60.0
    received = json.loads((Path(data["meta"]["raw"]) / "mlestar" / "toy-1" / "received.json").read_text())
    assert received["files"] == ["description.md", "sample_submission.csv", "test.csv", "train.csv"]
    assert received["extra"] == ["--no-tracking", "--llm", "x:y z"]
    assert not received["private_beside"] and not received["grading_beside"] and received["budget"] == 60.0
    assert Path(received["copy"]).is_relative_to(tmp_path / "scratch") and not Path(received["copy"]).exists()
    assert "## Over seeds" in capsys.readouterr().out


def test_build_plan_rejects_misuse(tmp_path):
    bench = _bench_dir(tmp_path / "bench")

    def plan(**kw: str) -> run_bench.Plan:
        args = {"--bench-dir": str(bench), **{f"--{k}": v for k, v in kw.items()}}
        return run_bench.build_plan(run_bench.parse_args([x for kv in args.items() for x in kv]), {})

    p = plan(tasks="all", seeds="1,2,3", budget="90s", systems="mlestar,flaml")
    assert [t.name for t in p.tasks] == ["toy"] and p.seeds == (1, 2, 3) and p.budget_s == 90.0
    assert p.timeout_s == 90.0 * 1.5 + 120 and dict(p.env)["RAY_USAGE_STATS_ENABLED"] == "0"
    with pytest.raises(ConfigError, match="expected tasks among toy or 'all', found 'spooky'"):
        plan(tasks="spooky")
    with pytest.raises(ConfigError, match="expected seeds"):
        plan(seeds="one")
    with pytest.raises(ConfigError, match="expected seeds and systems"):
        plan(systems="mlestar,h2o")
    with pytest.raises(ConfigError, match="expected a duration"):
        plan(budget="soon")
    with pytest.raises(ConfigError, match="expected task folders"):
        run_bench.build_plan(run_bench.parse_args(["--bench-dir", str(tmp_path / "nowhere")]), {})


def test_a_run_is_refused_on_a_nearly_full_disk(tmp_path):
    bench = _bench_dir(tmp_path / "bench")
    argv = ["--bench-dir", str(bench), "--systems", "mlestar", "--results", str(tmp_path / "out" / "new")]
    plan = run_bench.build_plan(run_bench.parse_args(argv), {})  # a results folder not made yet
    run_bench.check_free_space(plan, free=lambda path: run_bench.MIN_FREE_BYTES)  # enough: no error
    with pytest.raises(
        ConfigError, match=r"expected at least 10 GB free .* found 2.5 GB: remove old run folders"
    ):
        run_bench.check_free_space(plan, free=lambda path: int(2.5 * 2**30))


def test_copy_public_is_alone_and_writable(tmp_path):
    bench = _bench_dir(tmp_path / "bench")
    (bench / "tasks/toy/public/train.csv").chmod(0o444)
    (bench / "tasks/toy/public").chmod(0o555)
    try:
        (task,) = bs.load_tasks(bench, "toy")
        copy = bs.copy_public(task, tmp_path / "scratch")
        assert sorted(p.name for p in copy.parent.iterdir()) == ["toy"]
        assert (copy / "train.csv").read_text() == (task.public / "train.csv").read_text()
        (copy / "new.txt").write_text("agents may write here")
        bs.discard_copy(copy)
        assert not copy.parent.exists()
    finally:
        (bench / "tasks/toy/public").chmod(0o755)


def test_launch_kills_a_run_past_its_timeout(tmp_path):
    start = time.monotonic()
    result = bs.launch([sys.executable, "-c", "import time; print('hi', flush=True); time.sleep(30)"],
                       tmp_path / "logs" / "x.log", 0.5, {})  # fmt: skip
    assert time.monotonic() - start < 10
    assert result.timed_out and result.exit_code is None
    assert "hi" in result.log.read_text()
    assert "killed after" in bs.run_error(result, 0.3)
    ok = bs.launch([sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "y.log", 30, {})
    assert bs.run_error(ok, 30) == f"exit status 3; log {tmp_path / 'y.log'}"


def test_grade_reports_a_broken_grader(tmp_path):
    bench = _bench_dir(tmp_path / "bench")
    (task,) = bs.load_tasks(bench, "all")
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n")
    report = bs.grade(Path(sys.executable), broken, task, tmp_path / "submission.csv")
    assert report["valid"] is False and "RuntimeError: boom" in report["error"]
    missing = bs.grade(Path(sys.executable), bench / "grade.py", task, tmp_path / "submission.csv")
    assert missing["valid"] is False and missing["error"] == "Invalid: no submission file"


def test_git_commit_outside_a_repository(tmp_path):
    assert run_bench.git_commit(tmp_path) == "nogit"


# --- what the baselines infer from a task folder ------------------------------------------------


def _public(tmp_path: Path, train: dict, test: dict, sample: dict) -> Path:
    tables = {"train.csv": train, "test.csv": test, "sample_submission.csv": sample}
    return write_task(tmp_path / "public", {name: pd.DataFrame(cols) for name, cols in tables.items()})


def test_read_task_direct_targets(tmp_path):
    public = _public(
        tmp_path,
        train={"id": [1, 2], "a": [0.1, 0.2], "t1": [1.0, 2.0], "t2": [3.0, 4.0]},
        test={"id": [3, 4], "a": [0.3, 0.4]},
        sample={"id": [4, 3], "t1": [0, 0], "t2": [0, 0]},
    )
    tables = tt.read_task(public)
    assert (tables.id_column, tables.features, tables.targets, tables.label) == (
        "id",
        ("a",),
        ("t1", "t2"),
        None,
    )
    assert tt.fit_targets(tables) == ("t1", "t2") and tables.text_column is None
    tt.write_submission(tables, {"t1": [1.5, 2.5], "t2": [0.0, 1.0]}, tmp_path / "out" / "submission.csv")
    written = pd.read_csv(tmp_path / "out" / "submission.csv")
    assert list(written.columns) == ["id", "t1", "t2"] and written["id"].tolist() == [3, 4]  # test order


def test_read_task_class_probabilities_from_a_text_column(tmp_path):
    text = [
        "a long sentence written by somebody long ago, " * 2,
        "another rather long sentence of prose here",
    ]
    public = _public(
        tmp_path,
        train={"id": ["i1", "i2"], "text": text, "author": ["EAP", "MWS"]},
        test={"id": ["i3"], "text": ["a third sentence that is long enough to count"]},
        sample={"id": ["i3"], "EAP": [0.5], "MWS": [0.5]},
    )
    tables = tt.read_task(public)
    assert (tables.label, tables.targets, tables.text_column) == ("author", ("EAP", "MWS"), "text")
    assert tt.fit_targets(tables) == ("author",)
    p = tt.normalized([[0.2, 0.2], [1.5, 0.0]])
    assert p.sum(axis=1) == pytest.approx([1, 1]) and (p >= 0).all() and (p <= 1).all()


def test_read_task_rejects_a_layout_it_cannot_read(tmp_path):
    public = _public(
        tmp_path,
        train={"id": [1], "x": [1], "author": ["EAP"]},
        test={"id": [2], "x": [2]},
        sample={"id": [2], "EAP": [0.5], "HPL": [0.5]},
    )
    with pytest.raises(
        ValueError, match=r"expected author's classes to be \['EAP', 'HPL'\], found \['EAP'\]"
    ):
        tt.read_task(public)
    with pytest.raises(ValueError, match="expected a metric among"):
        tt.prediction_kind("word_jaccard")
    assert tt.prediction_kind("mean_rmsle") == "log_regression"


def test_clock_leaves_a_reserve_and_splits_the_rest():
    clock = tt.Clock(300.0, started=time.time() - 30.0)
    assert clock.fit_seconds(1) == pytest.approx(240.0, abs=1.0)  # 300 - 30 elapsed - 30 reserve
    assert clock.fit_seconds(2) == pytest.approx(120.0, abs=1.0)
    assert tt.Clock(20.0, started=time.time() - 60.0).fit_seconds(1) == 5.0  # a floor, never negative
    # millions of test rows (a row per pixel) keep time to predict, at most 30 % of the budget
    assert clock.fit_seconds(1, test_rows=6_000_000) == pytest.approx(210.0, abs=1.0)
    assert clock.fit_seconds(1, test_rows=10**9) == pytest.approx(180.0, abs=1.0)
    assert clock.fit_seconds(1, test_rows=1000) == pytest.approx(240.0, abs=1.0)


def test_driver_records_a_failed_run_as_invalid(tmp_path):
    bench = _bench_dir(tmp_path / "bench")
    argv = ["--bench-dir", str(bench), "--results", str(tmp_path / "results"), "--scratch", str(tmp_path / "s"),
            "--systems", "mlestar", "--budget", "30", "--mlestar", f"{sys.executable} -c 'raise SystemExit(4)'"]  # fmt: skip
    assert run_bench.main(argv) == 0
    (md,) = (tmp_path / "results").glob("*.md")
    (row,) = br.rows_from_json(json.loads(md.with_suffix(".json").read_text()))
    assert (row.valid, row.score, row.attempts, row.overhead) == (False, None, None, None)
    assert row.error is not None and row.error.startswith("exit status 4; log ")
    assert "## Errors" in md.read_text()
