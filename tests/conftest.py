"""Shared test configuration.

LLM provider guard: no test can reach a real language-model provider. Every test runs with the
provider keys removed and every provider base URL pointed at a dead loopback port, so an SDK that
is not explicitly pointed at a local test server fails fast with a connection error. Tests of the
LLM modules also use `loopback_only`, which refuses any socket connection or name lookup that is
not loopback, in this process.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from mlestar.execution.local import LocalExecutor
from tests.scheduling import make_scheduler, order_long_first

_PROVIDER_KEYS = (
    "OPENAI_API_KEY",
    "OPENAI_ADMIN_KEY",
    "OPENROUTER_API_KEY",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "OLLAMA_API_KEY",
    "VLLM_API_KEY",
)
_DEAD_END = "http://127.0.0.1:9"
"""The discard port: nothing listens there, so a stray request is refused at once."""
_PROVIDER_BASES = {
    "OPENAI_BASE_URL": _DEAD_END + "/v1",
    "OPENROUTER_BASE_URL": _DEAD_END + "/v1",
    "OLLAMA_BASE_URL": _DEAD_END + "/v1",
    "VLLM_BASE_URL": _DEAD_END + "/v1",
    "LMSTUDIO_BASE_URL": _DEAD_END + "/v1",
    "LLAMACPP_BASE_URL": _DEAD_END + "/v1",
    "ANTHROPIC_BASE_URL": _DEAD_END,
    "GEMINI_BASE_URL": _DEAD_END,
    "GOOGLE_GEMINI_BASE_URL": _DEAD_END,
    "GOOGLE_VERTEX_BASE_URL": _DEAD_END,
}


@pytest.fixture(autouse=True)
def _no_real_llm_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    no_real_llm_providers(monkeypatch)


def no_real_llm_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove provider keys and point every provider base URL at a dead loopback port."""
    for key in _PROVIDER_KEYS:
        monkeypatch.delenv(key, raising=False)
    for var, url in _PROVIDER_BASES.items():
        monkeypatch.setenv(var, url)
    monkeypatch.setenv("GOOGLE_GENAI_USE_VERTEXAI", "false")


def _is_loopback(host: Any) -> bool:
    if not isinstance(host, str):
        return False
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    guard_loopback(monkeypatch)
    yield


def guard_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse, in this process, every connection and name lookup that is not loopback."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            raise ConnectionRefusedError(f"test guard: {address!r} is not loopback")

    def connect(sock: socket.socket, address: Any) -> None:
        check(sock, address)
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        check(sock, address)
        return real_connect_ex(sock, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and not _is_loopback(name):
            raise socket.gaierror(f"test guard: {name!r} is not loopback")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(autouse=True, scope="session")
def _journal_lines_not_forced_to_disk() -> Iterator[None]:
    """os.fsync does nothing in the test processes. The journal fsyncs each durable record (a few
    milliseconds each on this machine's disk, thousands per suite), which only an operating-system crash
    could tell from a flush: no test can observe it, and what is journaled is read back all the same.
    test_progress.py still checks which records the journal syncs (with its own os.fsync)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fsync", lambda fd: None)
        yield


@pytest.fixture(scope="session")
def script_executor() -> Iterator[LocalExecutor]:
    """One fork server per test process with the harness's libraries imported, for tests that run
    generated scripts: a script forked from it starts as in a run, without seconds of imports."""
    with LocalExecutor() as executor:
        yield executor


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    order_long_first(items)


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: only called when it is installed
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """`-n N` (pytest-xdist's `load`) shares the tests out as tests/scheduling.py says."""
    if config.getvalue("dist") != "load":
        return None  # another --dist was asked for: pytest-xdist's own
    return make_scheduler(config, log)
