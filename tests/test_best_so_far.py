"""submission.csv follows the search's best so far: each new best written once the next script has
started, the newest best only when several came during a write; at close the write under way is
finished and a best still waiting is left to the hand-over."""

from __future__ import annotations

import threading
from pathlib import Path

from mlestar.handover.best_so_far import BestSoFar
from mlestar.journal import Journal, Node
from mlestar.journal.events import AttemptStarted
from tests.builders import build_node


class _Writes:
    """The writer's calls, in order; `hold` keeps a write going until released."""

    def __init__(self) -> None:
        self.nodes: list[str] = []
        self.hold = threading.Event()
        self.hold.set()
        self.begun = threading.Event()
        self.failing: set[str] = set()
        """Nodes whose write raises (a full disk)."""

    def __call__(self, node: Node) -> None:
        self.begun.set()
        self.hold.wait(10)
        if node.id in self.failing:
            raise OSError("disk full")
        self.nodes.append(node.id)

    def next_begun(self) -> bool:
        """Did the next write begin (within 10 s)?"""
        began = self.begun.wait(10)
        self.begun.clear()
        return began


def _follow(tmp_path: Path) -> tuple[Journal, BestSoFar, _Writes]:
    journal, writes = Journal(tmp_path), _Writes()
    return journal, BestSoFar(journal, lower_is_better=True, write=writes), writes


def test_a_new_best_is_written_once_the_next_script_started(tmp_path: Path) -> None:
    journal, best, writes = _follow(tmp_path)
    journal.add(build_node("draft-0", score=0.5))
    assert not writes.begun.wait(0.2)  # the harness judges and the engineer writes first
    journal.record(AttemptStarted(node="draft-1", timeout_s=60.0))
    assert writes.begun.wait(10)
    best.close()
    assert writes.nodes == ["draft-0"]


def test_only_a_better_solution_is_written_again(tmp_path: Path) -> None:
    journal, best, writes = _follow(tmp_path)
    journal.add(build_node("draft-0", score=0.5))
    journal.record(AttemptStarted(node="draft-1", timeout_s=60.0))
    assert writes.next_begun()
    journal.add(build_node("draft-1", score=0.6))  # worse (lower is better)
    journal.add(build_node("draft-2", score=0.1, status="failed"))
    journal.add(build_node("screen-0", score=0.01, stage="screen"))  # another split: not a solution
    journal.add(build_node("final-draft-0", score=0.01, stage="final"))
    journal.add(build_node("merge-1", score=0.4, stage="merge"))
    journal.record(AttemptStarted(node="t0-k0", timeout_s=60.0))
    assert writes.next_begun()
    best.close()
    assert writes.nodes == ["draft-0", "merge-1"]


def test_a_best_still_waiting_at_close_is_left_to_the_hand_over(tmp_path: Path) -> None:
    """The hand-over writes what it hands over (beside its refits, or its final answers at once):
    a write of the same best here would only come before it."""
    journal, best, writes = _follow(tmp_path)
    journal.add(build_node("ens-0", score=0.4, stage="ensemble"))  # no script starts after it
    best.close()
    assert not writes.begun.wait(0.2) and writes.nodes == []
    journal.record(AttemptStarted(node="t0-k0", timeout_s=60.0))
    assert not writes.begun.wait(0.2)


def test_bests_that_come_during_a_write_are_written_as_the_newest_only(tmp_path: Path) -> None:
    journal, best, writes = _follow(tmp_path)
    writes.hold.clear()
    journal.add(build_node("draft-0", score=0.5))
    journal.record(AttemptStarted(node="draft-1", timeout_s=60.0))
    assert writes.next_begun()
    journal.add(build_node("draft-1", score=0.4))
    journal.add(build_node("merge-1", score=0.3, stage="merge"))
    journal.add(build_node("draft-0", score=0.5))  # the one being written, recorded again: no rewrite
    writes.hold.set()
    assert writes.next_begun()  # the newest, next, without a script starting
    best.close()
    assert writes.nodes == ["draft-0", "merge-1"]


def test_a_failed_write_leaves_the_next_best_to_be_written(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    writes = _Writes()
    writes.failing.add("draft-0")
    best = BestSoFar(journal, lower_is_better=False, write=writes)
    journal.add(build_node("draft-0", score=0.5))
    journal.record(AttemptStarted(node="draft-1", timeout_s=60.0))
    assert writes.next_begun()
    journal.add(build_node("draft-1", score=0.7))  # higher is better here
    journal.record(AttemptStarted(node="merge-1", timeout_s=60.0))
    assert writes.next_begun()
    best.close()
    assert writes.nodes == ["draft-1"]
    journal.add(build_node("merge-1", score=0.9, stage="merge"))
    journal.record(AttemptStarted(node="t0-k0", timeout_s=60.0))
    best.close()
    assert writes.nodes == ["draft-1"]  # closed: the hand-over writes from now on


def test_the_best_s_final_fit_done_ahead_is_written_at_once(tmp_path: Path) -> None:
    """Its answers are what the hand-over submits for the best: written as soon as it is back, so the
    file of millions of rows is not left to the hand-over; another script's final fit is not."""
    journal, best, writes = _follow(tmp_path)
    journal.add(build_node("draft-0", score=0.5))
    journal.record(AttemptStarted(node="draft-1", timeout_s=60.0))
    assert writes.begun.wait(10)
    writes.begun.clear()
    journal.add(build_node("final-draft-1", parent="draft-1", score=0.1, stage="final"))
    assert not writes.begun.wait(0.2)  # not the best's
    journal.add(build_node("final-draft-0", parent="draft-0", score=0.4, stage="final"))
    assert writes.begun.wait(10)  # no next script needed
    best.close()
    assert writes.nodes == ["draft-0", "draft-0"]
