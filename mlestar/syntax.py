"""Parsing Python source safely from several threads at once.

CPython 3.11 keeps the AST constructor's recursion depth in state shared by all threads, so two
threads parsing at the same moment can fail with "SystemError: AST constructor recursion depth
mismatch" (python/cpython#106905). Attempts run on a thread pool and every role parses scripts,
so all parsing in mlestar goes through this one lock.
"""

from __future__ import annotations

import ast
import threading

_LOCK = threading.Lock()


def parse(source: str) -> ast.Module:
    """ast.parse, one thread at a time; SyntaxError as usual."""
    with _LOCK:
        return ast.parse(source)
