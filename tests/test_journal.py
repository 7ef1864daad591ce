"""The journal's typed vocabulary: nodes, stages, statuses and the event registry."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from pathlib import Path

import pytest

from mlestar.journal import SEED_OF, Journal, Node, Stage, Status
from mlestar.journal.events import (
    REGISTRY,
    Decided,
    Decision,
    Event,
    FinalChosen,
    RunFinished,
    Screened,
    StageStarted,
)
from tests.builders import build_node

OLD_JOURNAL = [
    # Lines as a run wrote them before the vocabulary was typed (their JSON is unchanged).
    {"kind": "event", "name": "stage_started", "time": 1.0, "stage": "draft"},
    {"kind": "node", "id": "draft-0", "parent": None, "stage": "draft", "role": "draft", "plan": "p",
     "code_path": None, "status": "ok", "score": 0.5, "started": 1.0, "ended": 2.0},
    {"kind": "event", "name": "decision", "time": 3.0, "what": "refinement_none", "round": 0, "node": "draft-0"},
    {"kind": "event", "name": "run_finished", "time": 4.0, "status": "ok", "best": "draft-0", "score": 0.5},
]  # fmt: skip


def _node(node_id: str, score: float | None, status: Status = Status.OK) -> Node:
    return build_node(node_id, score=score, status=status)


def test_an_old_journal_loads_into_typed_nodes_and_events(tmp_path: Path) -> None:
    (tmp_path / "journal.jsonl").write_text("".join(json.dumps(r) + "\n" for r in OLD_JOURNAL))
    journal = Journal(tmp_path)
    node = journal.nodes["draft-0"]
    assert node.stage is Stage.DRAFT and node.status is Status.OK and node.ok
    (decision,) = journal.find(Decided)
    assert decision.what is Decision.REFINEMENT_NONE and decision.round == 0 and decision.time == 3.0
    finished = journal.last(RunFinished)
    assert finished is not None and finished.best == "draft-0"
    assert finished.model is None and finished.submission is None  # not recorded then: defaults


def test_records_are_written_as_plain_json_values(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.add(_node("draft-0", 0.5))
    journal.record(StageStarted(stage=Stage.MERGE))
    journal.record(Decided(what=Decision.BLOCK_CHOSEN, round=1, block="model", plan="deeper trees"))
    lines = [json.loads(line) for line in (tmp_path / "journal.jsonl").read_text().splitlines()]
    assert lines[0]["stage"] == "draft" and lines[0]["status"] == "ok"
    assert lines[1] == {"kind": "event", "name": "stage_started", "time": lines[1]["time"], "stage": "merge"}
    # A decision of one shape does not carry the empty facts of the others.
    assert set(lines[2]) == {"kind", "name", "time", "what", "round", "block", "plan"}
    assert lines[2]["what"] == "block_chosen"


def test_every_event_comes_back_equal_from_the_file(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    written = [journal.record(_example(kind)) for kind in REGISTRY.values()]
    again = Journal(tmp_path)
    for event in written:
        assert again.find(type(event)) == [event]
        assert again.last(type(event)).time == event.time  # type: ignore[union-attr]


def _example(kind: type[Event]) -> Event:
    """An instance with a value of the right kind in every field."""
    values: dict[str, object] = {}
    for f in fields(kind):
        if f.name == "time":
            continue
        hint = str(f.type)
        if hint == "Stage":
            values[f.name] = Stage.REFINE
        elif hint == "Decision":
            values[f.name] = Decision.MERGE_KEPT
        elif hint.startswith(("int", "float")):
            values[f.name] = 3
        elif hint.startswith("bool"):
            values[f.name] = True
        elif hint.startswith("list"):
            values[f.name] = ["a"]
        elif hint.startswith("dict"):
            values[f.name] = {"a": 1}
        else:
            values[f.name] = f"{f.name}-value"
    return kind(**values)  # type: ignore[arg-type]


def test_events_are_found_by_type_and_facts(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    for stage in (Stage.DRAFT, Stage.MERGE):
        journal.record(StageStarted(stage=stage))
    assert journal.has(StageStarted, stage="merge") and not journal.has(StageStarted, stage="refine")
    assert [e.stage for e in journal.find(StageStarted)] == [Stage.DRAFT, Stage.MERGE]
    assert journal.first(Screened) is None


def test_an_unregistered_event_or_fact_is_refused(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    with pytest.raises(ValueError, match="expected a registered journal event"):
        journal.event("something_new", x=1)
    with pytest.raises(ValueError, match="expected facts of 'stage_started'"):
        journal.event("stage_started", stage="draft", kind="x")
    with pytest.raises(TypeError, match="two event classes"):

        class Twin(Event):  # noqa: F841 - defining it is the test
            name = "memo"


def test_best_follows_the_metric_direction_and_skips_failures(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    for node in (_node("a", 0.3), _node("b", 0.1), _node("c", None, Status.FAILED), _node("d", 0.2)):
        journal.add(node)
    assert journal.best(lower_is_better=True).id == "b"  # type: ignore[union-attr]
    assert journal.best(lower_is_better=False).id == "a"  # type: ignore[union-attr]
    assert journal.best(lower_is_better=True, stages=(Stage.MERGE,)) is None


def test_best_breaks_ties_by_a_script_first_then_the_smaller_id(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    ensemble = replace(_node("ens-0", 0.1), stage=Stage.ENSEMBLE)
    for node in (ensemble, _node("draft-2", 0.1), _node("draft-1", 0.1)):  # finishing order is not the rule
        journal.add(node)
    assert journal.best(lower_is_better=True).id == "draft-1"  # type: ignore[union-attr]


def test_a_seed_variant_is_never_the_best_solution_alone(tmp_path: Path) -> None:
    """Its edge over its script is one lucky draw: it is handed over only averaged with the others."""
    journal = Journal(tmp_path)
    journal.add(_node("t0-k0", 0.2))
    journal.add(replace(_node("wide-seed1-t0-k0", 0.18), stage=Stage.WIDEN, meta={SEED_OF: "t0-k0"}))
    journal.add(replace(_node("screen-0", 0.1), stage=Stage.SCREEN))  # screened on a cheaper split
    assert journal.best(lower_is_better=True).id == "screen-0"  # type: ignore[union-attr]
    assert journal.best_solution(lower_is_better=True).id == "t0-k0"  # type: ignore[union-attr]
    averaged = replace(_node("ens-seeds-t0-k0", 0.19), stage=Stage.ENSEMBLE)
    journal.add(averaged)
    assert journal.best_solution(lower_is_better=True).id == "ens-seeds-t0-k0"  # type: ignore[union-attr]


def test_a_final_event_from_before_members_were_recorded_loads(tmp_path: Path) -> None:
    old = {
        "kind": "event",
        "name": "final",
        "time": 1.0,
        "node": "e",
        "solution_kind": "script",
        "score": 0.5,
    }
    (tmp_path / "journal.jsonl").write_text(json.dumps(old) + "\n")
    final = Journal(tmp_path).last(FinalChosen)
    assert final is not None and final.node == "e" and final.members == [] and final.dropped == []


def test_stage_and_status_compare_equal_to_their_old_strings() -> None:
    assert Stage.DRAFT == "draft" and "draft" in {Stage.DRAFT} and f"{Stage.DRAFT:<6}|" == "draft |"
    assert Status("skipped") is Status.SKIPPED and str(Status.SKIPPED) == "skipped"


def test_the_budget_spent_counts_preparing_the_task_and_each_session_but_not_the_gaps(tmp_path: Path) -> None:
    from mlestar.app import spent_seconds

    path = tmp_path / "journal.jsonl"
    lines = [
        {"kind": "event", "name": "run_started", "time": 100.0, "prepare_s": 40.0},
        {"kind": "event", "name": "session_started", "time": 101.0, "pid": 1},
        {"kind": "event", "name": "stage_started", "time": 131.0, "stage": "draft"},  # 30 s
        {"kind": "event", "name": "session_started", "time": 500.0, "pid": 2},  # after a kill
        {"kind": "event", "name": "stage_started", "time": 510.0, "stage": "draft"},  # 10 s
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert spent_seconds(Journal(tmp_path)) == pytest.approx(40.0 + 30.0 + 10.0)
