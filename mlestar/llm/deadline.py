"""The run's clock bounds every model call: a reply that would come after the budget's end is not
waited for, and no call starts when too little time is left.

A slow local model can take minutes per reply; without this a run overshoots its budget by a whole
reply (seen: 340 s on a 20-minute run). The cut-off raises BudgetExhausted, which the LLM engineer
answers like a spent --max-cost: the fallback takes the step. The call itself goes on in a daemon
thread and its reply is dropped (SDK calls cannot be interrupted from outside).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from mlestar.llm.client import LLMClient, Message, Reply
from mlestar.llm.failures import BudgetExhausted

MIN_CALL_S = 10.0
"""No call starts with less time than this left: no model answers usefully faster."""


class DeadlineClient:
    def __init__(self, inner: LLMClient, deadline: float, clock: Callable[[], float] = time.time) -> None:
        self.inner = inner
        self.deadline = deadline
        self.web_search = inner.web_search
        self._clock = clock

    def complete(
        self,
        messages: list[Message],
        *,
        role: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tools: Sequence[str] = (),
    ) -> Reply:
        left = self.deadline - self._clock()
        if left < MIN_CALL_S:
            raise BudgetExhausted(f"the run's time is spent ({max(0.0, left):.0f} s left): {role} not asked")
        box: dict[str, Any] = {}

        def call() -> None:
            try:
                box["reply"] = self.inner.complete(
                    messages, role=role, max_tokens=max_tokens, temperature=temperature, tools=tools
                )
            except BaseException as error:  # handed back to the caller's thread below
                box["error"] = error

        worker = threading.Thread(target=call, name=f"llm-{role}", daemon=True)
        worker.start()
        worker.join(left)
        if worker.is_alive():
            raise BudgetExhausted(f"the run's time ran out while the model answered {role} ({left:.0f} s)")
        if "error" in box:
            raise box["error"]
        return box["reply"]
