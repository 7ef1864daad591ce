"""LLM settings, built once at the CLI edge from `--llm provider:model` and the environment.

Keys come from the environment only and live in a Secret, whose repr and str are masked, so a
settings value can be logged, printed or json-dumped without leaking the key.

    --llm openai:gpt-4o-mini          OPENAI_API_KEY, optional OPENAI_BASE_URL (any compatible server)
    --llm ollama:qwen2.5-coder:7b     OLLAMA_BASE_URL (default http://localhost:11434/v1), no key
    --llm vllm:MODEL / lmstudio:MODEL / llamacpp:MODEL   local servers, like ollama
    --llm openrouter:VENDOR/MODEL     OPENROUTER_API_KEY
    --llm gemini:gemini-2.5-flash     GEMINI_API_KEY or GOOGLE_API_KEY, optional GEMINI_BASE_URL
    --llm anthropic:claude-sonnet-4-0 ANTHROPIC_API_KEY, optional ANTHROPIC_BASE_URL
    --llm replay:RUN_DIR              the recorded replies of an earlier run, no network
Knobs for every provider: MLESTAR_LLM_TIMEOUT (s), MLESTAR_LLM_MAX_OUTPUT_TOKENS,
MLESTAR_LLM_RETRIES, MLESTAR_LLM_TEMPERATURE, MLESTAR_LLM_PRICE_IN / _OUT (USD per 1M tokens).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from mlestar.errors import ConfigError
from mlestar.llm.pricing import known_price

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
    """"openai_compat", "gemini", "anthropic" or "replay"."""
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
    "ollama": _Provider(
        "openai_compat", ("OLLAMA_API_KEY",), "OLLAMA_BASE_URL", "http://localhost:11434/v1", False, True
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
    retries: int = 3
    """Retries after the first try, on 429, 5xx, timeouts and dropped connections."""
    temperature: float | None = None
    """None: each role's own default."""
    prices: tuple[float, float] | None = None
    """USD per million (input, output) tokens; None when unknown."""
    roles: tuple[tuple[str, LLMSettings], ...] = ()
    """Per-role overrides (a cheaper model for summaries and checks)."""

    @property
    def spec(self) -> str:
        return f"{self.provider}:{self.model}"

    @property
    def local(self) -> bool:
        return PROVIDERS[self.provider].local

    def for_role(self, role: str) -> LLMSettings:
        return dict(self.roles).get(role, self)

    def output_cap(self, requested: int | None) -> int:
        return self.max_output_tokens if requested is None else min(requested, self.max_output_tokens)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str],
        spec: str,
        role_specs: Iterable[tuple[str, str]] | Mapping[str, str] = (),
    ) -> LLMSettings:
        """Settings for `--llm spec` (and `--llm-role role=spec`), reading keys from environ."""
        main = _one(environ, spec)
        pairs = role_specs.items() if isinstance(role_specs, Mapping) else role_specs
        roles = []
        for role, role_spec in pairs:
            if role not in ROLES:
                raise ConfigError(f"expected a role among {', '.join(ROLES)}; found {role!r}")
            roles.append((role, _one(environ, _qualify(role_spec, main))))
        return replace(main, roles=tuple(roles))


def _qualify(role_spec: str, main: LLMSettings) -> str:
    """A role spec may name just a model ("gpt-4o-mini"): it then uses the main provider."""
    prefix = role_spec.split(":", 1)[0]
    return role_spec if prefix in PROVIDERS else f"{main.provider}:{role_spec}"


def _one(environ: Mapping[str, str], spec: str) -> LLMSettings:
    provider_name, _, model = spec.partition(":")
    provider = PROVIDERS.get(provider_name.strip().lower())
    if provider is None or not model.strip():
        raise ConfigError(
            f"expected --llm PROVIDER:MODEL with PROVIDER one of {', '.join(PROVIDERS)}; found {spec!r}"
        )
    name = provider_name.strip().lower()
    base_url = (environ.get(provider.base_var) if provider.base_var else None) or provider.default_base
    key = _key(environ, name, provider, base_url)
    return LLMSettings(
        provider=name,
        model=model.strip(),
        api=provider.api,
        base_url=base_url or None,
        api_key=key,
        timeout_s=_number(environ, "MLESTAR_LLM_TIMEOUT", 180.0),
        max_output_tokens=int(_number(environ, "MLESTAR_LLM_MAX_OUTPUT_TOKENS", 8192)),
        retries=int(_number(environ, "MLESTAR_LLM_RETRIES", 3, minimum=0)),
        temperature=_optional_number(environ, "MLESTAR_LLM_TEMPERATURE"),
        prices=_prices(environ, model.strip(), provider),
    )


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


def _prices(environ: Mapping[str, str], model: str, provider: _Provider) -> tuple[float, float] | None:
    price_in = _optional_number(environ, "MLESTAR_LLM_PRICE_IN")
    price_out = _optional_number(environ, "MLESTAR_LLM_PRICE_OUT")
    if price_in is not None or price_out is not None:
        return (price_in or 0.0, price_out or 0.0)
    if provider.local:
        return (0.0, 0.0)
    return known_price(model)
