"""syntax.parse: CPython 3.11's spurious "recursion depth mismatch" is parsed again, nothing else is."""

from __future__ import annotations

import ast

import pytest

from mlestar import syntax

MISMATCH = "AST constructor recursion depth mismatch (before=33, after=50)"


def _flaky(monkeypatch: pytest.MonkeyPatch, failures: int, message: str = MISMATCH) -> list[str]:
    real, calls = ast.parse, []

    def parse(source: str) -> ast.Module:
        calls.append(source)
        if len(calls) <= failures:
            raise SystemError(message)
        return real(source)

    monkeypatch.setattr(ast, "parse", parse)
    return calls


def test_a_spurious_mismatch_is_parsed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _flaky(monkeypatch, failures=1)
    tree = syntax.parse("x = 1")
    assert isinstance(tree.body[0], ast.Assign) and len(calls) == 2


def test_a_mismatch_that_persists_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _flaky(monkeypatch, failures=10)
    with pytest.raises(SystemError, match="recursion depth mismatch"):
        syntax.parse("x = 1")
    assert len(calls) == 3


def test_other_system_errors_are_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _flaky(monkeypatch, failures=1, message="something else")
    with pytest.raises(SystemError, match="something else"):
        syntax.parse("x = 1")
    assert len(calls) == 1
