"""The client interface and its wrappers, with fakes: settings, retries, budget, record and replay."""

from __future__ import annotations

import json
import pickle
from dataclasses import asdict
from pathlib import Path

import pytest

from mlestar.errors import ConfigError
from mlestar.llm.budget import Budget, BudgetedClient
from mlestar.llm.client import Message, Reply
from mlestar.llm.failures import (
    BudgetExhausted,
    ProviderError,
    ReplayMiss,
    parse_retry_after,
    retry_delay_in_body,
)
from mlestar.llm.fakes import FunctionClient, ScriptedClient
from mlestar.llm.pricing import known_price
from mlestar.llm.record import Recorder, RecordingClient, ReplayClient, read_calls
from mlestar.llm.retry import RetryingClient, RetryPolicy
from mlestar.llm.settings import LLMSettings, Secret
from tests.llm_support import FAKE_KEY

HI = [Message("system", "Your role: draft."), Message("user", "hello")]

# -- fakes -----------------------------------------------------------------------------------------


def test_scripted_client_replays_in_order_and_by_role() -> None:
    client = ScriptedClient(["one", Reply("two", 5, 6, "m", 0.01)])
    assert client.complete(HI, role="draft").text == "one"
    second = client.complete(HI, role="debug", max_tokens=9, temperature=0.1)
    assert (second.text, second.cost_usd) == ("two", 0.01)
    assert client.roles() == ["draft", "debug"] and client.calls[1].max_tokens == 9
    with pytest.raises(AssertionError, match="no reply left"):
        client.complete(HI, role="draft")
    by_role = ScriptedClient({"debug": ["fixed"], "draft": [ProviderError("boom")]})
    assert by_role.complete(HI, role="debug").text == "fixed"
    with pytest.raises(ProviderError, match="boom"):
        by_role.complete(HI, role="draft")


def test_function_client_lets_a_callable_decide() -> None:
    client = FunctionClient(lambda messages, role: f"{role}:{messages[-1].content}")
    assert client.complete(HI, role="plan_next").text == "plan_next:hello"
    assert client.calls[0].prompt.endswith("hello")


# -- settings --------------------------------------------------------------------------------------


def test_settings_from_env_for_openai_compatible_servers() -> None:
    env = {
        "OPENAI_API_KEY": FAKE_KEY,
        "OPENAI_BASE_URL": "https://llm.example.com/v1",
        "MLESTAR_LLM_TIMEOUT": "12",
    }
    s = LLMSettings.from_env(env, "openai:gpt-4o-mini")
    assert (s.provider, s.model, s.api, s.base_url, s.timeout_s) == (
        "openai",
        "gpt-4o-mini",
        "openai_compat",
        "https://llm.example.com/v1",
        12.0,
    )
    assert s.api_key is not None and s.api_key.reveal() == FAKE_KEY
    assert s.prices == known_price("gpt-4o-mini") and not s.local
    local = LLMSettings.from_env({}, "ollama:qwen2.5-coder:7b")
    assert (local.model, local.api, local.base_url, local.api_key, local.prices) == (
        "qwen2.5-coder:7b",
        "ollama",
        "http://localhost:11434",
        None,
        (0.0, 0.0),
    )
    no_key = LLMSettings.from_env({"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"}, "openai:my-model")
    assert no_key.api_key is None  # a self-hosted server needs none


def test_settings_never_show_the_key() -> None:
    s = LLMSettings.from_env({"ANTHROPIC_API_KEY": FAKE_KEY}, "anthropic:claude-sonnet-4-0")
    for text in (repr(s), str(s), json.dumps(asdict(s), default=str), str(s.api_key)):
        assert FAKE_KEY not in text
    assert FAKE_KEY not in repr(pickle.loads(pickle.dumps(Secret(FAKE_KEY))))


@pytest.mark.parametrize(
    ("env", "spec", "message"),
    [
        ({}, "gpt-4o", "PROVIDER:MODEL"),
        ({}, "nosuch:model", "PROVIDER:MODEL"),
        ({}, "openai:", "PROVIDER:MODEL"),
        ({"OPENAI_BASE_URL": ""}, "openai:gpt-4o", "OPENAI_API_KEY"),
        ({}, "gemini:gemini-2.5-flash", "GEMINI_API_KEY or GOOGLE_API_KEY"),
        ({"OPENAI_API_KEY": "k", "MLESTAR_LLM_TIMEOUT": "soon"}, "openai:gpt-4o", "expected a number"),
        ({"OPENAI_API_KEY": "k", "MLESTAR_LLM_TIMEOUT": "-1"}, "openai:gpt-4o", "MLESTAR_LLM_TIMEOUT >="),
    ],
)
def test_settings_errors_say_what_was_expected(env: dict[str, str], spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        LLMSettings.from_env(env, spec)


def test_role_settings_and_price_overrides() -> None:
    env = {
        "OPENAI_API_KEY": "k",
        "GEMINI_API_KEY": "g",
        "MLESTAR_LLM_PRICE_IN": "1",
        "MLESTAR_LLM_PRICE_OUT": "2",
    }
    s = LLMSettings.from_env(
        env, "openai:gpt-4o", {"summarize_ablation": "gpt-4o-mini", "debug": "gemini:gemini-2.5-flash"}
    )
    assert s.for_role("draft") is s
    assert s.for_role("summarize_ablation").spec == "openai:gpt-4o-mini"
    assert s.for_role("debug").api == "gemini" and s.for_role("debug").prices == (1.0, 2.0)
    with pytest.raises(ConfigError, match="expected a role among"):
        LLMSettings.from_env(env, "openai:gpt-4o", [("summarise", "gpt-4o-mini")])
    assert s.output_cap(None) == 8192 and s.output_cap(100) == 100 and s.output_cap(10**6) == 8192


def test_known_prices_match_dated_model_names() -> None:
    assert known_price("gpt-4o-mini-2024-07-18") == known_price("gpt-4o-mini")
    assert known_price("gpt-4o-2024-08-06") == known_price("gpt-4o")
    assert known_price("some-local-model") is None


# -- retries ---------------------------------------------------------------------------------------


def test_retries_honour_retry_after_and_back_off_on_server_errors() -> None:
    sleeps: list[float] = []
    inner = ScriptedClient(
        [
            ProviderError("429", status=429, retryable=True, retry_after=7.0),
            ProviderError("500", status=500, retryable=True),
            "ok",
        ]
    )
    client = RetryingClient(inner, RetryPolicy(attempts=4, base_delay_s=2.0), sleep=sleeps.append)
    assert client.complete(HI, role="draft").text == "ok"
    assert sleeps[0] == 7.0 and 2.0 <= sleeps[1] <= 4.0  # Retry-After, then backoff with jitter
    assert client.retries == 2 and len(inner.calls) == 3


def test_retries_give_up_on_permanent_errors_and_after_the_last_attempt() -> None:
    sleeps: list[float] = []
    permanent = ScriptedClient([ProviderError("401", status=401, retryable=False), "never"])
    with pytest.raises(ProviderError, match="401"):
        RetryingClient(permanent, sleep=sleeps.append).complete(HI, role="draft")
    assert sleeps == [] and len(permanent.calls) == 1
    flaky = ScriptedClient([ProviderError("t", retryable=True)] * 3 + ["late"])
    with pytest.raises(ProviderError):
        RetryingClient(flaky, RetryPolicy(attempts=3), sleep=sleeps.append).complete(HI, role="draft")
    assert len(flaky.calls) == 3
    too_long = ScriptedClient([ProviderError("429", retryable=True, retry_after=3600.0), "x"])
    with pytest.raises(ProviderError):
        RetryingClient(too_long, sleep=sleeps.append).complete(HI, role="draft")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"Retry-After": "Wed, 21 Oct 2015 07:28:10 GMT"}, 10.0),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    now = 1445412480.0  # 2015-10-21 07:28:00 GMT
    assert parse_retry_after(headers, now=now) == expected


def test_retry_delay_in_a_google_error_body() -> None:
    body = {
        "error": {
            "code": 429,
            "details": [{"@type": "x.QuotaFailure"}, {"@type": "x.RetryInfo", "retryDelay": "2s"}],
        }
    }
    assert retry_delay_in_body(body) == 2.0 and retry_delay_in_body({"error": {}}) is None


# -- budget ----------------------------------------------------------------------------------------


def test_budget_stops_calls_once_spent() -> None:
    budget = Budget(max_tokens=25)
    inner = ScriptedClient([Reply("a", 10, 5), Reply("b", 8, 4), Reply("c", 1, 1)])
    client = BudgetedClient(inner, budget)
    client.complete(HI, role="draft")
    assert not budget.exhausted
    client.complete(HI, role="draft")  # 27 tokens: the call in flight may overshoot
    with pytest.raises(BudgetExhausted, match="27 tokens"):
        client.complete(HI, role="draft")
    assert len(inner.calls) == 2  # nothing was sent after the budget ran out
    cost = Budget(max_cost_usd=0.01)
    cost.charge(Reply("x", cost_usd=0.02))
    assert cost.exhausted and not Budget().exhausted


# -- record and replay -----------------------------------------------------------------------------


def test_recording_writes_every_call_and_replay_serves_it_back(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "llm")
    inner = ScriptedClient(
        [Reply("first", 3, 4, "m", 0.5), Reply("second", 1, 2, "m"), ProviderError("down")]
    )
    client = RecordingClient(inner, recorder, "openai:m")
    client.complete(HI, role="draft", max_tokens=100, temperature=0.7)
    client.complete(HI, role="draft", max_tokens=100, temperature=0.7)  # the same request twice
    with pytest.raises(ProviderError):
        client.complete([Message("user", "other")], role="debug")
    calls = read_calls(tmp_path)
    assert [c["seq"] for c in calls] == [0, 1, 0]
    assert calls[0]["reply"]["text"] == "first" and calls[0]["client"] == "openai:m"
    assert calls[2]["error"]["type"] == "ProviderError"

    replay = ReplayClient(tmp_path)
    first = replay.complete(HI, role="draft", max_tokens=5)  # other limits: still found
    assert (first.text, first.cost_usd) == ("first", 0.5)
    assert replay.complete(HI, role="draft").text == "second"
    with pytest.raises(ProviderError, match="replayed failure"):
        replay.complete([Message("user", "other")], role="debug")
    with pytest.raises(ReplayMiss):
        replay.complete(HI, role="draft")  # both recorded replies were used
    with pytest.raises(ReplayMiss):
        replay.complete(HI, role="implement")  # same messages, another role
    assert replay.misses == 2


def test_replay_needs_a_recorded_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="expected a recorded run"):
        ReplayClient(tmp_path)


# -- per-model settings ----------------------------------------------------------------------------


def test_model_settings_come_from_the_table_and_a_user_file_wins(tmp_path: Path) -> None:
    hosted = {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "https://api.openai.com/v1"}
    reasoner = LLMSettings.from_env(hosted, "openai:o4-mini-2025-04-16")  # a dated name
    assert not reasoner.accepts_temperature and reasoner.thinking_budget == 8192
    assert reasoner.prices == (1.10, 4.40) and reasoner.context_window == 200000 and reasoner.timeout_s == 600
    flash = LLMSettings.from_env({"GEMINI_API_KEY": "g"}, "gemini:gemini-2.5-flash")
    assert flash.thinking_budget == 2048 and flash.search_fee == 0.035
    mine = tmp_path / "models.yaml"
    mine.write_text(
        "local:\n  timeout_s: 1200\n"
        "models:\n"
        "  qwen2.5-coder*: {context_window: 32768, max_output_tokens: 6000}\n"
        "  o4-mini: {thinking_budget: 16000, reasoning_effort: low}\n"
    )
    local = LLMSettings.from_env({}, "ollama:qwen2.5-coder:7b", models_file=mine)
    assert (local.context_window, local.max_output_tokens, local.timeout_s, local.prices) == (
        32768,
        6000,
        1200,
        (0, 0),
    )
    tuned = LLMSettings.from_env({**hosted, "MLESTAR_LLM_MODELS": str(mine)}, "openai:o4-mini")
    assert (tuned.thinking_budget, tuned.reasoning_effort, tuned.prices) == (16000, "low", (1.10, 4.40))
    assert not tuned.accepts_temperature  # fields the file leaves out keep the table's values
    env_wins = LLMSettings.from_env(
        {"MLESTAR_LLM_CONTEXT_WINDOW": "9000"}, "ollama:qwen2.5-coder:7b", models_file=mine
    )
    assert env_wins.context_window == 9000


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "models:\n  m: {context_window: lots}\n",
            "expected a number >= 0 for .*m.context_window; found 'lots'",
        ),
        ("models:\n  m: {temperature: sometimes}\n", "expected true or false"),
        ("models:\n  m: {price: 3}\n", r"expected \[input, output\] USD per million tokens"),
        ("models:\n  m: {colour: red}\n", "expected model settings among"),
        ("modles: {}\n", "expected the sections hosted, local, models"),
        ("models: [a, b]\n", "expected models:"),
        ("models: {m: {context_window: 1}", "expected valid YAML"),
    ],
)
def test_a_bad_models_file_says_what_was_expected(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        LLMSettings.from_env({"OPENAI_API_KEY": "k"}, "openai:m", models_file=path)
    with pytest.raises(ConfigError, match="--llm-models"):
        LLMSettings.from_env({"OPENAI_API_KEY": "k"}, "openai:m", models_file=tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:8000/v1", True),
        ("http://localhost:11434/v1", True),
        ("http://[::1]:8080/v1", True),
        ("http://192.168.1.20:8000/v1", True),
        ("http://10.0.0.5/v1", True),
        ("http://vllm:8000/v1", True),  # a container's service name
        ("http://gpu-box.local:8000/v1", True),
        ("https://api.openai.com/v1", False),
        ("https://openrouter.ai/api/v1", False),
        ("https://8.8.8.8/v1", False),
    ],
)
def test_an_openai_compatible_server_on_a_local_url_costs_nothing(url: str, local: bool) -> None:
    s = LLMSettings.from_env({"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": url}, "openai:gpt-4o-mini")
    assert s.local is local and (s.prices == (0.0, 0.0)) is local
    assert s.timeout_s == (900 if local else 180)
