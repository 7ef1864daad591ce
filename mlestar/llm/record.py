"""Record every model call of a run, and replay a recorded run with no network.

RUN_DIR/llm/calls.jsonl holds one JSON line per call: the request (role, messages, limits,
tools), the reply or the error, the client label ("openai:gpt-4o-mini"), tokens, cost, latency.
Keys never reach this file: clients hold them, requests and replies do not contain them.

`--llm replay:RUN_DIR` serves the recorded replies by a hash of the request. Identical requests
are served in the order they were recorded, and a recorded failure fails again, so a replayed
run meets the same answers and makes the same decisions.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlestar.errors import ConfigError, LLMError
from mlestar.llm.client import LLMClient, Message, Reply
from mlestar.llm.failures import ProviderError, ReplayMiss

CALLS_FILE = "calls.jsonl"


def request_key(messages: list[Message], role: str, tools: Sequence[str]) -> str:
    """A stable hash of what was asked. Limits and temperature are left out on purpose, so a
    replay with other settings (a different output cap) still finds its replies."""
    payload = {"role": role, "messages": [m.to_json() for m in messages], "tools": sorted(tools)}
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


class Recorder:
    """Appends records to one file; shared by every client of a run (one per role model)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / CALLS_FILE  # created on the first call, not before
        self._lock = threading.Lock()
        self._seen: dict[str, int] = defaultdict(int)

    def next_seq(self, key: str) -> int:
        with self._lock:
            seq = self._seen[key]
            self._seen[key] += 1
            return seq

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line)
                f.flush()


class RecordingClient:
    def __init__(self, inner: LLMClient, recorder: Recorder, label: str) -> None:
        self.inner = inner
        self.recorder = recorder
        self.label = label
        self.web_search = inner.web_search

    def complete(
        self,
        messages: list[Message],
        *,
        role: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tools: Sequence[str] = (),
    ) -> Reply:
        key = request_key(messages, role, tools)
        record: dict[str, Any] = {
            "kind": "call",
            "key": key,
            "seq": self.recorder.next_seq(key),
            "role": role,
            "client": self.label,
            "time": time.time(),
            "request": {
                "messages": [m.to_json() for m in messages],
                "max_tokens": max_tokens,
                "temperature": temperature,
                "tools": list(tools),
            },
        }
        started = time.monotonic()
        try:
            reply = self.inner.complete(
                messages, role=role, max_tokens=max_tokens, temperature=temperature, tools=tools
            )
        except LLMError as error:
            record.update(error={"type": type(error).__name__, "message": str(error)})
            record["latency_s"] = round(time.monotonic() - started, 3)
            self.recorder.write(record)
            raise
        record.update(reply=reply.to_json(), latency_s=round(time.monotonic() - started, 3))
        self.recorder.write(record)
        return reply


def read_calls(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "llm" / CALLS_FILE
    if not path.is_file():
        raise ConfigError(f"expected a recorded run with {path}, found no such file")
    calls = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line from a killed run
        if record.get("kind") == "call":
            calls.append(record)
    return calls


class ReplayClient:
    """Serves recorded replies; never touches the network."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._queues: dict[str, list[dict[str, Any]]] = defaultdict(list)
        calls = read_calls(run_dir)
        for record in calls:
            self._queues[record["key"]].append(record)
        self.web_search = any(record["request"].get("tools") for record in calls)
        self._lock = threading.Lock()
        self.misses = 0

    def complete(
        self,
        messages: list[Message],
        *,
        role: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tools: Sequence[str] = (),
    ) -> Reply:
        key = request_key(messages, role, tools)
        with self._lock:
            queue = self._queues.get(key)
            record = queue.pop(0) if queue else None
            if record is None:
                self.misses += 1
        if record is None:
            raise ReplayMiss(f"{self.run_dir}: no recorded reply for this {role} request")
        if "error" in record:
            raise ProviderError(f"replayed failure: {record['error']['message']}")
        return Reply.from_json(record["reply"])
