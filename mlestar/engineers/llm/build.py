"""build_engineer: the factory the CLI calls to turn settings into an LLM engineer."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from mlestar.config import RunConfig
from mlestar.engineers.base import Engineer
from mlestar.engineers.llm.asking import Window
from mlestar.engineers.llm.engineer import LLMEngineer
from mlestar.engineers.llm.prompts import ROLE_STYLE
from mlestar.errors import ConfigError
from mlestar.llm.budget import Budget
from mlestar.llm.factory import role_clients
from mlestar.llm.settings import ROLES, LLMSettings
from mlestar.llm.websearch import SEARCH_FILE, RecordedSearch, ReplayedSearch, SearchBackend, backend_for


def build_engineer(
    config: RunConfig,
    settings: LLMSettings,
    fallback: Engineer,
    record_dir: Path,
    *,
    search: SearchBackend | None = None,
    sleep: Callable[[float], None] = time.sleep,
    deadline: float | None = None,
) -> Engineer:
    """An LLMEngineer for the run: per-role clients with retries, recording to record_dir
    (RUN_DIR/llm), prompts fitted to each role's model, the run's --max-cost / --max-tokens
    budget, and `fallback` for failed steps."""
    _check_prices(config, settings)
    budget = Budget(config.max_cost_usd, config.max_tokens)
    clients = role_clients(settings, budget, record_dir, sleep=sleep, deadline=deadline)
    temperatures = {role: t for role in ROLES if (t := settings.for_role(role).temperature) is not None}
    return LLMEngineer(
        clients,
        fallback,
        temperatures=temperatures,
        search=_search(settings, record_dir, search),
        budget=budget,
        label=f"llm:{settings.spec}",
        windows=_windows(settings, record_dir),
    )


def _search(settings: LLMSettings, record_dir: Path, given: SearchBackend | None) -> SearchBackend | None:
    """The search backend, its results recorded; on replay, the recorded results."""
    if settings.api == "replay":
        path = Path(settings.model) / "llm" / SEARCH_FILE
        return ReplayedSearch(path) if path.is_file() else None
    backend = given or (backend_for(settings.search) if settings.search else None)
    return RecordedSearch(backend, record_dir / SEARCH_FILE) if backend is not None else None


WINDOWS_FILE = "windows.json"
"""Each role's window, kept beside the recorded calls: a replay trims its prompts the same way,
so it asks the very requests that were recorded."""


def _windows(settings: LLMSettings, record_dir: Path) -> dict[str, Window]:
    if settings.api == "replay":
        path = Path(settings.model) / "llm" / WINDOWS_FILE
        saved = json.loads(path.read_text()) if path.is_file() else {}
        return {role: Window(**values) for role, values in saved.items()}
    windows = {}
    for role in ROLES:
        chosen = settings.for_role(role)
        windows[role] = Window(chosen.context_window, chosen.max_output_tokens, chosen.thinking_budget or 0)
    record_dir.mkdir(parents=True, exist_ok=True)
    (record_dir / WINDOWS_FILE).write_text(json.dumps({r: asdict(w) for r, w in windows.items()}, indent=1))
    return windows


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
