"""Widening's batches: what is taken when some jobs do not fit the time left."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from mlestar.engineers.base import Candidate
from mlestar.journal import Node, Stage
from mlestar.search import widen
from mlestar.search.stages import SearchState
from tests.builders import build_node


def _search(drafts: list[str], best: list[Node]) -> Any:
    """The parts of a Search that widening reads: three candidates left to draft, two scored scripts."""
    state = SearchState(widen_order=drafts)
    state.candidates.update({name: Candidate(name=name, summary=name) for name in drafts})
    nodes = {n.id: n for n in best}
    return SimpleNamespace(
        state=state,
        budget=SimpleNamespace(nodes_left=lambda: None),
        attempts=SimpleNamespace(jobs=2),
        journal=SimpleNamespace(get=nodes.get, nodes=nodes),
        harness=SimpleNamespace(script_of=lambda node: "SEED = 42\nprint(1)\n"),
        engineer=SimpleNamespace(draft=lambda ctx, cand: f"# {cand.name}\n"),
        settings=SimpleNamespace(widen_seeds=2),
        ctx=SimpleNamespace(seed=42, spec=SimpleNamespace(lower_is_better=True)),
    )


def _scored(node_id: str, score: float) -> Node:
    return build_node(node_id, score=score, stage=Stage.DRAFT, code_path=f"attempts/{node_id}/solution.py")


def test_a_job_that_does_not_fit_is_passed_over_for_the_next_ones() -> None:
    search = _search(["slow", "fast"], [_scored("draft-0", 0.3), _scored("draft-1", 0.4)])
    everything = [att.id for att, _ in widen.next_jobs(search)]
    assert everything == ["wide-draft-0", "wide-seed1-draft-0"]
    fitting = [att.id for att, _ in widen.next_jobs(search, fits=lambda att: att.id != "wide-draft-0")]
    assert fitting == ["wide-seed1-draft-0", "wide-draft-1"]


def test_nothing_fits_nothing_is_taken() -> None:
    search = _search(["slow"], [_scored("draft-0", 0.3)])
    assert widen.next_jobs(search, fits=lambda att: False) == []


def test_seeds_go_to_the_best_scripts_first_and_to_the_others_once_theirs_are_done() -> None:
    scripts = [_scored("draft-0", 0.3), _scored("draft-1", 0.4), _scored("draft-2", 0.5)]
    search = _search([], scripts)
    assert [att.id for att, _ in widen.next_jobs(search)] == ["wide-seed1-draft-0", "wide-seed1-draft-1"]
    for node_id, score in (("wide-seed1-draft-0", 0.31), ("wide-seed2-draft-0", 0.29)):
        search.journal.nodes[node_id] = build_node(node_id, score=score, stage=Stage.WIDEN)
    # The best one has its two seeds (widen_seeds=2): the third script's first seed joins the batch.
    assert [att.id for att, _ in widen.next_jobs(search)] == ["wide-seed1-draft-1", "wide-seed1-draft-2"]
