"""Gemini through `google-genai`, with Google Search grounding for the retrieval role.

Asked with tools=(WEB_SEARCH,), the request carries the google_search tool, as MLE-STAR's
retriever does, and the reply lists the pages it was grounded in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlestar.llm.client import WEB_SEARCH, Message, Reply, cost_of, system_and_turns
from mlestar.llm.failures import ProviderError, from_sdk_exception
from mlestar.llm.settings import LLMSettings

_TRANSPORT_MODULES = ("httpx", "httpcore", "google", "aiohttp", "requests")


class GeminiClient:
    web_search = True

    def __init__(self, settings: LLMSettings) -> None:
        from google import genai
        from google.genai import types

        self.settings = settings
        self._types = types
        options = types.HttpOptions(
            base_url=settings.base_url,
            timeout=int(settings.timeout_s * 1000),
            retry_options=types.HttpRetryOptions(attempts=1),  # retry.py owns retries
        )
        key = settings.api_key.reveal() if settings.api_key else None
        self._client = genai.Client(api_key=key, http_options=options)

    def complete(
        self,
        messages: list[Message],
        *,
        role: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tools: Sequence[str] = (),
    ) -> Reply:
        types = self._types
        system, turns = system_and_turns(messages)
        config = types.GenerateContentConfig(
            system_instruction=system or None,
            max_output_tokens=self.settings.output_cap(max_tokens),
            temperature=temperature,
            tools=[types.Tool(google_search=types.GoogleSearch())] if WEB_SEARCH in tools else None,
        )
        contents = [
            types.Content(
                role="model" if m.role == "assistant" else "user", parts=[types.Part(text=m.content)]
            )
            for m in turns
        ]
        try:
            response = self._client.models.generate_content(
                model=self.settings.model, contents=contents, config=config
            )
        except Exception as exc:
            if not type(exc).__module__.startswith(_TRANSPORT_MODULES):
                raise  # our own bug: let it show
            raise from_sdk_exception(exc, "gemini") from exc
        return self._reply(response)

    def _reply(self, response: Any) -> Reply:
        candidates = getattr(response, "candidates", None) or []
        if not candidates:
            feedback = getattr(response, "prompt_feedback", None)
            raise ProviderError(f"gemini returned no candidate ({feedback})", retryable=False)
        parts = getattr(getattr(candidates[0], "content", None), "parts", None) or []
        text = "".join(p.text for p in parts if getattr(p, "text", None) and not getattr(p, "thought", False))
        usage = getattr(response, "usage_metadata", None)
        tokens_in = int(getattr(usage, "prompt_token_count", 0) or 0)
        tokens_out = int(getattr(usage, "candidates_token_count", 0) or 0)
        tokens_out += int(getattr(usage, "thoughts_token_count", 0) or 0)  # billed as output
        return Reply(
            text=text,
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            model=str(getattr(response, "model_version", "") or self.settings.model),
            cost_usd=cost_of(tokens_in, tokens_out, self.settings.prices),
            sources=_sources(candidates[0]),
            truncated="MAX_TOKENS" in str(getattr(candidates[0], "finish_reason", "")),
        )


def _sources(candidate: Any) -> tuple[str, ...]:
    metadata = getattr(candidate, "grounding_metadata", None)
    chunks = getattr(metadata, "grounding_chunks", None) or []
    uris = [getattr(getattr(c, "web", None), "uri", None) for c in chunks]
    return tuple(u for u in uris if u)
