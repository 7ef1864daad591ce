"""A real HTTP server on 127.0.0.1 (random free port) that plays a language-model provider.

It speaks OpenAI's chat-completions API (POST /v1/chat/completions, GET /v1/models), and serves
any other POST (Gemini's generateContent, Anthropic's /v1/messages) from the same script, so the
real SDKs can be pointed at it. Each POST takes the next scripted Canned response, or asks a
responder function when the script is empty. Every request is kept in `.requests`.

    with LLMServer() as server:
        server.push(rate_limited(1), chat_reply("```python\\nprint(1)\\n```"))
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-fake")
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "llm"


@dataclass(frozen=True)
class Canned:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    """Names in lower case."""
    body: Any

    @property
    def text(self) -> str:
        """Every message's text in an OpenAI-shaped request, joined."""
        messages = (self.body or {}).get("messages", [])
        return "\n\n".join(str(m.get("content", "")) for m in messages)


def chat_reply(
    text: str,
    *,
    model: str = "scripted-model",
    prompt_tokens: int = 100,
    completion_tokens: int = 50,
    finish_reason: str = "stop",
) -> Canned:
    return Canned(
        body={
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    )


def slow(text: str, delay_s: float) -> Canned:
    return Canned(body=chat_reply(text).body, delay_s=delay_s)


def rate_limited(retry_after: float = 1, *, body: Any = None) -> Canned:
    error = {"error": {"message": "Rate limit reached", "type": "rate_limit_error", "code": 429}}
    return Canned(429, body or error, {"Retry-After": f"{retry_after:g}"})


def server_error(status: int = 500, *, body: Any = None) -> Canned:
    return Canned(status, body or {"error": {"message": "internal error", "type": "server_error"}})


def fixture(name: str, status: int = 200, headers: dict[str, str] | None = None) -> Canned:
    """A recorded response body from tests/fixtures/llm/NAME.json."""
    return Canned(status, json.loads((FIXTURES / f"{name}.json").read_text()), headers or {})


MODELS = Canned(body={"object": "list", "data": [{"id": "scripted-model", "object": "model"}]})


class LLMServer:
    def __init__(
        self, responder: Callable[[Seen], Canned] | None = None, gets: dict[str, Canned] | None = None
    ) -> None:
        self.responder = responder
        self.gets = {"/v1/models": MODELS} if gets is None else gets
        """GET routes by path: the model list by default (a server's own listing, errors)."""
        self.requests: list[Seen] = []
        self._script: list[Canned] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (with /v1)."""
        return f"{self.origin}/v1"

    def push(self, *responses: Canned) -> None:
        with self._lock:
            self._script.extend(responses)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._script)

    def posts(self) -> list[Seen]:
        return [r for r in self.requests if r.method == "POST"]

    def __enter__(self) -> LLMServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _next(self, seen: Seen) -> Canned:
        with self._lock:
            self.requests.append(seen)
            if self._script:
                return self._script.pop(0)
        if self.responder is not None:
            return self.responder(seen)
        return Canned(400, {"error": {"message": "llm_server: no scripted reply left"}})


def _handler_for(server: LLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            seen = Seen("GET", self.path, _lowered(self.headers.items()), None)
            with server._lock:
                server.requests.append(seen)
            path = self.path.split("?")[0].rstrip("/")
            self._send(server.gets.get(path, Canned(404, {"error": {"message": f"no route {self.path}"}})))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except json.JSONDecodeError:
                body = raw.decode("utf-8", "replace")
            self._send(server._next(Seen("POST", self.path, _lowered(self.headers.items()), body)))

        def _send(self, canned: Canned) -> None:
            if canned.delay_s:
                time.sleep(canned.delay_s)
            payload = canned.body if isinstance(canned.body, str) else json.dumps(canned.body)
            data = payload.encode("utf-8")
            try:
                self.send_response(canned.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in canned.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

    return Handler


def _lowered(items: Any) -> dict[str, str]:
    """Header names in lower case: SDKs differ in how they spell them."""
    return {str(k).lower(): str(v) for k, v in items}


# -- models that think before they answer ---------------------------------------------------------
Answer = Callable[[str, str], str]
"""(role, prompt) -> the reply's text."""
_ROLE = re.compile(r"Your role: (\w+)\.")

TEMPERATURE_REFUSED = Canned(
    400,
    {
        "error": {
            "message": "Unsupported parameter: 'temperature' is not supported with this model.",
            "type": "invalid_request_error",
            "param": "temperature",
            "code": "unsupported_parameter",
        }
    },
)


def reasoning_model(answer: Answer, reasoning_tokens: int) -> Callable[[Seen], Canned]:
    """An OpenAI-style reasoning model: it refuses a temperature, and spends `reasoning_tokens`
    of the request's output cap on hidden reasoning before the answer (an empty reply cut off at
    the limit when the cap leaves no room)."""

    def respond(seen: Seen) -> Canned:
        body = seen.body
        if "temperature" in body:
            return TEMPERATURE_REFUSED
        role = _ROLE.search(seen.text)
        text = answer(role.group(1) if role else "?", seen.text)
        cap = int(body.get("max_completion_tokens") or body.get("max_tokens") or 0)
        needed = reasoning_tokens + len(text) // 4 + 1
        if cap < needed:
            return chat_reply("", finish_reason="length", completion_tokens=cap)
        return chat_reply(text, completion_tokens=needed)

    return respond


def thinking_gemini(answer: Answer, dynamic_thinking: int = 6000) -> Callable[[Seen], Canned]:
    """Gemini 2.5 as its API behaves: thoughts count against maxOutputTokens; it thinks its whole
    thinkingBudget when one is set, and `dynamic_thinking` tokens when none is. A request whose
    cap leaves no room after thinking gets an empty reply cut off at MAX_TOKENS. Grounded
    requests (the google_search tool) come back with their sources."""

    def respond(seen: Seen) -> Canned:
        body = seen.body
        system = body.get("systemInstruction", {}).get("parts", [{}])[0].get("text", "")
        turns = [p.get("text", "") for c in body.get("contents", []) for p in c.get("parts", [])]
        role = _ROLE.search(system)
        text = answer(role.group(1) if role else "?", "\n\n".join([system, *turns]))
        config = body.get("generationConfig", {})
        budget = list(config.get("thinkingConfig", {}).values())
        thoughts = int(budget[0]) if budget else dynamic_thinking
        cap = int(config.get("maxOutputTokens", 8192))
        tokens = len(text) // 4 + 1
        if cap - thoughts < tokens:
            return Canned(body=_gemini_body("", "MAX_TOKENS", min(cap, thoughts), 0, grounded=False))
        return Canned(body=_gemini_body(text, "STOP", thoughts, tokens, grounded="tools" in body))

    return respond


def _gemini_body(text: str, finish: str, thoughts: int, tokens: int, grounded: bool) -> dict[str, Any]:
    parts = [{"text": "Let me think about this task...", "thought": True}]
    if text:
        parts.append({"text": text})
    candidate: dict[str, Any] = {
        "content": {"role": "model", "parts": parts},
        "finishReason": finish,
        "index": 0,
    }
    if grounded:
        candidate["groundingMetadata"] = {
            "webSearchQueries": ["best models small tabular regression"],
            "groundingChunks": [
                {"web": {"uri": "https://vertexaisearch.example/redirect/1", "title": "kaggle.com"}}
            ],
        }
    usage = {"promptTokenCount": 1000, "candidatesTokenCount": tokens, "thoughtsTokenCount": thoughts}
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "gemini-2.5-flash"}
