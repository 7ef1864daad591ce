"""A pluggable web search for the retrieval role of models without a search of their own.

Gemini grounds retrieval in Google Search and Claude in its web search. For every other model
the LLM engineer can ask a search backend and hand the results to the model:

    --search tavily            Tavily's search API (TAVILY_API_KEY)
    --search searxng:URL       a SearXNG instance's JSON API (self-hosted, no key)
    build_engineer(search=...) any object with search(query, k) -> list[str]

Without one, retrieval stays offline: the model chooses among the model cards, with the
evidence the run has about them. Results are recorded beside the model calls (search.jsonl)
so a replayed run reads them back instead of searching again.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mlestar.errors import ConfigError
from mlestar.llm.http import request_json
from mlestar.llm.settings import Secret

SEARCH_FILE = "search.jsonl"


class SearchBackend(Protocol):
    def search(self, query: str, k: int) -> list[str]:
        """Up to k results, each one line of text: title, address and snippet."""
        ...


@dataclass(frozen=True)
class SearchSpec:
    """A search backend as configured at the CLI edge (--search), its key read once."""

    kind: str
    """"tavily" or "searxng"."""
    url: str
    api_key: Secret | None = None
    timeout_s: float = 30.0

    @property
    def label(self) -> str:
        return self.kind if self.kind == "tavily" else f"{self.kind}:{self.url}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str], spec: str) -> SearchSpec:
        kind, _, rest = spec.partition(":")
        kind = kind.strip().lower()
        if kind == "tavily":
            key = environ.get("TAVILY_API_KEY")
            if not key:
                raise ConfigError(
                    "expected TAVILY_API_KEY in the environment for --search tavily; found none"
                )
            return cls("tavily", environ.get("TAVILY_BASE_URL") or "https://api.tavily.com", Secret(key))
        if kind == "searxng":
            url = rest.strip() or environ.get("SEARXNG_URL", "")
            if not url.startswith(("http://", "https://")):
                raise ConfigError(
                    f"expected --search searxng:URL (or SEARXNG_URL) with an http(s) URL; found {spec!r}"
                )
            return cls("searxng", url.rstrip("/"))
        raise ConfigError(f"expected --search tavily or --search searxng:URL; found {spec!r}")


def backend_for(spec: SearchSpec) -> SearchBackend:
    return TavilySearch(spec) if spec.kind == "tavily" else SearxngSearch(spec)


class TavilySearch:
    """Tavily's search API: POST /search, results with title, url and content."""

    def __init__(self, spec: SearchSpec) -> None:
        self.spec = spec

    def search(self, query: str, k: int) -> list[str]:
        key = self.spec.api_key.reveal() if self.spec.api_key else ""
        body = {"query": query, "max_results": k, "search_depth": "basic", "include_answer": False}
        found = request_json(
            "POST",
            f"{self.spec.url}/search",
            body,
            timeout_s=self.spec.timeout_s,
            headers={"Authorization": f"Bearer {key}"},
            provider="tavily",
        )
        return _lines(found.get("results"), "content")[:k]


class SearxngSearch:
    """A SearXNG instance's JSON API (its settings must allow the json format)."""

    def __init__(self, spec: SearchSpec) -> None:
        self.spec = spec

    def search(self, query: str, k: int) -> list[str]:
        params = urllib.parse.urlencode({"q": query, "format": "json"})
        found = request_json(
            "GET", f"{self.spec.url}/search?{params}", timeout_s=self.spec.timeout_s, provider="searxng"
        )
        return _lines(found.get("results"), "content")[:k]


def _lines(results: Any, snippet: str) -> list[str]:
    lines = []
    for item in results if isinstance(results, list) else []:
        if isinstance(item, dict) and item.get("url"):
            text = " ".join(str(item.get(snippet) or "").split())
            lines.append(f"{item.get('title') or item['url']} <{item['url']}>: {text}"[:1000])
    return lines


class RecordedSearch:
    """Searches, and appends each query and its results to a file (RUN_DIR/llm/search.jsonl)."""

    def __init__(self, inner: SearchBackend, path: Path) -> None:
        self.inner = inner
        self.path = path
        self._lock = threading.Lock()

    def search(self, query: str, k: int) -> list[str]:
        results = list(self.inner.search(query, k))
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"query": query, "k": k, "results": results}, ensure_ascii=False) + "\n")
        return results


class ReplayedSearch:
    """The recorded results of an earlier run; a query it does not hold finds nothing."""

    def __init__(self, path: Path) -> None:
        self._found: dict[tuple[str, int], list[str]] = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line of a killed run
            self._found.setdefault((record["query"], record["k"]), record["results"])

    def search(self, query: str, k: int) -> list[str]:
        if (query, k) not in self._found:
            raise LookupError(f"the recorded run never searched for {query!r}")
        return list(self._found[(query, k)])


class FunctionSearch:
    """A backend from a callable: for tests, demos and small adapters."""

    def __init__(self, fn: Callable[[str, int], list[str]]) -> None:
        self.fn = fn
        self.queries: list[str] = []

    def search(self, query: str, k: int) -> list[str]:
        self.queries.append(query)
        return list(self.fn(query, k))[:k]
