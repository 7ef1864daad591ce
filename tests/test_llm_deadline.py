"""No model call outlives the run's budget: it is cut off at the deadline, or not started."""

from __future__ import annotations

import threading
import time

import pytest

from mlestar.llm import deadline
from mlestar.llm.client import Message
from mlestar.llm.deadline import MIN_CALL_S, DeadlineClient
from mlestar.llm.failures import BudgetExhausted, ProviderError
from mlestar.llm.fakes import FunctionClient

ASK = [Message("user", "hello")]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_reply_in_time_comes_back() -> None:
    client = DeadlineClient(FunctionClient(lambda m, r: "hi"), deadline=time.time() + 60)
    assert client.complete(ASK, role="draft").text == "hi"


def test_a_call_still_running_at_the_deadline_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    # The least time a call may start with, shortened from MIN_CALL_S: the cut-off is what is tested,
    # not ten seconds of waiting for it.
    min_call_s = 0.5
    monkeypatch.setattr(deadline, "MIN_CALL_S", min_call_s)
    release = threading.Event()

    def slow(messages: list[Message], role: str) -> str:
        release.wait(30)
        return "late"

    clock = Clock(1000.0)
    client = DeadlineClient(FunctionClient(slow), deadline=1000.0 + min_call_s + 0.3, clock=clock)
    started = time.monotonic()
    with pytest.raises(BudgetExhausted, match="ran out while the model answered draft"):
        client.complete(ASK, role="draft")
    assert time.monotonic() - started < min_call_s + 5  # waited about the time left, not the reply
    release.set()


def test_no_call_starts_with_too_little_time_left() -> None:
    asked: list[str] = []
    client = DeadlineClient(
        FunctionClient(lambda m, r: asked.append(r) or "x"),
        deadline=1000.0 + MIN_CALL_S - 1,
        clock=Clock(1000.0),
    )
    with pytest.raises(BudgetExhausted, match="time is spent"):
        client.complete(ASK, role="plan")
    assert asked == []


def test_a_provider_error_passes_through_unchanged() -> None:
    def failing(messages: list[Message], role: str) -> str:
        raise ProviderError("boom", retryable=False)

    client = DeadlineClient(FunctionClient(failing), deadline=time.time() + 60)
    with pytest.raises(ProviderError, match="boom"):
        client.complete(ASK, role="draft")
