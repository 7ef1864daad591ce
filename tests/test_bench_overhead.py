"""bench/overhead.py: the harness overhead of a run, split into where it went, on a fabricated journal."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mlestar.journal import Journal, Node
from tests.builders import build_node

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench")]

import overhead  # noqa: E402


def _ran(id: str, started: float, ended: float) -> Node:
    return build_node(id, started=started, ended=ended, result={"exit_code": 0})


def _journal(root: Path) -> Journal:
    """Process from t=90 to t=200: start_run at 96, run_started at 100 (4 s of preparing), scripts
    100.5-130 and 120-150 (overlapping), a computed ensemble at 151-153 (no script), a script
    155-180, hand-over events until 185."""
    j = Journal(root)
    j.event("run_started", time=100.0, prepare_s=4.0)
    j.add(_ran("draft-0", 100.5, 130.0))
    j.add(_ran("draft-1", 120.0, 150.0))
    j.add(build_node("ens-0", stage="ensemble", started=151.0, ended=153.0))  # harness computed
    j.add(_ran("t0-k0", 155.0, 180.0))
    j.event("final", time=182.0, node="t0-k0")
    j.event("run_finished", time=185.0, status="ok")
    return j


def test_breakdown_accounts_for_every_second_outside_scripts(tmp_path):
    _journal(tmp_path)
    b = overhead.breakdown(tmp_path, began=90.0, ended=200.0)
    parts = dict(b.components)
    assert parts == pytest.approx(
        {
            "before journal": 6.0,
            "prepare": 4.0,
            "to first script": 0.5,
            "gaps": 5.0,  # 150 -> 155: the computed ensemble does not count as a script
            "hand-over": 5.0,
            "after journal": 15.0,
        }
    )
    assert b.wall_s == pytest.approx(110.0)
    assert b.script_s == pytest.approx(74.5)
    assert sum(parts.values()) + b.script_s == pytest.approx(b.wall_s)
    assert b.overhead == pytest.approx(35.5 / 110.0)
    assert [(g.before, g.after, g.seconds) for g in b.gaps] == [("draft-1", "t0-k0", pytest.approx(5.0))]


def test_wall_alone_lumps_the_time_outside_the_journal(tmp_path):
    _journal(tmp_path)
    parts = dict(overhead.breakdown(tmp_path, wall_s=110.0).components)
    assert "before journal" not in parts and "after journal" not in parts
    assert parts["outside journal"] == pytest.approx(21.0)  # 110 - (185 - 96)


def test_gaps_name_the_longest_running_script_before_them():
    spans = [
        overhead.Span("a", 0, 10),
        overhead.Span("b", 2, 4),
        overhead.Span("c", 12, 20),
        overhead.Span("d", 21, 22),
    ]
    gaps = overhead.gaps_between(spans)
    assert [(g.before, g.after, g.seconds) for g in gaps] == [("a", "c", 2.0), ("c", "d", 1.0)]


def test_table_prints_each_component_and_the_overhead(tmp_path, capsys):
    _journal(tmp_path)
    assert overhead.main([str(tmp_path), "--began", "90", "--ended", "200"]) == 0
    out = capsys.readouterr().out
    assert "after journal" in out and "15.0" in out
    assert "overhead 32.3%" in out
    assert "after draft-1  before t0-k0" in out


def test_the_harness_work_around_a_script_is_overhead_not_script_time(tmp_path):
    """A node's span holds the harness writing, judging and scoring its script; only the spans the
    script itself ran (meta "ran", one per split) count as script time."""
    j = Journal(tmp_path)
    j.event("run_started", time=100.0, prepare_s=0.0)
    j.add(
        build_node(
            "a",
            started=100.0,
            ended=112.0,
            result={"exit_code": 0},
            meta={"ran": [[100.5, 106.0], [106.5, 111.0]]},
        )
    )
    j.add(
        build_node("b", started=112.5, ended=120.0, result={"exit_code": 0}, meta={"ran": [[113.0, 119.0]]})
    )
    j.event("run_finished", time=121.0, status="ok")
    b = overhead.breakdown(tmp_path, wall_s=21.0)
    assert b.script_s == pytest.approx(5.5 + 4.5 + 6.0)
    parts = dict(b.components)
    assert parts["to first script"] == pytest.approx(0.5)
    assert parts["gaps"] == pytest.approx(0.5 + 2.0)  # between the splits; a's judging and b's writing
    assert parts["hand-over"] == pytest.approx(2.0)  # b's judging, then the hand-over


def test_lanes_that_ran_no_script_while_another_ran_are_counted_by_stage(tmp_path, capsys):
    """Two lanes: drafts 0-10 and 0-4 (a lane idle 4-10), a merge alone 11-20, a refinement batch
    of 21-25 and 21-30 (a lane idle 25-30); nothing ran 10-11 and 20-21 (gaps, not idle lanes)."""
    j = Journal(tmp_path)
    j.event("run_started", time=0.0, prepare_s=0.0, config={"jobs": 2})
    for id, stage, a, b in [
        ("draft-0", "draft", 0, 10),
        ("draft-1", "draft", 0, 4),
        ("merge-1", "merge", 11, 20),
        ("t0-k0", "refine", 21, 25),
        ("t0-k1", "refine", 21, 30),
    ]:
        j.add(build_node(id, stage=stage, started=a, ended=b, result={"exit_code": 0}))
    j.event("run_finished", time=31.0, status="ok")
    b = overhead.breakdown(tmp_path, wall_s=31.0)
    assert b.lanes == 2
    assert dict(b.idle) == pytest.approx({"draft": 6.0, "merge": 9.0, "refine": 5.0})
    assert [name for name, _ in b.idle] == ["merge", "draft", "refine"]  # most first
    assert overhead.main([str(tmp_path), "--wall", "31"]) == 0
    assert (
        "lanes idle             20.0 lane-s of 2 x 28.0 (merge 9.0, draft 6.0, refine 5.0)"
        in capsys.readouterr().out
    )
