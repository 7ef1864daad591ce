"""The provider adapters through their real SDKs, against a local HTTP server on 127.0.0.1.

OpenAI-compatible: scripted chat-completions replies. Gemini and Anthropic: recorded response
bodies in their real APIs' shapes (tests/fixtures/llm/).
"""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest

from mlestar.llm.anthropic import AnthropicClient
from mlestar.llm.budget import Budget
from mlestar.llm.client import WEB_SEARCH, Message
from mlestar.llm.factory import role_clients
from mlestar.llm.failures import ProviderError
from mlestar.llm.gemini import GeminiClient
from mlestar.llm.openai_compat import OpenAICompatClient
from mlestar.llm.record import read_calls
from mlestar.llm.retry import RetryingClient, RetryPolicy
from mlestar.llm.settings import LLMSettings
from tests.llm_server import Canned, LLMServer, chat_reply, fixture, rate_limited, server_error, slow
from tests.llm_support import FAKE_KEY

pytestmark = pytest.mark.usefixtures("loopback_only")

ASK = [Message("system", "Your role: draft. Be brief."), Message("user", "Write x = 1.")]


def _openai_settings(server: LLMServer, **env: str) -> LLMSettings:
    base = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": FAKE_KEY, "MLESTAR_LLM_TIMEOUT": "2"}
    return LLMSettings.from_env({**base, **env}, "openai:scripted-model")


# -- OpenAI-compatible -----------------------------------------------------------------------------


def test_openai_compatible_reply_usage_and_request() -> None:
    with LLMServer() as server:
        server.push(chat_reply("x = 1", prompt_tokens=120, completion_tokens=30))
        settings = _openai_settings(server, MLESTAR_LLM_PRICE_IN="2", MLESTAR_LLM_PRICE_OUT="10")
        reply = OpenAICompatClient(settings).complete(ASK, role="draft", max_tokens=500, temperature=0.3)
    assert (reply.text, reply.input_tokens, reply.output_tokens, reply.model) == (
        "x = 1",
        120,
        30,
        "scripted-model",
    )
    assert reply.cost_usd == pytest.approx((120 * 2 + 30 * 10) / 1e6) and not reply.truncated
    seen = server.posts()[0]
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == f"Bearer {FAKE_KEY}"
    assert seen.body["model"] == "scripted-model" and seen.body["temperature"] == 0.3
    assert seen.body["max_tokens"] == 500 and seen.body["messages"][0] == {
        "role": "system",
        "content": ASK[0].content,
    }


def test_openai_output_cap_and_parameter_name() -> None:
    with LLMServer() as server:
        server.push(chat_reply("a", finish_reason="length"))
        settings = _openai_settings(server, MLESTAR_LLM_MAX_OUTPUT_TOKENS="64")
        assert OpenAICompatClient(settings).complete(ASK, role="draft", max_tokens=4096).truncated
    assert server.posts()[0].body["max_tokens"] == 64
    official = LLMSettings.from_env({"OPENAI_API_KEY": FAKE_KEY, "OPENAI_BASE_URL": ""}, "openai:gpt-4o")
    assert OpenAICompatClient(official).limit_name == "max_completion_tokens"


@pytest.mark.parametrize(
    ("failure", "status", "retryable", "wait"),
    [
        (rate_limited(3), 429, True, 3.0),
        (server_error(500), 500, True, None),
        (server_error(503), 503, True, None),
        (Canned(401, {"error": {"message": "bad key"}}), 401, False, None),
        (Canned(400, {"error": {"message": "context too long"}}), 400, False, None),
    ],
)
def test_openai_errors_are_classified(
    failure: Canned, status: int, retryable: bool, wait: float | None
) -> None:
    with LLMServer() as server:
        server.push(failure)
        with pytest.raises(ProviderError) as err:
            OpenAICompatClient(_openai_settings(server)).complete(ASK, role="draft")
    assert (err.value.status, err.value.retryable, err.value.retry_after) == (status, retryable, wait)
    assert FAKE_KEY not in str(err.value)


def test_a_slow_reply_times_out_as_a_retryable_failure() -> None:
    with LLMServer() as server:
        server.push(slow("late", 2.0))
        with pytest.raises(ProviderError, match="timed out") as err:
            OpenAICompatClient(_openai_settings(server, MLESTAR_LLM_TIMEOUT="0.4")).complete(
                ASK, role="draft"
            )
    assert err.value.retryable


def test_full_client_stack_retries_then_records_one_line_per_call(tmp_path: Path) -> None:
    sleeps: list[float] = []
    with LLMServer() as server:
        server.push(rate_limited(2), chat_reply("first"))
        server.push(server_error(500), chat_reply("second"))
        server.push(slow("too late", 1.5), chat_reply("third"))
        settings = _openai_settings(server, MLESTAR_LLM_TIMEOUT="0.5")
        clients = role_clients(settings, Budget(), tmp_path / "llm", sleep=sleeps.append)
        texts = [clients["draft"].complete(ASK, role="draft").text for _ in range(3)]
    assert texts == ["first", "second", "third"]
    assert len(server.posts()) == 6 and sleeps[0] == 2.0 and len(sleeps) == 3
    calls = read_calls(tmp_path)
    assert [c["reply"]["text"] for c in calls] == texts
    assert FAKE_KEY not in (tmp_path / "llm" / "calls.jsonl").read_text()


def test_full_client_stack_records_a_final_failure(tmp_path: Path) -> None:
    with LLMServer() as server:
        server.push(*[server_error(502)] * 3)
        settings = _openai_settings(server, MLESTAR_LLM_RETRIES="2")
        client = role_clients(settings, Budget(), tmp_path / "llm", sleep=lambda s: None)["debug"]
        with pytest.raises(ProviderError, match="502"):
            client.complete(ASK, role="debug")
    assert len(server.posts()) == 3
    assert read_calls(tmp_path)[0]["error"]["type"] == "ProviderError"


def test_the_server_also_lists_models() -> None:
    with LLMServer() as server:
        models = openai.OpenAI(base_url=server.base_url, api_key=FAKE_KEY, max_retries=0).models.list()
    assert [m.id for m in models.data] == ["scripted-model"]


# -- Gemini (google-genai) -------------------------------------------------------------------------


def _gemini(server: LLMServer, **env: str) -> GeminiClient:
    base = {"GEMINI_API_KEY": FAKE_KEY, "GEMINI_BASE_URL": server.origin, "MLESTAR_LLM_TIMEOUT": "2"}
    return GeminiClient(LLMSettings.from_env({**base, **env}, "gemini:gemini-2.5-flash"))


def test_gemini_grounded_retrieval() -> None:
    with LLMServer() as server:
        server.push(fixture("gemini_grounded"))
        reply = _gemini(server).complete(
            ASK, role="retrieve", max_tokens=900, temperature=0.7, tools=(WEB_SEARCH,)
        )
    assert "lightgbm-gbdt" in reply.text and (reply.input_tokens, reply.output_tokens) == (812, 402)
    assert reply.model == "gemini-2.5-flash" and len(reply.sources) == 2 and not reply.truncated
    assert reply.cost_usd == pytest.approx((812 * 0.30 + 402 * 2.50) / 1e6 + 0.035)  # + the grounding fee
    assert (
        reply.sources[0]
        == "kaggle.com <https://vertexaisearch.cloud.google.com/grounding-api-redirect/AUZIYQH1>"
    )
    seen = server.posts()[0]
    assert seen.path.startswith("/v1") and seen.path.endswith("/models/gemini-2.5-flash:generateContent")
    assert seen.headers["x-goog-api-key"] == FAKE_KEY
    body = seen.body
    assert body["tools"] == [{"googleSearch": {}}]
    assert "Your role: draft" in body["systemInstruction"]["parts"][0]["text"]
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Write x = 1."}]}]
    # Gemini 2.5 thinks within maxOutputTokens: the answer's 900 plus the model's thinking budget.
    assert body["generationConfig"]["maxOutputTokens"] == 900 + 2048
    assert list(body["generationConfig"]["thinkingConfig"].values()) == [
        2048
    ]  # the SDK spells it thinking_budget


def test_gemini_without_tools_skips_thoughts_and_bills_them() -> None:
    with LLMServer() as server:
        server.push(fixture("gemini_code"))
        reply = _gemini(server).complete(ASK, role="draft")
    assert "Planning" not in reply.text and "# %% block: load" in reply.text
    assert reply.output_tokens == 500 and reply.sources == ()
    assert "tools" not in server.posts()[0].body


def test_gemini_quota_error_waits_as_told_then_succeeds() -> None:
    sleeps: list[float] = []
    with LLMServer() as server:
        server.push(fixture("gemini_429", status=429), fixture("gemini_code"))
        client = RetryingClient(_gemini(server), RetryPolicy(), sleep=sleeps.append)
        reply = client.complete(ASK, role="draft")
    assert sleeps == [2.0] and reply.output_tokens == 500


def test_gemini_blocked_prompt_and_timeout() -> None:
    with LLMServer() as server:
        server.push(fixture("gemini_blocked"), slow("x", 2.0))
        client = _gemini(server, MLESTAR_LLM_TIMEOUT="0.5")
        with pytest.raises(ProviderError, match="no candidate") as blocked:
            client.complete(ASK, role="draft")
        with pytest.raises(ProviderError) as late:
            client.complete(ASK, role="draft")
    assert not blocked.value.retryable and late.value.retryable


# -- Anthropic -------------------------------------------------------------------------------------


def _anthropic(server: LLMServer, **env: str) -> AnthropicClient:
    base = {"ANTHROPIC_API_KEY": FAKE_KEY, "ANTHROPIC_BASE_URL": server.origin, "MLESTAR_LLM_TIMEOUT": "2"}
    return AnthropicClient(LLMSettings.from_env({**base, **env}, "anthropic:claude-sonnet-4-0"))


def test_anthropic_message_and_request_shape() -> None:
    with LLMServer() as server:
        server.push(fixture("anthropic_message"))
        reply = _anthropic(server).complete(ASK, role="draft", max_tokens=700, temperature=0.2)
    assert "# %% block: save" in reply.text and (reply.input_tokens, reply.output_tokens) == (2095, 503)
    assert reply.cost_usd == pytest.approx((2095 * 3 + 503 * 15) / 1e6)
    seen = server.posts()[0]
    assert seen.path == "/v1/messages"
    assert FAKE_KEY in (
        seen.headers.get("x-api-key", ""),
        seen.headers.get("authorization", "").removeprefix("Bearer "),
    )
    assert seen.body["system"] == ASK[0].content and seen.body["max_tokens"] == 700
    assert seen.body["messages"] == [{"role": "user", "content": "Write x = 1."}]
    assert "tools" not in seen.body and "temperature" not in seen.body


def test_anthropic_web_search_for_retrieval() -> None:
    with LLMServer() as server:
        server.push(fixture("anthropic_web_search"))
        reply = _anthropic(server).complete(ASK, role="retrieve", tools=(WEB_SEARCH,))
    assert json.loads(reply.text)[0]["name"] == "lightgbm-gbdt"  # the narration before the search is left out
    assert reply.sources[0].startswith("https://www.kaggle.com/")
    assert server.posts()[0].body["tools"][0]["type"].startswith("web_search")


def test_anthropic_overload_and_rate_limit_are_retried() -> None:
    sleeps: list[float] = []
    with LLMServer() as server:
        server.push(
            fixture("anthropic_overloaded", status=529),
            fixture("anthropic_rate_limit", status=429, headers={"retry-after": "4"}),
            fixture("anthropic_message"),
        )
        client = RetryingClient(_anthropic(server), RetryPolicy(base_delay_s=0.5), sleep=sleeps.append)
        reply = client.complete(ASK, role="draft")
    assert reply.output_tokens == 503 and len(server.posts()) == 3
    assert 0.25 <= sleeps[0] <= 0.5 and sleeps[1] == 4.0


def test_a_known_reasoning_model_gets_no_temperature_and_room_to_reason() -> None:
    with LLMServer() as server:
        server.push(chat_reply("x = 1"))
        settings = LLMSettings.from_env(
            {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": FAKE_KEY}, "openai:o4-mini"
        )
        OpenAICompatClient(settings).complete(ASK, role="plan_next", max_tokens=800, temperature=0.8)
    body = server.posts()[0].body
    assert "temperature" not in body and body["max_tokens"] == 800 + 8192


def test_a_refused_temperature_is_dropped_and_the_request_sent_again() -> None:
    refused = Canned(400, {"error": {"message": "Unsupported value: 'temperature' does not support 0.3"}})
    with LLMServer() as server:
        server.push(refused, chat_reply("one"), chat_reply("two"))
        client = OpenAICompatClient(_openai_settings(server))
        assert client.complete(ASK, role="draft", temperature=0.3).text == "one"
        assert client.complete(ASK, role="draft", temperature=0.3).text == "two"
    first, second, third = (p.body for p in server.posts())
    assert "temperature" in first and "temperature" not in second and "temperature" not in third
