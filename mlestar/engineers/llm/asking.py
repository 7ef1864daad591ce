"""Asking a role's model: one call, one parse, one re-ask with the reason, and the bill by role."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from mlestar.engineers.base import EngineerFailure, Usage
from mlestar.engineers.llm.parsing import ParseError
from mlestar.engineers.llm.prompts import ROLE_STYLE, reask
from mlestar.engineers.llm.prompts.common import clip
from mlestar.llm.client import LLMClient, Message, Reply

T = TypeVar("T")


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
    ) -> None:
        self.clients = clients
        self.ledger = ledger
        self.temperatures = dict(temperatures or {})

    def client(self, role: str) -> LLMClient:
        return self.clients[role]

    def ask(
        self,
        role: str,
        messages: list[Message],
        parse: Callable[[str], T],
        reply_format: str,
        tools: Sequence[str] = (),
    ) -> T:
        """Ask, parse; on a ParseError ask once more with the reason; then give up."""
        reply = self._call(role, messages, tools)
        try:
            return parse(reply.text)
        except ParseError as first:
            reason = str(first)
            if reply.truncated:
                reason = f"it was cut off at the output-token limit, so keep it shorter; {reason}"
            again = [*messages, Message("assistant", clip(reply.text, 6000)), reask(reason, reply_format)]
            second = self._call(role, again, tools)
            try:
                return parse(second.text)
            except ParseError as e:
                raise EngineerFailure(f"{role}: unusable reply after a re-ask: {e}") from e

    def _call(self, role: str, messages: list[Message], tools: Sequence[str]) -> Reply:
        style = ROLE_STYLE[role]
        reply = self.clients[role].complete(
            messages,
            role=role,
            max_tokens=style.max_tokens,
            temperature=self.temperatures.get(role, style.temperature),
            tools=tools,
        )
        self.ledger.charge(role, reply)
        return reply
