"""Ollama through its own API (/api/chat), in plain JSON over HTTP.

Ollama's OpenAI-compatible endpoint ignores the context window a request asks for and runs
with the server's default, cutting longer prompts silently. Its own API takes the window with
every request (options.num_ctx), so mlestar sets it to the model's context_window, and the
prompts, trimmed to that window, arrive whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlestar.llm.client import Message, Probe, Reply
from mlestar.llm.http import request_json
from mlestar.llm.settings import LLMSettings


class OllamaClient:
    web_search = False

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings
        self.origin = (settings.base_url or "http://localhost:11434").rstrip("/").removesuffix("/v1")

    def complete(
        self,
        messages: list[Message],
        *,
        role: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tools: Sequence[str] = (),
    ) -> Reply:
        options: dict[str, Any] = {"num_predict": self.settings.output_cap(max_tokens)}
        if self.settings.context_window:
            options["num_ctx"] = self.settings.context_window
        if temperature is not None and self.settings.accepts_temperature:
            options["temperature"] = temperature
        body = {
            "model": self.settings.model,
            "messages": [m.to_json() for m in messages],
            "stream": False,
            "options": options,
        }
        data = self._post("/api/chat", body)
        text = str((data.get("message") or {}).get("content") or "")
        return Reply(
            text=text,
            input_tokens=int(data.get("prompt_eval_count") or 0),
            output_tokens=int(data.get("eval_count") or 0),
            model=str(data.get("model") or self.settings.model),
            truncated=data.get("done_reason") == "length",
        )

    def probe(self) -> Probe:
        """The pulled models, and the context window the chosen one was trained for (num_ctx
        is capped by it)."""
        tags = self._get("/api/tags")
        names = tuple(str(m.get("name", "")) for m in tags.get("models", []) if isinstance(m, dict))
        if self.settings.model not in names and f"{self.settings.model}:latest" not in names:
            return Probe(names, None)
        info = self._post("/api/show", {"model": self.settings.model}).get("model_info") or {}
        trained = [v for k, v in info.items() if k.endswith(".context_length") and isinstance(v, int)]
        return Probe(names, trained[0] if trained else None)

    def _get(self, path: str) -> dict[str, Any]:
        return self._send("GET", path, None)

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._send("POST", path, body)

    def _send(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        key = self.settings.api_key
        headers = {"Authorization": f"Bearer {key.reveal()}"} if key else {}
        return request_json(
            method,
            self.origin + path,
            body,
            timeout_s=self.settings.timeout_s,
            headers=headers,
            provider="ollama",
        )
