"""build_engineer: the factory the CLI calls to turn settings into an LLM engineer."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from mlestar.config import RunConfig
from mlestar.engineers.base import Engineer
from mlestar.engineers.llm.engineer import LLMEngineer
from mlestar.engineers.llm.prompts import ROLE_STYLE
from mlestar.errors import ConfigError
from mlestar.llm.budget import Budget
from mlestar.llm.factory import role_clients
from mlestar.llm.settings import ROLES, LLMSettings
from mlestar.llm.websearch import SearchBackend


def build_engineer(
    config: RunConfig,
    settings: LLMSettings,
    fallback: Engineer,
    record_dir: Path,
    *,
    search: SearchBackend | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Engineer:
    """An LLMEngineer for the run: per-role clients with retries, recording to record_dir
    (RUN_DIR/llm), the run's --max-cost / --max-tokens budget, and `fallback` for failed steps."""
    _check_prices(config, settings)
    budget = Budget(config.max_cost_usd, config.max_tokens)
    clients = role_clients(settings, budget, record_dir, sleep=sleep)
    temperatures = {role: t for role in ROLES if (t := settings.for_role(role).temperature) is not None}
    return LLMEngineer(
        clients,
        fallback,
        temperatures=temperatures,
        search=search,
        budget=budget,
        label=f"llm:{settings.spec}",
    )


def _check_prices(config: RunConfig, settings: LLMSettings) -> None:
    """--max-cost cannot be enforced for a model whose price nobody knows."""
    if config.max_cost_usd is None or settings.api == "replay":
        return
    for role in ROLES:
        chosen = settings.for_role(role)
        if chosen.prices is None:
            raise ConfigError(
                f"expected a known price for {chosen.spec} to enforce --max-cost (set "
                "MLESTAR_LLM_PRICE_IN and MLESTAR_LLM_PRICE_OUT, USD per million tokens, or its "
                "price in a --llm-models file); found none"
            )


assert set(ROLE_STYLE) == set(ROLES), "every role needs a prompt style"
