"""One frozen run configuration, built once at the edge (the CLI) and passed down.

Nothing below the CLI reads the environment: whatever the environment may set (tracking URI,
provider keys' presence) is read here, once.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlestar.errors import ConfigError


@dataclass(frozen=True)
class SearchSettings:
    """MLE-STAR's knobs, at the paper's defaults. The budget does not shrink them: a stage that runs
    out of time stops early (search/budget.py)."""

    m_candidates: int = 4
    t_outer: int = 4
    k_inner: int = 4
    r_ensemble: int = 5
    max_debug_rounds: int = 2
    n_folds: int = 5
    subsample_rows: int = 30_000
    screen_candidates: int = 24
    """How many candidates the engineer is asked for; every one is screened cheaply, the M best drafted."""
    screen_rows: int = 5_000
    screen_folds: int = 2
    repeats: int = 3
    """Splits each search attempt runs on when the data is small (scores averaged); 1 turns it off."""
    widen_seeds: int = 3
    """Seed variants of each of the two best scripts tried when the search has time left over."""


@dataclass(frozen=True)
class RunConfig:
    task_dir: Path
    run_dir: Path
    budget_s: float = 30 * 60.0
    max_nodes: int | None = None
    seed: int = 42
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    engineer: str = "builtin"
    """"builtin", or an LLM spec such as "openai:gpt-4o-mini" or "replay:RUN_DIR"."""
    role_models: tuple[tuple[str, str], ...] = ()
    """Per-role LLM overrides, e.g. (("summarize_ablation", "openai:gpt-4o-mini"),)."""
    llm_models: Path | None = None
    """A YAML file of per-model settings (--llm-models), kept so a resume reads it again."""
    search_backend: str | None = None
    """The web search retrieval asks (--search tavily or searxng:URL); None: offline."""
    search: SearchSettings = field(default_factory=SearchSettings)
    memory_mb: int | None = 8192
    group_column: str | None = None
    overrides: tuple[tuple[str, Any], ...] = ()
    """Task inferences overridden by CLI flags (field, value)."""
    tracking_uri: str | None = None
    tracking: bool = True
    max_cost_usd: float | None = None
    max_tokens: int | None = None
    executor: str = "local"
    """"local" or "ray" (or "ray://host:port")."""
    sandbox: str = "auto"
    """"auto" (the strongest this machine allows), "strict" (user namespaces or refuse) or "off"."""
    disk_mb: int = 8192
    """What one attempt's folder may hold, and so its largest file (sandboxed runs)."""
    max_processes: int = 256
    """Processes and threads one script may have at once (sandboxed runs)."""
    device: str = "auto"
    """--device: "auto" (the GPU when the machine shows one), "cpu" or "cuda"; each session resolves it
    against the hardware it finds (mlestar.hardware), so a resume elsewhere uses what is there."""
    card_dirs: tuple[Path, ...] = ()
    """User model-card folders, honoured beside the built-in cards."""
    live: bool | None = None
    """Live panel on/off; None: on when stdout is a terminal."""
    warm_start: str | None = None
    """An earlier run folder whose best scripts the search tries first (`mlestar retrain`)."""

    def with_run_dir(self, run_dir: Path) -> RunConfig:
        return replace(self, run_dir=run_dir)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$")


def parse_duration(text: str) -> float:
    """'30m' -> 1800.0; '90s', '1.5h' and bare seconds ('300') work too."""
    m = _DURATION.match(str(text))
    if not m:
        raise ConfigError(f"expected a duration such as 300, 90s, 30m or 2h; got {text!r}")
    value, unit = float(m.group(1)), m.group(2) or "s"
    seconds = value * {"s": 1, "m": 60, "h": 3600}[unit]
    if seconds <= 0:
        raise ConfigError(f"expected a positive duration; got {text!r}")
    return seconds


def config_to_json(config: RunConfig) -> dict[str, Any]:
    from dataclasses import asdict

    data = asdict(config)
    data["task_dir"] = str(config.task_dir)
    data["run_dir"] = str(config.run_dir)
    data["card_dirs"] = [str(p) for p in config.card_dirs]
    data["llm_models"] = str(config.llm_models) if config.llm_models else None
    return data


def config_from_json(data: dict[str, Any]) -> RunConfig:
    data = dict(data)
    data["task_dir"] = Path(data["task_dir"])
    data["run_dir"] = Path(data["run_dir"])
    data["card_dirs"] = tuple(Path(p) for p in data.get("card_dirs", ()))
    data["llm_models"] = Path(data["llm_models"]) if data.get("llm_models") else None
    data["search"] = SearchSettings(**data.get("search", {}))
    data["role_models"] = tuple(tuple(p) for p in data.get("role_models", ()))
    data["overrides"] = tuple(tuple(p) for p in data.get("overrides", ()))
    return RunConfig(**data)
