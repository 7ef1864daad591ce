"""`mlestar run TASK --llm openai:MODEL` end to end, through the real openai SDK, against a local
scripted server: good replies, malformed code, invalid JSON, a block not in the script, a script
that fails and is debugged, a slow reply that times out, a 429 then success, and a model budget
(--max-tokens) that runs out mid-run, after which the fallback engineer finishes the run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlestar import app, blocks, cli
from mlestar.engineers.base import (
    BlockChoice,
    Candidate,
    PlanOutcome,
    TaskContext,
    Variant,
)
from mlestar.engineers.llm import LLMEngineer, build_engineer
from mlestar.journal import Journal
from mlestar.status import summarize
from tests.conftest import guard_loopback, no_real_llm_providers
from tests.llm_server import Canned, LLMServer, Seen, chat_reply, rate_limited, slow
from tests.llm_support import FAKE_KEY, RecordingFallback, fenced, role_of, solution
from tests.search_support import cli_runs_on, light_executor, regression_task

pytestmark = pytest.mark.usefixtures("loopback_only")

TOKENS_PER_REPLY = 150  # chat_reply's default usage: 100 prompt + 50 completion tokens
MODEL_CALLS = 16
"""Replies the --max-tokens budget pays for; the run goes on without the model after them."""


class Fallback(RecordingFallback):
    """The engineer that covers failed steps and the rest of the run once the budget is spent:
    the recording stand-in, with answers that make a real ridge solution and refine it."""

    def retrieve(self, ctx: TaskContext, m: int) -> list[Candidate]:
        self.calls.append("retrieve")
        names = ["ols", "ridge", "poly", "knn", "trees"]
        return [Candidate(n, f"card {n}") for n in names][:m]

    def draft(self, ctx: TaskContext, candidate: Candidate) -> str:
        self.calls.append("draft")
        return solution()

    def ablate(self, ctx: TaskContext, script: str, previous: list[str]) -> list[Variant]:
        self.calls.append("ablate")
        return [Variant("one-column", "one column", "features", solution(cols='["a"]'))]

    def pick_block(self, ctx: TaskContext, script: str, summary: str, refined: list[str]) -> BlockChoice:
        self.calls.append("pick_block")
        return BlockChoice("model", "change the ridge penalty")

    def plan_next(self, ctx: TaskContext, script: str, block: str, history: list[PlanOutcome]) -> str:
        self.calls.append("plan_next")
        return f"fallback plan {len(history)}"

    def implement(self, ctx: TaskContext, script: str, block: str, plan: str) -> str:
        self.calls.append("implement")
        if block == "model":
            return blocks.get_block(script, "model").replace("RIDGE = ", "RIDGE = 0.5 * ")
        return blocks.get_block(script, block)


def _ok(text: str) -> Canned:
    return chat_reply(text, prompt_tokens=100, completion_tokens=50)


def _replies() -> dict[str, list[Canned]]:
    """What the scripted model answers, role by role, in the order the search asks."""
    broken = solution(cols='["a", "b", "d"]')  # KeyError: 'd' when it runs
    return {
        "check": [_ok("OK")],  # the start-up check
        "retrieve": [_ok("Here: [ols, ridge"), _ok('["ols", "ridge", "poly"]')],  # invalid JSON, re-ask
        "draft": [
            _ok(fenced(solution())),
            _ok("```python\ndef fit(:\n    pass\n```"),  # malformed code, re-ask
            _ok(fenced(solution(ridge=10.0))),
            _ok(fenced(broken)),  # runs and fails: debugged below
        ],
        "debug": [slow(fenced(solution(squares=True)), 2.5), rate_limited(1), _ok(fenced(solution(squares=True)))],
        "merge": [_ok(fenced(solution().replace("Ridge regression", f"Merged {i} ridge"))) for i in (1, 2)],
        "check_data_usage": [_ok("ALL DATA USED")],
        "check_leakage": [_ok('{"leakage": false, "findings": []}')],
        "ablate": [_ok("VARIANT: one-column\nBLOCK: features\nWHAT: only a\n" + fenced('cols = ["a"]\nX, X_test = train[cols].to_numpy(float), test[cols].to_numpy(float)'))],
        "summarize_ablation": [_ok("Dropping columns b and c hurts most: the features block matters.")],
        "pick_block": [
            _ok('{"block": "preprocess", "plan": "scale"}'),  # a block that is not in the script, re-ask
            _ok('{"block": "features", "plan": "Add the squares of a, b and c."}'),
        ],
        "implement": [_ok(fenced('cols = ["a", "b", "c"]\nX, X_test = train[cols].to_numpy(float), test[cols].to_numpy(float)\nX, X_test = np.hstack([X, X**2]), np.hstack([X_test, X_test**2])'))],
        "plan_next": [_ok("Add pairwise products as well.")] * 8,
    }  # fmt: skip


class RoleResponder:
    def __init__(self, replies: dict[str, list[Canned]]) -> None:
        self.replies = replies
        self.roles: list[str] = []

    def __call__(self, seen: Seen) -> Canned:
        role = role_of(seen.body["messages"])
        self.roles.append(role)
        queue = self.replies.get(role, [])
        if not queue:
            return Canned(400, {"error": {"message": f"e2e: no reply scripted for {role}"}})
        return queue.pop(0)


ARGS = ["--budget", "3m", "--jobs", "1", "--folds", "3", "--max-nodes", "13",
        "--max-tokens", str(TOKENS_PER_REPLY * MODEL_CALLS), "--no-tracking", "--no-live"]  # fmt: skip
"""Under 4 minutes of budget each attempt runs on one split, not three (mlestar/splits.py);
the node count, not the clock, ends the run."""


@dataclass
class Run:
    status: int
    run_dir: Path
    engineer: LLMEngineer
    fallback: Fallback


def _mlestar_run(mp: pytest.MonkeyPatch, task: Path, run_dir: Path, llm: str) -> Run:
    """`mlestar run TASK --llm ...` in this process, with a light fork server and the test fallback."""
    built: list[LLMEngineer] = []
    fallback = Fallback()

    def make_engineer(config, layout, llm_settings):  # type: ignore[no-untyped-def]
        engineer = build_engineer(config, llm_settings, fallback, layout.llm)
        assert isinstance(engineer, LLMEngineer)
        built.append(engineer)
        return engineer

    cli_runs_on(mp, light_executor())
    mp.setattr(app, "make_engineer", make_engineer)
    status = cli.main(["run", str(task), "--out", str(run_dir), "--llm", llm, *ARGS])
    return Run(status, run_dir, built[0], fallback)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Run, LLMServer, Path]]:
    """One whole run against the scripted server, shared by the tests of this module."""
    root = tmp_path_factory.mktemp("e2e")
    task = regression_task(root / "task")
    with pytest.MonkeyPatch.context() as mp, LLMServer(RoleResponder(_replies())) as server:
        no_real_llm_providers(mp)
        guard_loopback(mp)
        mp.setenv("OPENAI_BASE_URL", server.base_url)
        mp.setenv("OPENAI_API_KEY", FAKE_KEY)
        mp.setenv("MLESTAR_LLM_TIMEOUT", "1")
        run = _mlestar_run(mp, task, root / "run", "openai:scripted-model")
    yield run, server, task


@pytest.mark.timeout(600)
def test_scripted_model_drives_a_whole_run(recorded: tuple[Run, LLMServer, Path]) -> None:
    run, server, task = recorded
    status, run_dir, engineer, fallback = run.status, run.run_dir, run.engineer, run.fallback
    journal = Journal(run_dir)
    print(summarize(run_dir))  # the journal summary, for the note (pytest -s shows it)
    assert status == 0
    finished = [e for e in journal.events if e["name"] == "run_finished"]
    assert finished and finished[0]["status"] == "ok"

    # The submission is complete and matches the sample.
    sub, sample = pd.read_csv(run_dir / "submission.csv"), pd.read_csv(task / "sample_submission.csv")
    assert list(sub.columns) == list(sample.columns) and sub["id"].tolist() == sample["id"].tolist()
    assert np.isfinite(sub["y"]).all()

    # Malformed code, invalid JSON and a missing block were each re-asked and then used.
    posts = [role_of(r.body["messages"]) for r in server.posts()]
    assert posts[:3] == ["check", "retrieve", "retrieve"]  # the start-up check, then the search
    assert {n.id for n in journal.nodes.values()} >= {"draft-0", "draft-1", "draft-2", "draft-2.debug1"}
    assert journal.nodes["draft-1"].ok  # the re-asked draft ran
    chosen = [e for e in journal.events if e["name"] == "decision" and e.get("what") == "block_chosen"]
    assert chosen[0]["block"] == "features" and chosen[0]["plan"].startswith("Add the squares")
    assert "Merged 2 ridge" in (run_dir / "attempts" / "merge-2" / "solution.py").read_text()
    assert "X**2" in (run_dir / "attempts" / "t0-k0" / "solution.py").read_text()  # the model's last reply

    # The failing draft was debugged: its slow reply timed out, a 429 followed, then the fix arrived.
    assert journal.nodes["draft-2"].status == "failed" and "KeyError" in (
        journal.nodes["draft-2"].error or ""
    )
    assert journal.nodes["draft-2.debug1"].ok
    assert posts.count("debug") == 3

    # The model budget ran out mid-run: nothing was sent after it, and the fallback finished the run.
    calls = [json.loads(line) for line in (run_dir / "llm" / "calls.jsonl").read_text().splitlines()]
    answered = [c for c in calls if "reply" in c]
    assert (
        len(answered) == MODEL_CALLS and len(server.posts()) == MODEL_CALLS + 3
    )  # + the start-up check, the timeout and the 429
    assert engineer.budget is not None and engineer.budget.exhausted
    spent = [role for role, reason in engineer.fallback_log if "BudgetExhausted" in reason]
    assert spent and set(spent) <= set(fallback.calls)
    last_llm = max(c["time"] for c in calls)
    later = [n for n in journal.nodes.values() if n.started > last_llm and n.ok]
    assert later, "the run went on after the model budget was spent"

    # Tokens and calls are journaled on the attempts they were spent for; the key is written nowhere.
    on_nodes = [n.usage for n in journal.nodes.values() if n.usage]
    assert sum(u["calls"] for u in on_nodes) == MODEL_CALLS
    assert sum(u["input_tokens"] + u["output_tokens"] for u in on_nodes) == MODEL_CALLS * TOKENS_PER_REPLY
    assert journal.nodes["draft-1"].usage["calls"] == 2  # the malformed draft and its re-ask
    for path in run_dir.rglob("*"):
        if path.is_file() and path.stat().st_size < 5_000_000:
            assert FAKE_KEY.encode() not in path.read_bytes(), path


@pytest.mark.timeout(600)
def test_replay_makes_the_same_decisions_without_network(
    recorded: tuple[Run, LLMServer, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, server, task = recorded
    sent = len(server.requests)
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)  # present, and never needed
    second = _mlestar_run(monkeypatch, task, tmp_path / "replayed", f"replay:{first.run_dir}")
    assert second.status == 0 and len(server.requests) == sent
    a, b = Journal(first.run_dir), Journal(second.run_dir)
    assert _outline(b) == _outline(a)
    assert _decisions(b) == _decisions(a)
    assert second.fallback.calls == first.fallback.calls
    assert (second.run_dir / "submission.csv").read_text() == (first.run_dir / "submission.csv").read_text()


def _outline(journal: Journal) -> list[tuple[str, str, float | None, str]]:
    return [
        (n.id, n.status, n.score, n.plan) for n in sorted(journal.nodes.values(), key=lambda n: n.started)
    ]


def _decisions(journal: Journal) -> list[tuple[str, str | None]]:
    return [(e["what"], e.get("node") or e.get("block")) for e in journal.events if e["name"] == "decision"]
