"""Parsing Python source safely from several threads at once.

CPython 3.11 keeps the AST constructor's recursion depth in state shared by all threads, so two
threads parsing at the same moment can fail with "SystemError: AST constructor recursion depth
mismatch" (python/cpython#106905). Attempts run on a thread pool and every role parses scripts,
so all parsing in mlestar goes through this one lock.
"""

from __future__ import annotations

import ast
import hashlib
import threading

_LOCK = threading.Lock()
_TRIES = 3


def parse(source: str) -> ast.Module:
    """ast.parse, one thread at a time; SyntaxError as usual. Libraries parse too, outside this
    lock (a run died of their parse meeting a script's), so the spurious mismatch is parsed again."""
    with _LOCK:
        for _ in range(_TRIES - 1):
            try:
                return ast.parse(source)
            except SystemError as e:
                if "recursion depth mismatch" not in str(e):
                    raise
        return ast.parse(source)


def behaviour_digest(source: str) -> str:
    """A digest that ignores what cannot change what a script does: comments, docstrings and
    layout. Two scripts with the same digest run the same code. Unparsable source: its text's."""
    try:
        tree = parse(source)
    except SyntaxError:
        return hashlib.sha256(source.encode()).hexdigest()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            node.body = [s for s in body if not _bare_string(s)] or [ast.Pass()]  # type: ignore[attr-defined]
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()


def _bare_string(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )
