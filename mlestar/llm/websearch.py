"""A pluggable web search for providers without grounded search of their own.

The LLM engineer's retrieval role asks it for results and hands them to the model. mlestar ships
no network backend (runs must work offline); a user plugs one in (DuckDuckGo, Tavily, an internal
index) by passing any object with this method to build_engineer(search=...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class SearchBackend(Protocol):
    def search(self, query: str, k: int) -> list[str]:
        """Up to k results, each one line of text: title, address and snippet."""
        ...


class FunctionSearch:
    """A backend from a callable: for tests, demos and small adapters."""

    def __init__(self, fn: Callable[[str, int], list[str]]) -> None:
        self.fn = fn
        self.queries: list[str] = []

    def search(self, query: str, k: int) -> list[str]:
        self.queries.append(query)
        return list(self.fn(query, k))[:k]
