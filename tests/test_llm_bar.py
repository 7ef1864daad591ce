"""Whole `mlestar run --llm ...` runs against scripted servers, through the real SDKs:

- a model that writes good drafts and then fails every other role: the fallback engineer still
  improves on the best draft (generic edits of the model's own script, ensembles);
- a reasoning model that refuses a temperature and reasons within its output cap, and Gemini
  thinking within its cap: both answer every role of the run, none falls back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlestar import app, cli
from mlestar.engineers.llm import LLMEngineer
from mlestar.journal import SOLUTION_STAGES, Journal
from mlestar.llm.settings import ROLES
from tests.conftest import guard_loopback, no_real_llm_providers
from tests.llm_server import Canned, LLMServer, Seen, chat_reply, reasoning_model, thinking_gemini
from tests.llm_support import FAKE_KEY, GoodModel, fenced, role_of, solution
from tests.search_support import cli_runs_on, light_executor, regression_task

pytestmark = pytest.mark.usefixtures("loopback_only")

ARGS = ["--budget", "3m", "--jobs", "1", "--folds", "3", "--no-tracking", "--no-live"]
"""Under 4 minutes of budget each attempt runs on one split, not three (mlestar/splits.py);
node counts, not the clock, end these runs."""


@dataclass
class Run:
    status: int
    journal: Journal
    engineer: LLMEngineer
    run_dir: Path


def _run(mp: pytest.MonkeyPatch, root: Path, llm: str, env: dict[str, str], *extra: str) -> Run:
    """`mlestar run` in this process, with the real engineers and a light fork server."""
    no_real_llm_providers(mp)
    guard_loopback(mp)
    for key, value in env.items():
        mp.setenv(key, value)
    built: list[LLMEngineer] = []
    real = app.make_engineer

    def make_engineer(config, layout, llm_settings):  # type: ignore[no-untyped-def]
        engineer = real(config, layout, llm_settings)
        assert isinstance(engineer, LLMEngineer)
        built.append(engineer)
        return engineer

    cli_runs_on(mp, light_executor())
    mp.setattr(app, "make_engineer", make_engineer)
    task = regression_task(root / "task")
    status = cli.main(["run", str(task), "--out", str(root / "run"), "--llm", llm, *ARGS, *extra])
    return Run(status, Journal(root / "run"), built[0], root / "run")


def _by_role(answer: Callable[[str, str], str], roles: set[str]) -> Callable[[Seen], Canned]:
    """Answers the given roles; every other request fails with a 400 (never retried)."""

    def respond(seen: Seen) -> Canned:
        role = role_of(seen.body["messages"])
        if role in roles:
            return chat_reply(answer(role, seen.text))
        return Canned(400, {"error": {"message": f"scripted: {role} fails", "type": "invalid_request_error"}})

    return respond


@pytest.mark.timeout(600)
def test_a_model_that_only_drafts_is_improved_on_by_the_fallback(tmp_path: Path) -> None:
    def drafts(role: str, prompt: str) -> str:
        if role == "check":
            return "OK"
        ridge = {0: 30.0, 1: 100.0, 2: 300.0, 3: 1000.0}[drafts.n % 4]  # type: ignore[attr-defined]
        drafts.n += 1  # type: ignore[attr-defined]
        return fenced(solution(ridge=ridge))  # too much ridge penalty: room to improve

    drafts.n = 0  # type: ignore[attr-defined]
    with pytest.MonkeyPatch.context() as mp, LLMServer(_by_role(drafts, {"check", "draft"})) as server:
        env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": FAKE_KEY, "MLESTAR_LLM_TIMEOUT": "5"}
        run = _run(mp, tmp_path, "openai:scripted-model", env, "--max-nodes", "14")
    assert run.status == 0
    nodes = run.journal.nodes
    best_draft = min(n.score for n in nodes.values() if n.stage == "draft" and n.ok)  # type: ignore[type-var]
    best = run.journal.best(True, stages=SOLUTION_STAGES)
    assert best is not None and best.score is not None and best.score < 0.9 * best_draft, (best, best_draft)
    assert best.stage != "draft"

    # Every step after the drafts was the fallback's: the model failed every role it was asked.
    fell_back = {role for role, _ in run.engineer.fallback_log}
    assert {"merge", "ablate", "pick_block", "plan_next", "implement", "plan_ensemble"} <= fell_back
    assert "draft" not in fell_back
    # A generic edit of the model's own script improved on the best draft.
    edits = [n for n in nodes.values() if n.plan.startswith("Generic edit (weaker-regularisation)") and n.ok]
    assert edits and min(n.score for n in edits) < best_draft  # type: ignore[type-var]
    script = (run.run_dir / edits[0].code_path).read_text()  # type: ignore[operator]
    assert "RIDGE = 10.0" in script and "fit_predict" in script  # the model's script, one setting turned


def _answered_every_role(run: Run, model: GoodModel) -> None:
    assert run.status == 0
    finished = [e for e in run.journal.events if e["name"] == "run_finished"]
    assert finished and finished[0]["status"] == "ok"
    assert run.engineer.fallback_log == []  # no role fell back: the model answered every one
    assert set(ROLES) <= set(model.asked)  # every role of the search, debug included


@pytest.mark.timeout(600)
def test_a_reasoning_model_that_refuses_temperature_answers_every_role(tmp_path: Path) -> None:
    model = GoodModel()
    models = tmp_path / "models.yaml"
    models.write_text("models:\n  house-reasoner*: {thinking_budget: 2048}\n")  # room to reason
    with pytest.MonkeyPatch.context() as mp, LLMServer(reasoning_model(model.answer, 1500)) as server:
        server.gets = {
            "/v1/models": Canned(body={"data": [{"id": "house-reasoner-1", "max_model_len": 65536}]})
        }
        env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": FAKE_KEY, "MLESTAR_LLM_TIMEOUT": "5"}
        run = _run(
            mp, tmp_path, "openai:house-reasoner-1", env, "--llm-models", str(models), "--max-nodes", "13"
        )
    _answered_every_role(run, model)
    posts = server.posts()
    assert "temperature" in posts[0].body  # the start-up check learned the model refuses one...
    assert all("temperature" not in p.body for p in posts[1:])  # ...and none was sent after it
    caps = {role_of(p.body["messages"]): p.body["max_tokens"] for p in posts[1:]}
    assert caps["plan_next"] == 800 + 2048  # the role's answer, plus room to reason


@pytest.mark.timeout(600)
def test_gemini_thinking_within_its_cap_answers_every_role(tmp_path: Path) -> None:
    model = GoodModel()
    info = {"name": "models/gemini-2.5-flash", "inputTokenLimit": 1048576, "outputTokenLimit": 65536}
    gets = {"/v1/models/gemini-2.5-flash": Canned(body=info)}
    with pytest.MonkeyPatch.context() as mp, LLMServer(thinking_gemini(model.answer), gets=gets) as server:
        env = {"GEMINI_BASE_URL": server.origin, "GEMINI_API_KEY": FAKE_KEY, "MLESTAR_LLM_TIMEOUT": "5"}
        run = _run(mp, tmp_path, "gemini:gemini-2.5-flash", env, "--max-nodes", "13")
    _answered_every_role(run, model)
    bodies = [p.body for p in server.posts()]
    assert all(list(b["generationConfig"]["thinkingConfig"].values()) == [2048] for b in bodies)
    # Retrieval was grounded: its sources reached the drafts, and its fee the bill.
    drafts = [b for b in bodies if "Your role: draft" in b["systemInstruction"]["parts"][0]["text"]]
    assert "Found on: kaggle.com <https://vertexaisearch.example/redirect/1>" in json.dumps(drafts[0])
    calls = [json.loads(line) for line in (run.run_dir / "llm" / "calls.jsonl").read_text().splitlines()]
    retrieve = next(c for c in calls if c["role"] == "retrieve")
    assert retrieve["reply"]["cost_usd"] > 0.035  # tokens plus the grounded prompt's fee


@pytest.mark.slow  # the built-in drafts import their libraries under a light fork server (about 35 s)
@pytest.mark.timeout(600)
def test_when_every_draft_of_the_model_fails_the_fallback_drafts_and_the_run_improves_on_them(
    tmp_path: Path,
) -> None:
    """The model's drafts (and its debugged versions) all fail when run: the built-in fallback drafts
    the same candidates, so the run hands over a learned model, not the training prior."""

    def broken(role: str, prompt: str) -> str:
        if role == "check":
            return "OK"
        return fenced(solution(cols='["a", "no_such_column"]'))  # a KeyError when it runs

    with (
        pytest.MonkeyPatch.context() as mp,
        LLMServer(_by_role(broken, {"check", "draft", "debug"})) as server,
    ):
        env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": FAKE_KEY, "MLESTAR_LLM_TIMEOUT": "5"}
        run = _run(mp, tmp_path, "openai:scripted-model", env, "--max-nodes", "6")
    assert run.status == 0
    nodes = run.journal.nodes.values()
    model_drafts = [n for n in nodes if n.stage == "draft" and not n.id.startswith("draft-fallback")]
    assert model_drafts and not any(n.ok for n in model_drafts)
    rescued = [n for n in nodes if n.id.startswith("draft-fallback") and n.ok]
    assert rescued
    finished = [e for e in run.journal.events if e["name"] == "run_finished"][-1]
    assert finished["status"] == "ok" and finished["best"] is not None
    best = run.journal.best(True, stages=SOLUTION_STAGES)
    assert best is not None and best.score is not None and best.score <= min(n.score for n in rescued)  # type: ignore[type-var]
