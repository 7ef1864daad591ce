"""Clients that need no model: for tests, docs and offline demos.

    ScriptedClient(["reply 1", "reply 2"])           replays replies in order
    ScriptedClient({"draft": [...], "debug": [...]}) replays per role
    FunctionClient(lambda messages, role: "...")     a callable decides each reply

A scripted entry may be a string, a Reply, or an exception instance (raised instead of replying).
Both keep every call in `.calls` so tests can read the prompts they were sent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from mlestar.llm.client import Message, Reply

Scripted = str | Reply | BaseException


@dataclass(frozen=True)
class Call:
    role: str
    messages: list[Message]
    max_tokens: int | None = None
    temperature: float | None = None
    tools: tuple[str, ...] = field(default=())

    @property
    def prompt(self) -> str:
        """Every message's text, joined: handy for asserting what a prompt contains."""
        return "\n\n".join(m.content for m in self.messages)


def _as_reply(item: Scripted, model: str, messages: list[Message]) -> Reply:
    if isinstance(item, BaseException):
        raise item
    if isinstance(item, Reply):
        return item
    words_in = sum(len(m.content.split()) for m in messages)
    return Reply(text=item, input_tokens=words_in, output_tokens=len(item.split()), model=model)


class _Recorded:
    def __init__(self, model: str) -> None:
        self.model = model
        self.web_search = False
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def _note(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def roles(self) -> list[str]:
        return [c.role for c in self.calls]


class ScriptedClient(_Recorded):
    def __init__(
        self,
        replies: Iterable[Scripted] | Mapping[str, Iterable[Scripted]],
        *,
        model: str = "scripted",
    ) -> None:
        super().__init__(model)
        if isinstance(replies, Mapping):
            self._by_role: dict[str, list[Scripted]] | None = {k: list(v) for k, v in replies.items()}
            self._queue: list[Scripted] = []
        else:
            self._by_role = None
            self._queue = list(replies)

    def complete(
        self,
        messages: list[Message],
        *,
        role: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tools: Sequence[str] = (),
    ) -> Reply:
        self._note(Call(role, list(messages), max_tokens, temperature, tuple(tools)))
        with self._lock:
            queue = self._queue if self._by_role is None else self._by_role.get(role, [])
            if not queue:
                raise AssertionError(f"ScriptedClient has no reply left for role {role!r}")
            item = queue.pop(0)
        return _as_reply(item, self.model, messages)

    @property
    def remaining(self) -> int:
        if self._by_role is None:
            return len(self._queue)
        return sum(len(v) for v in self._by_role.values())


class FunctionClient(_Recorded):
    def __init__(self, fn: Callable[[list[Message], str], Scripted], *, model: str = "function") -> None:
        super().__init__(model)
        self.fn = fn

    def complete(
        self,
        messages: list[Message],
        *,
        role: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tools: Sequence[str] = (),
    ) -> Reply:
        self._note(Call(role, list(messages), max_tokens, temperature, tuple(tools)))
        return _as_reply(self.fn(list(messages), role), self.model, messages)
