"""`mlestar status` read from a journal alone."""

from __future__ import annotations

from pathlib import Path

from mlestar.journal import Journal
from mlestar.journal.events import AttemptStarted, RunFinished, SubmissionWritten
from mlestar.status import summarize
from tests.builders import build_node


def test_a_killed_run_shows_the_attempt_it_was_running(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.record(AttemptStarted(node="draft-0", timeout_s=60.0))
    journal.add(build_node("draft-0", score=0.5))
    journal.record(AttemptStarted(node="draft-1", timeout_s=45.0))
    summary = summarize(tmp_path)
    in_flight = [line for line in summary.splitlines() if "no result journaled" in line]
    assert len(in_flight) == 1 and in_flight[0].startswith("draft-1") and "limit 45s" in in_flight[0]
    assert "unfinished" in summary


def test_a_killed_run_says_whose_answers_its_submission_holds(tmp_path: Path) -> None:
    # The file follows the best so far while the search runs: a killed run's is a valid answer.
    journal = Journal(tmp_path)
    journal.add(build_node("draft-0", score=0.5))
    assert "submit" not in summarize(tmp_path)
    journal.record(SubmissionWritten(answers="search", rows=10, seconds=0.1, node="draft-0"))
    journal.add(build_node("draft-1", score=0.4))
    (line,) = [line for line in summarize(tmp_path).splitlines() if line.startswith("submit")]
    assert "draft-0's answers, the best so far" in line
    # Killed in the hand-over after the final fit's file: those answers, not the search's.
    journal.record(SubmissionWritten(answers="final", rows=10, seconds=0.1))
    (line,) = [line for line in summarize(tmp_path).splitlines() if line.startswith("submit")]
    assert line.endswith("holds the final answers")


def test_a_finished_run_lists_nothing_in_flight(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.record(AttemptStarted(node="draft-0", timeout_s=60.0))
    journal.add(build_node("draft-0", score=0.5))
    journal.record(
        RunFinished(
            status="ok", best="draft-0", score=0.5, submission="submission.csv", solution="solution.py"
        )
    )
    assert "no result journaled" not in summarize(tmp_path)
