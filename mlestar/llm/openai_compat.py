"""Any server speaking OpenAI's chat-completions API, through the official `openai` SDK.

OpenAI itself, Ollama, vLLM, llama.cpp's server, LM Studio, OpenRouter and Gemini's
OpenAI-compatible endpoint: only the base URL and the key differ (see settings.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mlestar.llm.client import Message, Reply, cost_of
from mlestar.llm.failures import ProviderError, from_sdk_exception
from mlestar.llm.settings import LLMSettings

_NO_KEY = "not-needed"
"""The SDK insists on a key; self-hosted servers ignore it."""


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

    def complete(
        self,
        messages: list[Message],
        *,
        role: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tools: Sequence[str] = (),
    ) -> Reply:
        kwargs: dict[str, Any] = {
            "model": self.settings.model,
            "messages": [m.to_json() for m in messages],
            self._limit_name(): self.settings.output_cap(max_tokens),
        }
        if temperature is not None:
            kwargs["temperature"] = temperature
        try:
            response = self._client.chat.completions.create(**kwargs)
        except (self._openai.OpenAIError, json.JSONDecodeError) as exc:  # garbled body: transient
            raise from_sdk_exception(exc, self.settings.provider) from exc
        return self._reply(response)

    def _limit_name(self) -> str:
        """OpenAI's own API wants max_completion_tokens (its reasoning models refuse max_tokens);
        compatible servers know max_tokens."""
        base = self.settings.base_url or ""
        official = self.settings.provider == "openai" and (not base or "api.openai.com" in base)
        return "max_completion_tokens" if official else "max_tokens"

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
            cost_usd=cost_of(tokens_in, tokens_out, self.settings.prices),
            truncated=response.choices[0].finish_reason == "length",
        )
