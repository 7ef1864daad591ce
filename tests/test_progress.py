"""Progress shows a run from its journal alone: whatever is journaled is shown, and the search never
calls it."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from mlestar.app import start_run
from mlestar.engineers.base import ScreenResult
from mlestar.journal import Journal, Stage, Status, store
from mlestar.journal.events import (
    AttemptStarted,
    Decided,
    Decision,
    EngineerFailed,
    FallbackDrafts,
    LeakageFound,
    Screened,
    StageStarted,
)
from mlestar.search.progress import Progress
from tests.builders import build_node
from tests.scripted_engineer import ScriptedEngineer
from tests.search_support import config, light_executor, regression_task


def _following(journal: Journal, lower_is_better: bool = True) -> tuple[Progress, io.StringIO]:
    out = io.StringIO()
    progress = Progress("tiny", 60.0, live=False, stream=out)
    progress.follow(journal, lower_is_better)
    return progress, out


def _lines(out: io.StringIO) -> list[str]:
    return _lines_of(out.getvalue())


def _lines_of(text: str) -> list[str]:
    return [re.sub(r"^\[\d\d:\d\d:\d\d\] ", "", line) for line in text.splitlines()]


def test_stages_attempts_and_notes_are_shown_as_they_are_journaled(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    progress, out = _following(journal)
    journal.record(StageStarted(stage=Stage.DRAFT))
    journal.record(AttemptStarted(node="draft-0", timeout_s=30.0))
    journal.record(AttemptStarted(node="draft-1", timeout_s=30.0))
    assert progress.running == {"draft-0", "draft-1"} and progress.stage == "draft"
    journal.add(build_node("draft-0", score=0.25, meta={"interval": [0.2, 0.3]}, plan="lgbm: a booster"))
    journal.add(build_node("draft-1", score=None, status=Status.FAILED, plan="knn"))
    journal.record(Decided(what=Decision.MERGE_KEPT, node="draft-0", base="draft-1"))  # not shown
    journal.record(LeakageFound(node="draft-0", leaks=["target in features", "ids"]))
    journal.record(EngineerFailed(key="t0-pick", error="no block"))
    journal.record(FallbackDrafts(candidates=["lgbm"]))
    lines = _lines(out)
    assert lines[0] == "stage draft"
    assert re.fullmatch(r"draft-0 +ok +score 0\.25000 \[0\.2000, 0\.3000\] +1\.0s  lgbm: a booster", lines[1])
    assert re.fullmatch(r"draft-1 +failed +score - +1\.0s  knn", lines[2])
    assert lines[3:] == [
        "leakage in draft-0: target in features; ids",
        "t0-pick: no block",
        "no draft worked: the fallback engineer drafts the same candidates",
    ]
    assert progress.running == set() and progress.done == 2 and progress.best == (0.25, "draft-0")


def test_the_best_solution_follows_the_metric_and_ignores_screening_and_final_fits(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    progress, _ = _following(journal, lower_is_better=False)
    journal.add(build_node("screen-0", score=0.99, stage=Stage.SCREEN))
    journal.add(build_node("draft-0", score=0.7))
    journal.add(build_node("draft-1", score=0.8))
    journal.add(build_node("ens-0", score=0.8, stage=Stage.ENSEMBLE))  # a tie goes to the script
    journal.add(build_node("final-draft-1", score=0.95, stage=Stage.FINAL))
    assert progress.best == (0.8, "draft-1")
    assert progress.best == (0.8, journal.best(False, stages=(Stage.DRAFT, Stage.ENSEMBLE)).id)  # type: ignore[union-attr]


def test_the_screening_table_is_printed_whole_and_its_leaders_kept_for_the_panel(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    progress, out = _following(journal)
    rows = [
        ScreenResult("logreg", "linear", 0.2, 1.5, "ok", 1, chosen=True),
        ScreenResult("forest", "trees", 0.3, 2.0, "ok", 0),
        ScreenResult("svm", "kernel", None, 9.0, "timeout", 2),
    ]
    results = [json.loads(json.dumps(r.__dict__)) for r in rows]  # as the journal holds them
    journal.record(Screened(split="60 rows in 2 folds", results=results, drafts=["logreg"]))
    lines = _lines(out)
    assert lines[0] == "Screening: 60 rows in 2 folds" and "<- drafted" in lines[2] and "logreg" in lines[2]
    assert len(lines) == 5 and "timeout" in lines[-1]
    assert progress.screening == "logreg 0.2, forest 0.3"


def test_a_resumed_run_starts_from_what_its_journal_holds(tmp_path: Path) -> None:
    first = Journal(tmp_path)
    first.record(StageStarted(stage=Stage.DRAFT))
    first.add(build_node("draft-0", score=0.4))
    first.record(StageStarted(stage=Stage.MERGE))
    progress, out = _following(Journal(tmp_path))
    assert progress.stage == "merge" and progress.best == (0.4, "draft-0")
    assert _lines(out) == ["stage merge"]  # earlier records are not replayed
    assert progress.done == 0


def test_an_attempt_start_is_journaled_without_its_own_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    monkeypatch.setattr(store.os, "fsync", synced.append)
    journal = Journal(tmp_path)
    journal.record(AttemptStarted(node="draft-0", timeout_s=12.5))
    assert synced == []
    journal.record(StageStarted(stage=Stage.DRAFT))
    assert len(synced) == 1
    (started,) = Journal(tmp_path).find(AttemptStarted)
    assert started.node == "draft-0" and started.timeout_s == 12.5


def test_a_whole_run_shows_every_attempt_once_from_its_journal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(regression_task(tmp_path / "task"), tmp_path / "run", max_nodes=8, t_outer=1)
    start_run(cfg, engineer=ScriptedEngineer(drafts={"a": "fail", "b": 0.6}), executor=light_executor())
    journal = Journal(cfg.run_dir)
    lines = _lines_of(capsys.readouterr().err)
    for node_id in journal.nodes:
        assert len([line for line in lines if line.split(" ", 1)[0] == node_id]) == 1, node_id
    stages = [e.stage for e in journal.find(StageStarted)]
    assert [line.removeprefix("stage ") for line in lines if line.startswith("stage ")] == [*stages, "submit"]
    # Every script the harness ran announced itself before its node was journaled.
    records = list(journal.records())
    started = {r["node"]: k for k, r in enumerate(records) if r.get("name") == "attempt_started"}
    ended = {r["id"]: k for k, r in enumerate(records) if r["kind"] == "node"}
    ran = [n.id for n in journal.nodes.values() if n.result is not None]
    assert ran and all(started[i] < ended[i] for i in ran)
