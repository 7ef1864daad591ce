"""The one small interface every language-model client speaks: messages in, a reply out.

Providers (openai_compat, gemini, anthropic), fakes (fakes.py) and wrappers (retry, budget,
record) all implement LLMClient, so the LLM engineer never knows which one it talks to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

WEB_SEARCH = "web_search"
"""The one tool a caller may ask for: ground the reply in a web search (Gemini does this natively)."""


@dataclass(frozen=True)
class Message:
    role: str
    """"system", "user" or "assistant"."""
    content: str

    def to_json(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class Reply:
    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    model: str = ""
    cost_usd: float = 0.0
    sources: tuple[str, ...] = ()
    """Web pages the reply was grounded in (web_search tool), when the provider says so."""
    truncated: bool = False
    """The model stopped at the output-token limit: the text is cut off."""

    def to_json(self) -> dict[str, object]:
        return {
            "text": self.text,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "model": self.model,
            "cost_usd": self.cost_usd,
            "sources": list(self.sources),
            "truncated": self.truncated,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Reply:
        return cls(
            text=str(data.get("text", "")),
            input_tokens=int(data.get("input_tokens", 0) or 0),  # type: ignore[call-overload]
            output_tokens=int(data.get("output_tokens", 0) or 0),  # type: ignore[call-overload]
            model=str(data.get("model", "")),
            cost_usd=float(data.get("cost_usd", 0.0) or 0.0),  # type: ignore[arg-type]
            sources=tuple(str(s) for s in data.get("sources", ()) or ()),  # type: ignore[attr-defined]
            truncated=bool(data.get("truncated", False)),
        )


class LLMClient(Protocol):
    """A language model. `role` names the search role asking (for routing, records and fakes)."""

    web_search: bool
    """True when the client honours tools=(WEB_SEARCH,) with a real grounded search."""

    def complete(
        self,
        messages: list[Message],
        *,
        role: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tools: Sequence[str] = (),
    ) -> Reply: ...


def system_and_turns(messages: list[Message]) -> tuple[str, list[Message]]:
    """Split off the system messages (Gemini and Anthropic take them apart from the turns)."""
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    return system, [m for m in messages if m.role != "system"]


@dataclass(frozen=True)
class Probe:
    """What a provider says about itself before any call: the models it serves (None when it
    does not list them) and the context window it gives the chosen model (None when unsaid)."""

    models: tuple[str, ...] | None
    context_window: int | None
