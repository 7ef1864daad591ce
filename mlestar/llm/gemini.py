"""Gemini through `google-genai`, with Google Search grounding for the retrieval role.

Asked with tools=(WEB_SEARCH,), the request carries the google_search tool, as MLE-STAR's
retriever does, and the reply lists the pages it was grounded in; a grounded prompt is billed
its search fee.

Gemini 2.5 thinks before it answers, and its thoughts count against max_output_tokens: a
model with a thinking budget gets that budget set, and the output cap is the answer's cap
plus the budget, so thinking cannot eat the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlestar.llm.client import WEB_SEARCH, Message, Probe, Reply, system_and_turns
from mlestar.llm.failures import ProviderError, from_sdk_exception
from mlestar.llm.pricing import call_cost
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
        budget = self.settings.thinking_budget
        config = types.GenerateContentConfig(
            system_instruction=system or None,
            max_output_tokens=self.settings.output_cap(max_tokens) + (budget or 0),
            temperature=temperature if self.settings.accepts_temperature else None,
            tools=[types.Tool(google_search=types.GoogleSearch())] if WEB_SEARCH in tools else None,
            thinking_config=types.ThinkingConfig(thinking_budget=budget) if budget is not None else None,
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
            raise _classified(exc) from exc
        return self._reply(response)

    def probe(self) -> Probe:
        """The model as the API describes it: a wrong name or key fails here."""
        try:
            model = self._client.models.get(model=self.settings.model)
        except Exception as exc:
            raise _classified(exc) from exc
        limit = getattr(model, "input_token_limit", None)
        return Probe(None, int(limit) if isinstance(limit, int) and limit > 0 else None)

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
        metadata = getattr(candidates[0], "grounding_metadata", None)
        grounded = 1 if getattr(metadata, "web_search_queries", None) else 0  # billed per prompt
        return Reply(
            text=text,
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            model=str(getattr(response, "model_version", "") or self.settings.model),
            cost_usd=call_cost(
                tokens_in, tokens_out, self.settings.prices, grounded, self.settings.search_fee
            ),
            sources=_sources(metadata),
            truncated="MAX_TOKENS" in str(getattr(candidates[0], "finish_reason", "")),
        )


def _classified(exc: Exception) -> Exception:
    if not type(exc).__module__.startswith(_TRANSPORT_MODULES):
        return exc  # our own bug: let it show
    return from_sdk_exception(exc, "gemini")


def _sources(metadata: Any) -> tuple[str, ...]:
    """The pages a grounded reply rests on, as "title <uri>" (the title names the site; the
    address is Google's redirect to the page)."""
    chunks = getattr(metadata, "grounding_chunks", None) or []
    found = []
    for chunk in chunks:
        web = getattr(chunk, "web", None)
        uri, title = getattr(web, "uri", None), getattr(web, "title", None)
        if uri:
            found.append(f"{title} <{uri}>" if title else uri)
    return tuple(dict.fromkeys(found))
