"""Build the clients of a run from its settings: provider, then retries, recording and budget.

    BudgetedClient( RecordingClient( RetryingClient( provider ) ) )
    BudgetedClient( RecordingClient( ReplayClient(RUN_DIR) ) )          for replay:RUN_DIR

The budget sits outside so a spent budget stops a call before it is sent or recorded; the
recording sits outside the retries so it holds one line per call with its final outcome.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from mlestar.llm.budget import Budget, BudgetedClient
from mlestar.llm.client import LLMClient
from mlestar.llm.deadline import DeadlineClient
from mlestar.llm.record import Recorder, RecordingClient, ReplayClient
from mlestar.llm.retry import RetryingClient, RetryPolicy
from mlestar.llm.settings import ROLES, LLMSettings


def provider_client(settings: LLMSettings) -> LLMClient:
    """The bare provider client; its SDK is imported only here, when it is chosen."""
    if settings.api == "openai_compat":
        from mlestar.llm.openai_compat import OpenAICompatClient

        return OpenAICompatClient(settings)
    if settings.api == "ollama":
        from mlestar.llm.ollama import OllamaClient

        return OllamaClient(settings)
    if settings.api == "gemini":
        from mlestar.llm.gemini import GeminiClient

        return GeminiClient(settings)
    if settings.api == "anthropic":
        from mlestar.llm.anthropic import AnthropicClient

        return AnthropicClient(settings)
    if settings.api == "replay":
        return ReplayClient(Path(settings.model))
    raise ValueError(f"unknown LLM api {settings.api!r}")


def role_clients(
    settings: LLMSettings,
    budget: Budget,
    record_dir: Path,
    *,
    sleep: Callable[[float], None] = time.sleep,
    deadline: float | None = None,
) -> dict[str, LLMClient]:
    """One wrapped client per role; roles with the same settings share one client. With a
    deadline (epoch seconds: the run's budget end), no call outlives it (replays are not timed)."""
    recorder = Recorder(record_dir)
    built: dict[LLMSettings, LLMClient] = {}
    clients: dict[str, LLMClient] = {}
    for role in ROLES:
        chosen = settings if settings.api == "replay" else settings.for_role(role)
        if chosen not in built:
            built[chosen] = _wrapped(chosen, budget, recorder, sleep, deadline)
        clients[role] = built[chosen]
    return clients


def _wrapped(
    settings: LLMSettings,
    budget: Budget,
    recorder: Recorder,
    sleep: Callable[[float], None],
    deadline: float | None = None,
) -> LLMClient:
    client = provider_client(settings)
    if settings.api != "replay":
        client = RetryingClient(client, RetryPolicy(attempts=settings.retries + 1), sleep=sleep)
        if deadline is not None:  # inside the recorder: a cut-off is recorded, so a replay repeats it
            client = DeadlineClient(client, deadline)
    return BudgetedClient(RecordingClient(client, recorder, settings.spec), budget)
