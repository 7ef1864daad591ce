"""Retries with backoff around any client: 429 and 5xx (honouring Retry-After), timeouts, drops.

The SDKs' own retries are switched off (max_retries=0, one attempt for google-genai) so that
this is the only retry loop and it behaves the same for every provider.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mlestar.llm.client import LLMClient, Message, Reply
from mlestar.llm.failures import ProviderError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    """Tries in all, the first included."""
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    max_retry_after_s: float = 120.0
    """A server asking to wait longer than this is treated as a final answer."""

    def delay(self, attempt: int, error: ProviderError, rng: random.Random) -> float | None:
        """Seconds before try `attempt + 1`, or None to give up."""
        if not error.retryable or attempt >= self.attempts:
            return None
        if error.retry_after is not None:
            return error.retry_after if error.retry_after <= self.max_retry_after_s else None
        backoff = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return backoff * (0.5 + rng.random() / 2)  # jitter: spread parallel callers apart


class RetryingClient:
    def __init__(
        self,
        inner: LLMClient,
        policy: RetryPolicy = RetryPolicy(),
        *,
        sleep: Callable[[float], None] = time.sleep,
        seed: int = 0,
    ) -> None:
        self.inner = inner
        self.policy = policy
        self.web_search = inner.web_search
        self._sleep = sleep
        self._rng = random.Random(seed)
        self.retries = 0
        """Retries made so far (for tests and the run log)."""

    def complete(
        self,
        messages: list[Message],
        *,
        role: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        tools: Sequence[str] = (),
    ) -> Reply:
        attempt = 1
        while True:
            try:
                return self.inner.complete(
                    messages, role=role, max_tokens=max_tokens, temperature=temperature, tools=tools
                )
            except ProviderError as error:
                wait = self.policy.delay(attempt, error, self._rng)
                if wait is None:
                    raise
                log.info("%s: retry %d in %.1fs after %s", role, attempt, wait, error)
                self.retries += 1
                self._sleep(wait)
                attempt += 1
