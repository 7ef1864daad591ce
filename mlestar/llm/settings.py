"""LLM settings, built once at the CLI edge from `--llm provider:model` and the environment.

Keys come from the environment only and live in a Secret, whose repr and str are masked, so a
settings value can be logged, printed or json-dumped without leaking the key.

    --llm openai:gpt-4o-mini          OPENAI_API_KEY, optional OPENAI_BASE_URL (any compatible server)
    --llm ollama:qwen2.5-coder:7b     OLLAMA_BASE_URL (default http://localhost:11434), no key
    --llm vllm:MODEL / lmstudio:MODEL / llamacpp:MODEL   local servers, like ollama
    --llm openrouter:VENDOR/MODEL     OPENROUTER_API_KEY
    --llm gemini:gemini-2.5-flash     GEMINI_API_KEY or GOOGLE_API_KEY, optional GEMINI_BASE_URL
    --llm anthropic:claude-sonnet-4-0 ANTHROPIC_API_KEY, optional ANTHROPIC_BASE_URL
    --llm replay:RUN_DIR              the recorded replies of an earlier run, no network
Per-model settings (context window, output cap, temperature support, thinking budget, price,
search fee, timeout) come from models.yaml, overridden by the user's file (--llm-models FILE or
MLESTAR_LLM_MODELS), overridden by these knobs for every provider: MLESTAR_LLM_TIMEOUT (s),
MLESTAR_LLM_MAX_OUTPUT_TOKENS, MLESTAR_LLM_CONTEXT_WINDOW, MLESTAR_LLM_RETRIES,
MLESTAR_LLM_TEMPERATURE, MLESTAR_LLM_PRICE_IN / _OUT (USD per 1M tokens).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from mlestar.errors import ConfigError
from mlestar.llm.models import ModelInfo, ModelTable

if TYPE_CHECKING:
    from mlestar.llm.websearch import SearchSpec

ROLES = (
    "retrieve",
    "draft",
    "merge",
    "check_data_usage",
    "check_leakage",
    "ablate",
    "summarize_ablation",
    "pick_block",
    "plan_next",
    "implement",
    "plan_ensemble",
    "debug",
)


class Secret:
    """A value that never shows itself in repr, str, logs or JSON (json default=str)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __deepcopy__(self, memo: dict[int, object]) -> Secret:
        return self


@dataclass(frozen=True)
class _Provider:
    api: str
    """"openai_compat", "ollama", "gemini", "anthropic" or "replay"."""
    key_vars: tuple[str, ...] = ()
    base_var: str | None = None
    default_base: str | None = None
    key_required: bool = True
    local: bool = False


PROVIDERS: dict[str, _Provider] = {
    "openai": _Provider("openai_compat", ("OPENAI_API_KEY",), "OPENAI_BASE_URL"),
    "openrouter": _Provider(
        "openai_compat", ("OPENROUTER_API_KEY",), "OPENROUTER_BASE_URL", "https://openrouter.ai/api/v1"
    ),
    # Ollama's own API: only it lets a request set the context window (num_ctx).
    "ollama": _Provider(
        "ollama", ("OLLAMA_API_KEY",), "OLLAMA_BASE_URL", "http://localhost:11434", False, True
    ),
    "vllm": _Provider(
        "openai_compat", ("VLLM_API_KEY",), "VLLM_BASE_URL", "http://localhost:8000/v1", False, True
    ),
    "lmstudio": _Provider("openai_compat", (), "LMSTUDIO_BASE_URL", "http://localhost:1234/v1", False, True),
    "llamacpp": _Provider("openai_compat", (), "LLAMACPP_BASE_URL", "http://localhost:8080/v1", False, True),
    "gemini": _Provider("gemini", ("GEMINI_API_KEY", "GOOGLE_API_KEY"), "GEMINI_BASE_URL"),
    "anthropic": _Provider("anthropic", ("ANTHROPIC_API_KEY",), "ANTHROPIC_BASE_URL"),
    "replay": _Provider("replay", key_required=False, local=True),
}


@dataclass(frozen=True)
class LLMSettings:
    provider: str
    model: str
    """The model name; for replay, the recorded run folder."""
    api: str
    base_url: str | None = None
    api_key: Secret | None = None
    timeout_s: float = 180.0
    max_output_tokens: int = 8192
    """The largest answer any role asks for (each role asks for less or equal)."""
    retries: int = 3
    """Retries after the first try, on 429, 5xx, timeouts and dropped connections."""
    temperature: float | None = None
    """None: each role's own default."""
    prices: tuple[float, float] | None = None
    """USD per million (input, output) tokens; None when unknown."""
    roles: tuple[tuple[str, LLMSettings], ...] = ()
    """Per-role overrides (a cheaper model for summaries and checks)."""
    context_window: int | None = None
    """Tokens the model reads and writes in one call; prompts are trimmed to fit it."""
    accepts_temperature: bool = True
    """False for models that refuse a temperature (reasoning models): none is sent."""
    thinking_budget: int | None = None
    """Tokens a call may spend thinking before it answers, on top of the answer's cap."""
    reasoning_effort: str | None = None
    search_fee: float = 0.0
    """USD per grounded prompt or web search."""
    local: bool = False
    """A server on this machine or network: costs nothing, gets local timeouts."""
    search: SearchSpec | None = None
    """The search backend retrieval asks (--search), for models without a search of their own."""

    @property
    def spec(self) -> str:
        return f"{self.provider}:{self.model}"

    def for_role(self, role: str) -> LLMSettings:
        return dict(self.roles).get(role, self)

    def distinct(self) -> list[LLMSettings]:
        """Every model the run uses (the main one and each role's), once each."""
        found = [self, *(chosen for _, chosen in self.roles)]
        return list({(s.spec, s.base_url): s for s in found}.values())

    def output_cap(self, requested: int | None) -> int:
        return self.max_output_tokens if requested is None else min(requested, self.max_output_tokens)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str],
        spec: str,
        role_specs: Iterable[tuple[str, str]] | Mapping[str, str] = (),
        models_file: Path | None = None,
    ) -> LLMSettings:
        """Settings for `--llm spec` (and `--llm-role role=spec`), reading keys from environ and
        per-model settings from models.yaml and the user's file (models_file, else
        MLESTAR_LLM_MODELS)."""
        path = models_file or (
            Path(environ["MLESTAR_LLM_MODELS"]) if environ.get("MLESTAR_LLM_MODELS") else None
        )
        table = ModelTable.load(path)
        main = _one(environ, spec, table)
        pairs = role_specs.items() if isinstance(role_specs, Mapping) else role_specs
        roles = []
        for role, role_spec in pairs:
            if role not in ROLES:
                raise ConfigError(f"expected a role among {', '.join(ROLES)}; found {role!r}")
            roles.append((role, _one(environ, _qualify(role_spec, main), table)))
        return replace(main, roles=tuple(roles))


def _qualify(role_spec: str, main: LLMSettings) -> str:
    """A role spec may name just a model ("gpt-4o-mini"): it then uses the main provider."""
    prefix = role_spec.split(":", 1)[0]
    return role_spec if prefix in PROVIDERS else f"{main.provider}:{role_spec}"


def _one(environ: Mapping[str, str], spec: str, table: ModelTable) -> LLMSettings:
    provider_name, _, model = spec.partition(":")
    provider = PROVIDERS.get(provider_name.strip().lower())
    if provider is None or not model.strip():
        raise ConfigError(
            f"expected --llm PROVIDER:MODEL with PROVIDER one of {', '.join(PROVIDERS)}; found {spec!r}"
        )
    name, model = provider_name.strip().lower(), model.strip()
    base_url = (environ.get(provider.base_var) if provider.base_var else None) or provider.default_base
    # An OpenAI-compatible server on this machine or network is self-hosted; a local address
    # for Gemini or Claude is a gateway to the paid service.
    local = provider.local or (provider.api == "openai_compat" and is_local_url(base_url))
    info = table.lookup(model, local) if provider.api != "replay" else ModelInfo()
    context = _optional_number(environ, "MLESTAR_LLM_CONTEXT_WINDOW")
    return LLMSettings(
        provider=name,
        model=model,
        api=provider.api,
        base_url=base_url or None,
        api_key=_key(environ, name, provider, base_url),
        timeout_s=_number(environ, "MLESTAR_LLM_TIMEOUT", info.timeout_s or 180.0),
        max_output_tokens=int(
            _number(environ, "MLESTAR_LLM_MAX_OUTPUT_TOKENS", info.max_output_tokens or 8192)
        ),
        retries=int(_number(environ, "MLESTAR_LLM_RETRIES", 3, minimum=0)),
        temperature=_optional_number(environ, "MLESTAR_LLM_TEMPERATURE"),
        prices=_prices(environ, info),
        context_window=int(context) if context else info.context_window,
        accepts_temperature=info.temperature,
        thinking_budget=info.thinking_budget,
        reasoning_effort=info.reasoning_effort,
        search_fee=info.search_fee,
        local=local,
    )


def is_local_url(url: str | None) -> bool:
    """A server on this machine or a private network: loopback and private addresses, names
    such as localhost, *.local, *.internal, or a bare host name (a container's service name)."""
    if not url:
        return False
    host = (urlsplit(url).hostname or "").lower()
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "." not in host or host.endswith((".local", ".localhost", ".internal", ".lan", ".home.arpa"))
    return address.is_loopback or address.is_private or address.is_link_local or address.is_unspecified


def _key(environ: Mapping[str, str], name: str, provider: _Provider, base_url: str | None) -> Secret | None:
    for var in provider.key_vars:
        if environ.get(var):
            return Secret(environ[var])
    if not provider.key_required or provider.api == "replay":
        return None
    if name == "openai" and base_url:
        return None  # a self-hosted OpenAI-compatible server usually takes no key
    raise ConfigError(
        f"expected {' or '.join(provider.key_vars)} in the environment for --llm {name}:..., found none"
    )


def _number(environ: Mapping[str, str], var: str, default: float, minimum: float = 1e-9) -> float:
    value = _optional_number(environ, var)
    if value is None:
        return default
    if value < minimum:
        raise ConfigError(f"expected {var} >= {minimum:g}; found {value:g}")
    return value


def _optional_number(environ: Mapping[str, str], var: str) -> float | None:
    text = environ.get(var)
    if text is None or not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"expected a number in {var}; found {text!r}") from None


def _prices(environ: Mapping[str, str], info: ModelInfo) -> tuple[float, float] | None:
    price_in = _optional_number(environ, "MLESTAR_LLM_PRICE_IN")
    price_out = _optional_number(environ, "MLESTAR_LLM_PRICE_OUT")
    if price_in is not None or price_out is not None:
        return (price_in or 0.0, price_out or 0.0)
    return info.price
