"""Asking a role's model: a prompt fitted to its window, one call, a parse, re-asks with the
reason, and the bill by role."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from mlestar.engineers.base import EngineerFailure, Usage
from mlestar.engineers.llm.parsing import ParseError
from mlestar.engineers.llm.prompts import ROLE_STYLE, Room, fit, reask, size
from mlestar.engineers.llm.prompts.common import clip
from mlestar.llm.client import LLMClient, Message, Reply

T = TypeVar("T")
Build = Callable[[Room], list[Message]]

CHARS_PER_TOKEN = 3.0
"""Characters per token, on the low side for code and prose: a prompt is never larger in
tokens than estimated, so it fits the window."""
MARGIN_TOKENS = 256
"""Left free in the window: chat templates add their own tokens around every message."""


def min_answer(cap: int) -> int:
    """The least answer worth asking for: a quarter of the role's cap (code needs room), and
    never under 512 tokens unless the cap itself is smaller."""
    return max(min(cap, 512), cap // 4)


@dataclass(frozen=True)
class Window:
    """What a role's model can take: its context window (None: large enough for any prompt),
    its output cap, and the tokens it may think before answering."""

    context_tokens: int | None = None
    max_output_tokens: int = 8192
    thinking_tokens: int = 0

    def prompt_chars(self, answer_tokens: int) -> int | None:
        if self.context_tokens is None:
            return None
        free = self.context_tokens - answer_tokens - self.thinking_tokens - MARGIN_TOKENS
        return max(0, int(free * CHARS_PER_TOKEN))

    def answer_room(self, prompt_chars: int) -> int | None:
        if self.context_tokens is None:
            return None
        used = int(prompt_chars / CHARS_PER_TOKEN) + 1
        return self.context_tokens - used - self.thinking_tokens - MARGIN_TOKENS


class UsageLedger:
    """Tokens, cost, calls and fallbacks per role since the last take(). Thread-safe."""

    _FIELDS = ("input_tokens", "output_tokens", "cost_usd", "calls", "fallbacks")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_role: dict[str, dict[str, float]] = {}

    def _row(self, role: str) -> dict[str, float]:
        return self._by_role.setdefault(role, dict.fromkeys(self._FIELDS, 0))

    def charge(self, role: str, reply: Reply) -> None:
        with self._lock:
            row = self._row(role)
            row["input_tokens"] += reply.input_tokens
            row["output_tokens"] += reply.output_tokens
            row["cost_usd"] += reply.cost_usd
            row["calls"] += 1

    def fell_back(self, role: str) -> None:
        with self._lock:
            self._row(role)["fallbacks"] += 1

    def take(self) -> Usage:
        with self._lock:
            by_role, self._by_role = self._by_role, {}
        return Usage(
            input_tokens=int(sum(r["input_tokens"] for r in by_role.values())),
            output_tokens=int(sum(r["output_tokens"] for r in by_role.values())),
            cost_usd=float(sum(r["cost_usd"] for r in by_role.values())),
            calls=int(sum(r["calls"] for r in by_role.values())),
            by_role=by_role,
        )


class Asker:
    def __init__(
        self,
        clients: Mapping[str, LLMClient],
        ledger: UsageLedger,
        temperatures: Mapping[str, float] | None = None,
        windows: Mapping[str, Window] | None = None,
        reasks: int = 2,
    ) -> None:
        self.clients = clients
        self.ledger = ledger
        self.temperatures = dict(temperatures or {})
        self.windows = dict(windows or {})
        self.reasks = reasks
        """Re-asks after an unusable reply, each told why the last one could not be used."""

    def client(self, role: str) -> LLMClient:
        return self.clients[role]

    def prompt(self, role: str, build: Build) -> tuple[list[Message], int]:
        """The role's prompt trimmed to its model's window, and the answer's token cap."""
        window = self.windows.get(role, Window())
        cap = min(ROLE_STYLE[role].max_tokens, window.max_output_tokens)
        messages = fit(build, window.prompt_chars(cap))
        room = window.answer_room(size(messages))
        if room is None:
            return messages, cap
        if room < min_answer(cap):
            raise EngineerFailure(
                f"{role}: the model's context window of {window.context_tokens} tokens cannot hold "
                f"the smallest {role} prompt ({size(messages)} characters) and an answer"
            )
        return messages, min(cap, room)

    def ask(
        self,
        role: str,
        build: Build,
        parse: Callable[[str], T],
        reply_format: str,
        tools: Sequence[str] = (),
    ) -> T:
        return self.ask_reply(role, build, lambda reply: parse(reply.text), reply_format, tools)

    def ask_reply(
        self,
        role: str,
        build: Build,
        parse: Callable[[Reply], T],
        reply_format: str,
        tools: Sequence[str] = (),
    ) -> T:
        """Ask and parse; on a ParseError ask again with the reason, up to `reasks` times."""
        messages, cap = self.prompt(role, build)
        reply = self._call(role, messages, cap, tools)
        for attempt in range(self.reasks + 1):
            try:
                return parse(reply)
            except ParseError as e:
                if attempt == self.reasks:
                    raise EngineerFailure(f"{role}: unusable reply after {self.reasks} re-asks: {e}") from e
                again = self._again(role, messages, cap, reply, str(e), reply_format)
                reply = self._call(role, again, cap, tools)
        raise AssertionError("unreachable")

    def _again(
        self, role: str, messages: list[Message], cap: int, reply: Reply, reason: str, reply_format: str
    ) -> list[Message]:
        """The first prompt, the unusable reply (clipped to what the window leaves) and why."""
        if reply.truncated:
            reason = f"it was cut off at the output-token limit, so keep it shorter; {reason}"
        told = reask(reason, reply_format)
        budget = self.windows.get(role, Window()).prompt_chars(cap)
        room = 6000 if budget is None else min(6000, budget - size(messages) - len(told.content))
        if room < 400 or not reply.text.strip():  # no room, or nothing to show: say why in the last turn
            last = messages[-1]
            return [*messages[:-1], Message(last.role, f"{last.content}\n\n{told.content}")]
        return [*messages, Message("assistant", clip(reply.text, room)), told]

    def _call(self, role: str, messages: list[Message], cap: int, tools: Sequence[str]) -> Reply:
        reply = self.clients[role].complete(
            messages,
            role=role,
            max_tokens=cap,
            temperature=self.temperatures.get(role, ROLE_STYLE[role].temperature),
            tools=tools,
        )
        self.ledger.charge(role, reply)
        return reply
