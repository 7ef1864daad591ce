"""The pluggable search backend: Tavily and SearXNG against local servers in their APIs' shapes,
the results in the retrieval prompt, recorded beside the model calls and read back on replay."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from mlestar.config import RunConfig
from mlestar.engineers.llm import LLMEngineer, build_engineer
from mlestar.errors import ConfigError
from mlestar.llm.failures import ProviderError
from mlestar.llm.settings import LLMSettings
from mlestar.llm.websearch import SEARCH_FILE, SearchSpec, SearxngSearch, TavilySearch
from tests.llm_server import Canned, LLMServer, Seen, chat_reply
from tests.llm_support import FAKE_KEY, RecordingFallback, cards_json, context

pytestmark = pytest.mark.usefixtures("loopback_only")

RESULTS = [
    {
        "title": "Winning tabular solutions",
        "url": "https://example.org/a",
        "content": "Gradient  boosting\nwins.",
    },
    {"title": "", "url": "https://example.org/b", "content": "CatBoost handles categories."},
    {"title": "no address", "content": "dropped"},
]


def test_tavily_posts_the_query_with_its_key_and_reads_the_results() -> None:
    with LLMServer() as server:
        server.push(Canned(body={"query": "q", "results": RESULTS}))
        spec = SearchSpec.from_env({"TAVILY_API_KEY": FAKE_KEY, "TAVILY_BASE_URL": server.origin}, "tavily")
        found = TavilySearch(spec).search("best models", 5)
    assert found == [
        "Winning tabular solutions <https://example.org/a>: Gradient boosting wins.",
        "https://example.org/b <https://example.org/b>: CatBoost handles categories.",
    ]
    seen = server.posts()[0]
    assert seen.path == "/search" and seen.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert seen.body["query"] == "best models" and seen.body["max_results"] == 5
    assert FAKE_KEY not in repr(spec)


def test_searxng_asks_its_json_api() -> None:
    with LLMServer(gets={"/search": Canned(body={"results": RESULTS})}) as server:
        found = SearxngSearch(SearchSpec.from_env({}, f"searxng:{server.origin}/")).search("best models", 1)
        assert found == ["Winning tabular solutions <https://example.org/a>: Gradient boosting wins."]
        query = server.requests[0].path
    assert query.startswith("/search?") and "q=best+models" in query and "format=json" in query


def test_a_search_service_that_fails_says_so() -> None:
    with (
        LLMServer(gets={"/search": Canned(503, {"error": "overloaded"})}) as server,
        pytest.raises(ProviderError, match="HTTP 503") as failed,
    ):
        SearxngSearch(SearchSpec("searxng", server.origin)).search("q", 3)
    assert failed.value.retryable


@pytest.mark.parametrize(
    ("env", "spec", "message"),
    [
        ({}, "tavily", "TAVILY_API_KEY"),
        ({}, "searxng", "searxng:URL"),
        ({}, "google", "expected --search tavily or --search searxng:URL"),
    ],
)
def test_search_settings_say_what_was_expected(env: dict[str, str], spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SearchSpec.from_env(env, spec)


def test_results_reach_the_model_are_recorded_and_replayed(tmp_path: Path) -> None:
    ctx = context(tmp_path)

    def model(seen: Seen) -> Canned:
        return chat_reply(cards_json(["gbdt", "catboost"]))

    with LLMServer(model, gets={"/search": Canned(body={"results": RESULTS})}) as server:
        env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": FAKE_KEY}
        settings = replace(
            LLMSettings.from_env(env, "openai:scripted-model"), search=SearchSpec("searxng", server.origin)
        )
        record = tmp_path / "run" / "llm"
        first = build_engineer(RunConfig(tmp_path, tmp_path / "run"), settings, RecordingFallback(), record)
        cards = first.retrieve(ctx, 2)
        prompt = server.posts()[0].text
    assert [c.name for c in cards] == ["gbdt", "catboost"] and cards[0].source == "search"
    assert "Web search results:\n- Winning tabular solutions <https://example.org/a>" in prompt
    assert "toy-regression" not in server.requests[0].path  # the query names the kind of task, not the task
    assert (record / SEARCH_FILE).is_file()

    replay = LLMSettings.from_env({}, f"replay:{tmp_path / 'run'}")
    again = build_engineer(
        RunConfig(tmp_path, tmp_path / "again"), replay, RecordingFallback(), tmp_path / "x"
    )
    assert isinstance(again, LLMEngineer)
    assert [c.name for c in again.retrieve(ctx, 2)] == ["gbdt", "catboost"] and again.fallback_log == []
