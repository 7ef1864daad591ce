"""How a model call fails, in three kinds the wrappers act on.

LLMError (mlestar.errors)
├── ProviderError     the provider answered with an error or not at all; `retryable` says
│                     whether retry.py should try again (429, 5xx, timeouts, dropped connections)
├── BudgetExhausted   --max-cost / --max-tokens is spent: model use stops, the fallback covers
└── ReplayMiss        replay has no recorded reply for this request
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

from mlestar.errors import LLMError

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})


class ProviderError(LLMError):
    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


class BudgetExhausted(LLMError):
    """The run's model budget is spent."""


class ReplayMiss(LLMError):
    """A replayed run asked for something the recording does not hold."""


def from_sdk_exception(exc: BaseException, provider: str) -> ProviderError:
    """Classify any SDK's exception by what the SDKs share: a status code, response headers,
    and timeout / connection error class names."""
    status = _status_of(exc)
    kind = type(exc).__name__
    if status is not None:
        headers = getattr(getattr(exc, "response", None), "headers", None) or {}
        wait = parse_retry_after(headers)
        return ProviderError(
            f"{provider} answered HTTP {status}: {_short(exc)}",
            status=status,
            retryable=status in RETRYABLE_STATUS,
            retry_after=wait if wait is not None else retry_delay_in_body(getattr(exc, "details", None)),
        )
    transient = any(
        word in kind for word in ("Timeout", "Connection", "Connect", "Network", "Protocol", "Decode")
    )
    what = "timed out" if "Timeout" in kind else "failed"
    return ProviderError(f"{provider} request {what} ({kind}): {_short(exc)}", retryable=transient)


def _status_of(exc: BaseException) -> int | None:
    for attr in ("status_code", "code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value <= 599:
            return value
    return None


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def retry_delay_in_body(details: object) -> float | None:
    """Google APIs say how long to wait in the error body: details[].retryDelay = "2s"."""
    error = details.get("error", details) if isinstance(details, dict) else None
    for item in (error or {}).get("details", []) if isinstance(error, dict) else []:
        delay = item.get("retryDelay") if isinstance(item, dict) else None
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return max(0.0, float(delay[:-1]))
            except ValueError:
                return None
    return None


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from Retry-After (seconds or an HTTP date) or retry-after-ms; None if absent."""
    lowered = {str(k).lower(): str(v) for k, v in dict(headers).items()}
    if "retry-after-ms" in lowered:
        try:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
