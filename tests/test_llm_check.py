"""The start-up check (`mlestar run TASK --llm ... --llm-check`), against local servers: a good
server passes and its context window is read; a wrong model name, key or URL and a window too
small stop the command with a message naming the setting that fixes it (exit 2, no traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlestar import cli
from mlestar.llm.check import check_models
from mlestar.llm.factory import provider_client
from mlestar.llm.settings import LLMSettings
from tests.llm_server import Canned, LLMServer, Seen, chat_reply
from tests.llm_support import FAKE_KEY

pytestmark = pytest.mark.usefixtures("loopback_only")

REFUSED = Canned(
    400,
    {
        "error": {
            "message": "Unsupported value: 'temperature' does not support 0 with this model.",
            "type": "invalid_request_error",
            "param": "temperature",
        }
    },
)


def _models(*entries: dict[str, object]) -> dict[str, Canned]:
    return {"/v1/models": Canned(body={"object": "list", "data": list(entries)})}


def _check(monkeypatch: pytest.MonkeyPatch, tmp: Path, base_url: str, spec: str = "openai:served") -> int:
    monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("MLESTAR_LLM_TIMEOUT", "5")
    return cli.main(["run", str(tmp), "--llm", spec, "--llm-check"])


def test_a_good_server_passes_and_says_its_context_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with LLMServer(gets=_models({"id": "served", "max_model_len": 32768})) as server:
        server.push(chat_reply("OK"))
        assert _check(monkeypatch, tmp_path, server.base_url) == 0
    err = capsys.readouterr().err
    assert "llm check: openai:served at http://127.0.0.1" in err
    assert "context window 32768 tokens (server)" in err and "temperature accepted" in err
    assert not (tmp_path / "runs").exists()  # the check alone starts no run


@pytest.mark.parametrize(
    ("gets", "post", "spec", "expected"),
    [
        (_models({"id": "served"}), None, "openai:nosuch", "expected the model 'nosuch' among those served"),
        (
            {"/v1/models": Canned(401, {"error": {"message": "Incorrect API key provided"}})},
            None,
            "openai:served",
            "expected a key that http://127.0.0.1",
        ),
        (
            _models({"id": "served", "max_model_len": 2048}),
            None,
            "openai:served",
            "expected a context window of at least 4096 tokens for openai:served; found 2048 (server)",
        ),
        ({}, Canned(404, {"error": {"message": "The model does not exist"}}), "openai:served", "to exist at"),
    ],
)
def test_what_is_wrong_is_said_with_the_setting_that_fixes_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    gets: dict[str, Canned],
    post: Canned | None,
    spec: str,
    expected: str,
) -> None:
    with LLMServer(gets=gets) as server:
        if post is not None:
            server.push(post)
        assert _check(monkeypatch, tmp_path, server.base_url, spec) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err, err
    if "key" in expected:
        assert "OPENAI_API_KEY" in err and FAKE_KEY not in err


def test_no_server_at_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _check(monkeypatch, tmp_path, "http://127.0.0.1:9/v1") == 2
    err = capsys.readouterr().err
    assert (
        "expected a server answering at http://127.0.0.1:9/v1 for openai:served (set OPENAI_BASE_URL)" in err
    )


def test_a_refused_temperature_is_learned_by_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    with LLMServer() as server:
        server.push(REFUSED, chat_reply("OK"))
        env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": FAKE_KEY}
        settings = LLMSettings.from_env(env, "openai:scripted-model", {"plan_next": "openai:scripted-model"})
        checked, results = check_models(settings, provider_client)
    assert not checked.accepts_temperature and not checked.for_role("plan_next").accepts_temperature
    assert len(results) == 1 and "temperature refused" in results[0].line()
    first, second = server.posts()
    assert "temperature" in first.body and "temperature" not in second.body


def _ollama(tags: list[str], trained: int) -> LLMServer:
    def respond(seen: Seen) -> Canned:
        if seen.path == "/api/show":
            return Canned(
                body={"model_info": {"general.architecture": "qwen2", "qwen2.context_length": trained}}
            )
        return Canned(body={"message": {"role": "assistant", "content": "OK"}, "done_reason": "stop"})

    return LLMServer(respond, gets={"/api/tags": Canned(body={"models": [{"name": n} for n in tags]})})


def test_ollama_gets_the_window_it_is_asked_for_up_to_the_model_s_own(tmp_path: Path) -> None:
    with _ollama(["qwen2.5-coder:7b"], trained=8192) as server:
        settings = LLMSettings.from_env({"OLLAMA_BASE_URL": server.origin}, "ollama:qwen2.5-coder:7b")
        assert settings.context_window == 16384  # mlestar's local default
        checked, _ = check_models(settings, provider_client)
        assert checked.context_window == 8192  # the model's own limit
        provider_client(checked).complete([cli_message()], role="draft", max_tokens=100, temperature=0.2)
    chat = [r for r in server.posts() if r.path == "/api/chat"][-1]
    assert chat.body["options"] == {"num_ctx": 8192, "num_predict": 100, "temperature": 0.2}
    assert chat.body["stream"] is False


def test_ollama_without_the_model_says_to_pull_it(tmp_path: Path) -> None:
    with _ollama(["llama3:8b"], trained=8192) as server:
        settings = LLMSettings.from_env({"OLLAMA_BASE_URL": server.origin}, "ollama:qwen2.5-coder:7b")
        with pytest.raises(Exception, match="ollama pull qwen2.5-coder:7b.*found llama3:8b"):
            check_models(settings, provider_client)


def cli_message():  # type: ignore[no-untyped-def]
    from mlestar.llm.client import Message

    return Message("user", "hi")


def test_a_search_backend_without_its_key_stops_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TAVILY_API_KEY", raising=False)
    with LLMServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        assert cli.main(["run", str(tmp_path), "--llm", "openai:scripted-model", "--search", "tavily"]) == 2
    assert "expected TAVILY_API_KEY in the environment for --search tavily" in capsys.readouterr().err
    assert server.posts() == []  # stopped before any model was asked
