"""The start-up check: every model a run uses answers at its URL, with its key, under its name,
with a context window mlestar can work in. Run before the search (`mlestar run --llm ...`) and
alone (`mlestar run TASK --llm ... --llm-check`).

A wrong name, key or URL would otherwise turn the whole run into a built-in run, one failed
role at a time. Here it stops the command with a message saying what was expected, what was
found and which setting fixes it. What the servers say (the context window they give, a
refused temperature) goes back into the settings the run uses.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from mlestar.errors import ConfigError
from mlestar.llm.client import LLMClient, Message, Probe
from mlestar.llm.failures import ProviderError
from mlestar.llm.retry import RetryingClient, RetryPolicy
from mlestar.llm.settings import PROVIDERS, LLMSettings

MIN_CONTEXT_TOKENS = 4096
"""The smallest window mlestar works in (the smallest prompts and a draft's answer)."""
PING = [
    Message("system", "Your role: check. mlestar checks that the model answers before a run."),
    Message("user", "Reply with the single word OK."),
]
_RAISE_CONTEXT = {
    "ollama": "set context_window for it in a --llm-models file (mlestar sends it as num_ctx)",
    "vllm": "start vllm with a larger --max-model-len",
    "llamacpp": "start llama-server with a larger -c",
    "lmstudio": "load the model with a larger context length",
}


@dataclass(frozen=True)
class CheckResult:
    spec: str
    url: str
    seconds: float
    context_window: int | None
    context_from: str
    """"server" (what it said), "settings" (models.yaml or the user's file) or "unknown"."""
    accepts_temperature: bool
    answer: str

    def line(self) -> str:
        window = f"{self.context_window} tokens ({self.context_from})" if self.context_window else "unknown"
        temperature = "accepted" if self.accepts_temperature else "refused (none is sent)"
        return (
            f"{self.spec} at {self.url}: answered in {self.seconds:.1f} s ({self.answer[:40]!r}); "
            f"context window {window}; temperature {temperature}"
        )


def check_models(
    settings: LLMSettings, client_for: Callable[[LLMSettings], LLMClient] | None = None
) -> tuple[LLMSettings, list[CheckResult]]:
    """Check the main model and every role's; the settings come back with what servers said.
    Raises ConfigError on the first model that fails."""
    if client_for is None:
        from mlestar.llm.factory import provider_client

        client_for = provider_client
    checked: dict[tuple[str, str | None], tuple[LLMSettings, CheckResult]] = {}
    for one in settings.distinct():
        checked[(one.spec, one.base_url)] = check_one(one, client_for(one))
    main, _ = checked[(settings.spec, settings.base_url)]
    roles = tuple((role, checked[(s.spec, s.base_url)][0]) for role, s in settings.roles)
    return replace(main, roles=roles), [result for _, result in checked.values()]


def check_one(settings: LLMSettings, client: LLMClient) -> tuple[LLMSettings, CheckResult]:
    url = settings.base_url or "the provider's default address"
    probe = _probe(settings, client, url)
    if probe.models is not None and not _served(settings.model, probe.models):
        listed = ", ".join(probe.models[:15]) or "none"
        pull = f" (pull it: ollama pull {settings.model})" if settings.api == "ollama" else ""
        raise ConfigError(
            f"expected the model {settings.model!r} among those served at {url}{pull} "
            f"(the MODEL of --llm {settings.provider}:MODEL); found {listed}"
        )
    window, source = _window(settings, probe)
    if window is not None and window < MIN_CONTEXT_TOKENS:
        how = _RAISE_CONTEXT.get(settings.provider, "give the model a larger context window")
        raise ConfigError(
            f"expected a context window of at least {MIN_CONTEXT_TOKENS} tokens for {settings.spec}; "
            f"found {window} ({source}): {how}"
        )
    started = time.monotonic()
    pinger = RetryingClient(client, RetryPolicy(attempts=2, base_delay_s=2.0))
    try:
        reply = pinger.complete(PING, role="check", max_tokens=16, temperature=0.0)
    except ProviderError as error:
        raise _explained(settings, url, error) from None
    temperature = settings.accepts_temperature and getattr(client, "sends_temperature", True)
    result = CheckResult(
        settings.spec, url, time.monotonic() - started, window, source, temperature, reply.text.strip()
    )
    return replace(settings, context_window=window, accepts_temperature=temperature), result


def _probe(settings: LLMSettings, client: LLMClient, url: str) -> Probe:
    probe = getattr(client, "probe", None)
    if probe is None:
        return Probe(None, None)
    try:
        found = probe()
    except ProviderError as error:
        raise _explained(settings, url, error) from None
    return found if isinstance(found, Probe) else Probe(None, None)


def _served(model: str, served: tuple[str, ...]) -> bool:
    names = {s.lower() for s in served}
    return model.lower() in names or f"{model.lower()}:latest" in names or f"models/{model.lower()}" in names


def _window(settings: LLMSettings, probe: Probe) -> tuple[int | None, str]:
    """The window the run will use. Ollama takes what mlestar asks for (num_ctx), up to what the
    model was trained for; other servers say what they give, and that is what counts."""
    said, configured = probe.context_window, settings.context_window
    if settings.api == "ollama":
        if said and configured and said < configured:
            return said, "server: the model's own limit"
        return configured, "settings"
    if said:
        return said, "server"
    return configured, "settings" if configured else "unknown"


def _explained(settings: LLMSettings, url: str, error: ProviderError) -> ConfigError:
    provider = PROVIDERS[settings.provider]
    keys = " or ".join(provider.key_vars) or "no key variable"
    where = provider.base_var or "its base URL"
    if error.status in (401, 403):
        return ConfigError(
            f"expected a key that {url} accepts for {settings.spec} (set {keys}); found {error}"
        )
    if error.status == 404:
        return ConfigError(
            f"expected the model {settings.model!r} to exist at {url} (check the MODEL of --llm, or "
            f"{where}); found {error}"
        )
    if error.status is None:
        return ConfigError(
            f"expected a server answering at {url} for {settings.spec} (set {where}); found {error}"
        )
    return ConfigError(f"expected {settings.spec} at {url} to answer a one-word request; found {error}")
