"""Claude through the `anthropic` SDK; its server-side web search serves the retrieval role,
each search billed its fee."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from mlestar.llm.client import WEB_SEARCH, Message, Probe, Reply, system_and_turns
from mlestar.llm.failures import ProviderError, from_sdk_exception
from mlestar.llm.pricing import call_cost
from mlestar.llm.settings import LLMSettings

WEB_SEARCH_TOOL = {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}


class AnthropicClient:
    web_search = True

    def __init__(self, settings: LLMSettings) -> None:
        import anthropic

        self.settings = settings
        self._anthropic = anthropic
        self._client = anthropic.Anthropic(
            api_key=settings.api_key.reveal() if settings.api_key else None,
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
        system, turns = system_and_turns(messages)
        kwargs: dict[str, Any] = {
            "model": self.settings.model,
            "max_tokens": self.settings.output_cap(max_tokens),
            "messages": [m.to_json() for m in turns],
        }
        if system:
            kwargs["system"] = system
        # No temperature: current Claude models fix their own sampling, and the SDK dropped it.
        if WEB_SEARCH in tools:
            kwargs["tools"] = [WEB_SEARCH_TOOL]
        try:
            response = self._client.messages.create(**kwargs)
        except (self._anthropic.AnthropicError, json.JSONDecodeError) as exc:  # garbled body: transient
            raise from_sdk_exception(exc, "anthropic") from exc
        return self._reply(response)

    def probe(self) -> Probe:
        """The model as the API describes it: a wrong name or key fails here."""
        try:
            self._client.models.retrieve(self.settings.model)
        except (self._anthropic.AnthropicError, json.JSONDecodeError) as exc:
            raise from_sdk_exception(exc, "anthropic") from exc
        return Probe(None, None)

    def _reply(self, response: Any) -> Reply:
        blocks = getattr(response, "content", None)
        if blocks is None:
            raise ProviderError("anthropic returned no content", retryable=True)
        text = _answer_text(blocks)
        usage = getattr(response, "usage", None)
        tokens_in = int(getattr(usage, "input_tokens", 0) or 0)
        tokens_out = int(getattr(usage, "output_tokens", 0) or 0)
        searches = int(getattr(getattr(usage, "server_tool_use", None), "web_search_requests", 0) or 0)
        return Reply(
            text=text,
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            model=str(getattr(response, "model", "") or self.settings.model),
            cost_usd=call_cost(
                tokens_in, tokens_out, self.settings.prices, searches, self.settings.search_fee
            ),
            sources=_sources(blocks),
            truncated=getattr(response, "stop_reason", None) == "max_tokens",
        )


def _answer_text(blocks: list[Any]) -> str:
    """The text after the last web-search result (before it: "I will search..." narration)."""
    kinds = [getattr(b, "type", "") for b in blocks]
    last_tool = max((i for i, k in enumerate(kinds) if k == "web_search_tool_result"), default=-1)
    return "".join(b.text for i, b in enumerate(blocks) if i > last_tool and kinds[i] == "text")


def _sources(blocks: list[Any]) -> tuple[str, ...]:
    uris: list[str] = []
    for block in blocks:
        if getattr(block, "type", "") != "web_search_tool_result":
            continue
        results = getattr(block, "content", None)
        for item in results if isinstance(results, list) else []:
            url = getattr(item, "url", None)
            if url and url not in uris:
                uris.append(url)
    return tuple(uris)
