"""Plain JSON over HTTP with the standard library, for the few calls no SDK makes for us:
Ollama's own API and llama.cpp's /props. Failures come back as ProviderError, classified like
the SDKs' (status, Retry-After, timeouts and dropped connections retryable)."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from mlestar.llm.failures import RETRYABLE_STATUS, ProviderError, parse_retry_after


def request_json(
    method: str,
    url: str,
    body: Mapping[str, Any] | None = None,
    *,
    timeout_s: float,
    headers: Mapping[str, str] | None = None,
    provider: str = "server",
) -> dict[str, Any]:
    data = json.dumps(body).encode("utf-8") if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 (a URL the user chose)
            raw = response.read()
    except urllib.error.HTTPError as e:
        raise _status_error(e, provider) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
        reason = getattr(e, "reason", e)
        what = "timed out" if isinstance(reason, TimeoutError | socket.timeout) else "failed"
        raise ProviderError(
            f"{provider} request {what} ({type(reason).__name__}): {reason}", retryable=True
        ) from None
    try:
        value = json.loads(raw or b"{}")
    except json.JSONDecodeError:
        raise ProviderError(
            f"{provider} sent a body that is not JSON: {raw[:200]!r}", retryable=True
        ) from None
    return value if isinstance(value, dict) else {"value": value}


def _status_error(error: urllib.error.HTTPError, provider: str) -> ProviderError:
    text = error.read().decode("utf-8", "replace")
    try:
        detail = json.loads(text)
        message = detail.get("error", text) if isinstance(detail, dict) else text
    except json.JSONDecodeError:
        message = text
    if isinstance(message, dict):
        message = message.get("message", message)
    return ProviderError(
        f"{provider} answered HTTP {error.code}: {str(message)[:300]}",
        status=error.code,
        retryable=error.code in RETRYABLE_STATUS,
        retry_after=parse_retry_after(dict(error.headers or {})),
    )
