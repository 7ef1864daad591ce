"""Any server speaking OpenAI's chat-completions API, through the official `openai` SDK.

OpenAI itself, vLLM, llama.cpp's server, LM Studio, OpenRouter and Gemini's OpenAI-compatible
endpoint: only the base URL and the key differ (see settings.py).

Servers differ in what they accept, so the client learns from a refusal once and remembers: a
model that refuses a temperature (OpenAI's reasoning models) gets none, and one that wants
max_completion_tokens instead of max_tokens gets that.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from typing import Any

from mlestar.llm.client import Message, Probe, Reply
from mlestar.llm.failures import ProviderError, from_sdk_exception
from mlestar.llm.http import request_json
from mlestar.llm.pricing import call_cost
from mlestar.llm.settings import LLMSettings

log = logging.getLogger(__name__)

_NO_KEY = "not-needed"
"""The SDK insists on a key; self-hosted servers ignore it."""
_CONTEXT_FIELDS = ("max_model_len", "context_length", "context_window", "max_context_length")
"""Where servers list a model's context window: vLLM, OpenRouter and LM Studio, others."""


class OpenAICompatClient:
    web_search = False

    def __init__(self, settings: LLMSettings) -> None:
        import openai

        self.settings = settings
        self._openai = openai
        self._client = openai.OpenAI(
            api_key=settings.api_key.reveal() if settings.api_key else _NO_KEY,
            base_url=settings.base_url,
            timeout=settings.timeout_s,
            max_retries=0,  # retry.py owns retries
        )
        self._lock = threading.Lock()
        self.sends_temperature = settings.accepts_temperature
        self.limit_name = _limit_name(settings)

    def complete(
        self,
        messages: list[Message],
        *,
        role: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tools: Sequence[str] = (),
    ) -> Reply:
        for _ in range(3):  # the first try, and one per parameter a server may refuse
            kwargs = self._request(messages, max_tokens, temperature)
            try:
                response = self._client.chat.completions.create(**kwargs)
            except (self._openai.OpenAIError, json.JSONDecodeError) as exc:  # garbled body: transient
                error = from_sdk_exception(exc, self.settings.provider)
                if not self._learn(error, kwargs):
                    raise error from exc
            else:
                return self._reply(response)
        raise ProviderError(f"{self.settings.spec} refused every form of the request")

    def _request(
        self, messages: list[Message], max_tokens: int | None, temperature: float | None
    ) -> dict[str, Any]:
        room = self.settings.output_cap(max_tokens) + (self.settings.thinking_budget or 0)
        kwargs: dict[str, Any] = {
            "model": self.settings.model,
            "messages": [m.to_json() for m in messages],
            self.limit_name: room,
        }
        if temperature is not None and self.sends_temperature:
            kwargs["temperature"] = temperature
        if self.settings.reasoning_effort:
            kwargs["reasoning_effort"] = self.settings.reasoning_effort
        return kwargs

    def _learn(self, error: ProviderError, sent: dict[str, Any]) -> bool:
        """True when a 400 names a parameter this model refuses, now left out or renamed."""
        text = str(error).lower()
        if error.status != 400:
            return False
        with self._lock:
            if "temperature" in sent and "temperature" in text:
                log.info("%s refuses a temperature; none is sent from now on", self.settings.spec)
                self.sends_temperature = False
                return True
            if "max_tokens" in sent and "max_completion_tokens" in text:
                self.limit_name = "max_completion_tokens"
                return True
        return False

    def _reply(self, response: Any) -> Reply:
        if not getattr(response, "choices", None):
            raise ProviderError(f"{self.settings.provider} returned no choices", retryable=True)
        text = response.choices[0].message.content or ""
        usage = getattr(response, "usage", None)
        tokens_in = int(getattr(usage, "prompt_tokens", 0) or 0)
        tokens_out = int(getattr(usage, "completion_tokens", 0) or 0)
        return Reply(
            text=text,
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            model=str(getattr(response, "model", "") or self.settings.model),
            cost_usd=call_cost(tokens_in, tokens_out, self.settings.prices),
            truncated=response.choices[0].finish_reason == "length",
        )

    def probe(self) -> Probe:
        """The server's model list, and the context window it gives this model when it says."""
        try:
            page = self._client.models.list()
        except self._openai.NotFoundError:
            return Probe(None, None)  # a server without a model list: the call itself will tell
        except (self._openai.OpenAIError, json.JSONDecodeError) as exc:
            raise from_sdk_exception(exc, self.settings.provider) from exc
        entries = [m.model_dump() if hasattr(m, "model_dump") else dict(m) for m in page.data]
        ids = tuple(str(e.get("id", "")) for e in entries)
        mine = next((e for e in entries if e.get("id") == self.settings.model), {})
        context = _llamacpp_context(self.settings.base_url) if "meta" in mine else None
        return Probe(ids, context or _context_of(mine))


def _limit_name(settings: LLMSettings) -> str:
    """OpenAI's own API wants max_completion_tokens (its reasoning models refuse max_tokens);
    compatible servers know max_tokens."""
    base = settings.base_url or ""
    official = settings.provider == "openai" and (not base or "api.openai.com" in base)
    return "max_completion_tokens" if official else "max_tokens"


def _llamacpp_context(base_url: str | None) -> int | None:
    """llama.cpp's server lists the context a model was trained with; the one it runs with
    (its -c) is in /props."""
    origin = (base_url or "").rstrip("/").removesuffix("/v1")
    try:
        props = request_json("GET", f"{origin}/props", timeout_s=10, provider="llama.cpp")
    except ProviderError:
        return None
    settings = props.get("default_generation_settings", {}) if isinstance(props, dict) else {}
    value = settings.get("n_ctx") or props.get("n_ctx") if isinstance(settings, dict) else None
    return value if isinstance(value, int) and value > 0 else None


def _context_of(entry: dict[str, Any]) -> int | None:
    for name in _CONTEXT_FIELDS:
        value = entry.get(name)
        if isinstance(value, int) and value > 0:
            return value
    meta = entry.get("meta")
    value = meta.get("n_ctx") or meta.get("n_ctx_train") if isinstance(meta, dict) else None
    return value if isinstance(value, int) and value > 0 else None
