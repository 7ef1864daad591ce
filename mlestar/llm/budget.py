"""--max-cost and --max-tokens: one shared account that every model call is charged to.

Once the account is spent, the next call raises BudgetExhausted before anything is sent; the LLM
engineer catches it and hands the step to its fallback (the built-in engineer), so the run goes on
and finishes with what it has. A call already in flight is allowed to finish: the overshoot is at
most one reply, itself bounded by the output-token cap.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from mlestar.llm.client import LLMClient, Message, Reply
from mlestar.llm.failures import BudgetExhausted


class Budget:
    """Thread-safe: drafts and plans may ask the model from several threads at once."""

    def __init__(self, max_cost_usd: float | None = None, max_tokens: int | None = None) -> None:
        self.max_cost_usd = max_cost_usd
        self.max_tokens = max_tokens
        self._lock = threading.Lock()
        self.cost_usd = 0.0
        self.tokens = 0

    def charge(self, reply: Reply) -> None:
        with self._lock:
            self.cost_usd += reply.cost_usd
            self.tokens += reply.input_tokens + reply.output_tokens

    @property
    def exhausted(self) -> bool:
        with self._lock:
            over_cost = self.max_cost_usd is not None and self.cost_usd >= self.max_cost_usd
            over_tokens = self.max_tokens is not None and self.tokens >= self.max_tokens
        return over_cost or over_tokens

    def check(self) -> None:
        if self.exhausted:
            raise BudgetExhausted(
                f"model budget spent: {self.tokens} tokens, ${self.cost_usd:.4f} "
                f"(limits: tokens {self.max_tokens}, cost {self.max_cost_usd})"
            )


class BudgetedClient:
    def __init__(self, inner: LLMClient, budget: Budget) -> None:
        self.inner = inner
        self.budget = budget
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
        self.budget.check()
        reply = self.inner.complete(
            messages, role=role, max_tokens=max_tokens, temperature=temperature, tools=tools
        )
        self.budget.charge(reply)
        return reply
