"""Role logic of the LLM engineer with the shipped fakes (no HTTP): retrieval modes, benching a
failing role, no fallback, and usage accounting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlestar.engineers.base import Candidate, EngineerFailure
from mlestar.engineers.llm import LLMEngineer
from mlestar.llm.client import WEB_SEARCH, Message
from mlestar.llm.failures import ProviderError
from mlestar.llm.fakes import FunctionClient, ScriptedClient
from mlestar.llm.settings import ROLES
from mlestar.llm.websearch import FunctionSearch
from tests.llm_support import SCRIPT, RecordingFallback, cards_json, context, fenced


def test_retrieve_grounds_in_web_search_when_the_client_can(tmp_path: Path) -> None:
    client = ScriptedClient([cards_json(["lightgbm-dart", "catboost", "tabm"])])
    client.web_search = True
    cards = LLMEngineer(client, RecordingFallback()).retrieve(context(tmp_path), 2)
    assert [c.name for c in cards] == ["lightgbm-dart", "catboost"] and cards[0].source == "web"
    assert client.calls[0].tools == (WEB_SEARCH,)
    assert "Search the web" in client.calls[0].prompt


def test_retrieve_uses_a_search_backend_for_other_providers(tmp_path: Path) -> None:
    client = ScriptedClient([cards_json(["xgboost"])])
    search = FunctionSearch(lambda q, k: [f"XGBoost wins {q}"] * 20)
    cards = LLMEngineer(client, RecordingFallback(), search=search).retrieve(context(tmp_path), 3)
    assert [c.name for c in cards] == ["xgboost"] and cards[0].source == "search"
    assert len(search.queries) == 1 and "XGBoost wins" in client.calls[0].prompt
    assert client.calls[0].tools == ()


def test_a_failing_search_backend_hands_retrieval_to_the_fallback(tmp_path: Path) -> None:
    def broken(query: str, k: int) -> list[str]:
        raise TimeoutError("search service down")

    fallback = RecordingFallback()
    eng = LLMEngineer(ScriptedClient([]), fallback, search=FunctionSearch(broken))
    assert [c.name for c in eng.retrieve(context(tmp_path), 2)] == ["ridge", "lightgbm"]
    assert "search backend failed" in eng.fallback_log[0][1]


def test_retrieve_offline_chooses_among_the_model_cards(tmp_path: Path) -> None:
    fallback = RecordingFallback()
    client = ScriptedClient(['["knn", "nonexistent", "ridge"]'])
    cards = LLMEngineer(client, fallback).retrieve(context(tmp_path), 2)
    assert [c.name for c in cards] == ["knn", "ridge"]
    assert "- lightgbm: trees" in client.calls[0].prompt
    few = ScriptedClient([])
    assert [c.name for c in LLMEngineer(few, fallback).retrieve(context(tmp_path), 3)] == [
        "ridge",
        "lightgbm",
        "knn",
    ]
    assert few.calls == []  # no more cards than asked for: nothing to choose


def test_a_role_failing_again_and_again_stops_asking_its_model(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    client = FunctionClient(lambda messages, role: "no code at all" if role == "draft" else "a plan")
    fallback = RecordingFallback()
    eng = LLMEngineer(client, fallback, max_role_failures=2)
    for _ in range(3):
        assert eng.draft(ctx, fallback.retrieve(ctx, 1)[0]) == SCRIPT
    assert client.roles() == ["draft"] * 6  # two steps with two re-asks each, then benched
    assert eng.plan_next(ctx, SCRIPT, "features", []) == "a plan"  # other roles still ask
    assert eng.take_usage().by_role["draft"]["fallbacks"] == 3


def test_without_a_fallback_a_failing_role_raises_engineer_failure(tmp_path: Path) -> None:
    eng = LLMEngineer(ScriptedClient([ProviderError("down")]))
    with pytest.raises(EngineerFailure, match="no fallback"):
        eng.plan_next(context(tmp_path), SCRIPT, "features", [])


def test_empty_ablation_results_need_no_model(tmp_path: Path) -> None:
    client = ScriptedClient([])
    assert "nothing is known" in LLMEngineer(client).summarize_ablation(context(tmp_path), [])
    assert client.calls == []


def test_per_role_clients_and_temperatures(tmp_path: Path) -> None:
    strong, cheap = ScriptedClient([fenced(SCRIPT)]), ScriptedClient(["short plan"])
    clients = {role: strong for role in ROLES}
    eng = LLMEngineer({**clients, "plan_next": cheap}, temperatures={"draft": 0.0})
    eng.draft(context(tmp_path), Candidate("r", "s"))
    eng.plan_next(context(tmp_path), SCRIPT, "features", [])
    assert strong.calls[0].temperature == 0.0 and cheap.calls[0].temperature == 0.8
    assert strong.calls[0].max_tokens == 8192 and cheap.calls[0].max_tokens == 800
    with pytest.raises(ValueError, match="no client for roles"):
        LLMEngineer({"draft": strong})


def test_usage_is_counted_per_role_across_threads(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    client = FunctionClient(lambda messages, role: "plan " + json.dumps(len(messages)))
    eng = LLMEngineer(client)
    ctx = context(tmp_path)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: eng.plan_next(ctx, SCRIPT, "features", []), range(20)))
    usage = eng.take_usage()
    assert usage.calls == 20 and usage.by_role["plan_next"]["calls"] == 20
    assert usage.input_tokens == sum(sum(len(m.content.split()) for m in c.messages) for c in client.calls)
    assert isinstance(client.calls[0].messages[0], Message)
