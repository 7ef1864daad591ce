"""Keep secrets out of the tracking store: every param, tag and text artifact passes through here.

Two nets: values known to be secret (the environment's key-looking variables, read once at the
edge) are replaced wherever they appear, and fields whose *name* looks secret lose their value.
A few well-known key shapes and passwords inside URLs are masked as well.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"

_SECRET_PARTS = frozenset(
    {"apikey", "secret", "token", "password", "passwd", "pwd", "credential", "credentials", "auth"}
    | {"authorization", "bearer", "cookie", "passphrase"}
)
_SECRET_PAIRS = frozenset({("api", "key"), ("private", "key"), ("access", "key"), ("secret", "key")})
_KEY_SHAPES = (
    re.compile(r"sk-[A-Za-z0-9_\-]{16,}"),  # OpenAI / Anthropic style
    re.compile(r"AIza[0-9A-Za-z_\-]{30,}"),  # Google API keys
    re.compile(r"gh[pousr]_[A-Za-z0-9]{20,}"),  # GitHub tokens
    re.compile(r"hf_[A-Za-z0-9]{20,}"),  # Hugging Face tokens
    re.compile(r"xox[abposr]-[A-Za-z0-9\-]{10,}"),  # Slack tokens
)
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)[^/@\s:]+:[^/@\s]+@")
_MIN_SECRET_LEN = 6
"""Shorter environment values are not treated as secrets: masking "1" or "true" would wreck text."""


def looks_secret(name: str) -> bool:
    """True for OPENAI_API_KEY, hf_token, db_password, Authorization, AZURE_OPENAI_KEY; not max_tokens."""
    parts = [p for p in re.split(r"[^a-z0-9]+", name.lower()) if p]
    if any(p in _SECRET_PARTS for p in parts) or any(
        pair in _SECRET_PAIRS for pair in zip(parts, parts[1:], strict=False)
    ):
        return True
    return name.isupper() and bool(parts) and parts[-1] == "key"  # environment style: SERVICE_KEY


def secret_values(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The values of the environment variables whose names look secret (call this at the edge)."""
    found = {v for k, v in environ.items() if looks_secret(k) and len(v) >= _MIN_SECRET_LEN}
    return tuple(sorted(found, key=len, reverse=True))  # longest first: no partial leftovers


class Scrubber:
    """Masks secrets in text and in nested JSON-like values."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = tuple(
            sorted({s for s in secrets if len(s) >= _MIN_SECRET_LEN}, key=len, reverse=True)
        )

    def text(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, MASK)
        for shape in _KEY_SHAPES:
            value = shape.sub(MASK, value)
        return _URL_USERINFO.sub(lambda m: m.group("scheme") + MASK + "@", value)

    def value(self, value: Any, name: str = "") -> Any:
        """A copy of value with secret-named fields masked and every string scrubbed."""
        if name and looks_secret(name) and value not in (None, "", [], {}):
            return MASK
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {str(k): self.value(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._item(v) for v in value]
        return value

    def _item(self, item: Any) -> Any:
        # Pairs such as ("OPENAI_API_KEY", "sk-...") in tuples of (name, value) settings.
        if isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[0], str):
            return [item[0], self.value(item[1], item[0])]
        return self.value(item)
