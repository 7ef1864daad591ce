"""Names a script reads but never defines: the mistakes small models make most (a missing
`import pandas as pd`, `Any` used without its import), found before the script runs.

Deliberately coarse, so it never refuses a sound script: a name counts as defined when it is bound
anywhere in the module (assignment, def, class, import, argument, loop or comprehension target,
`global`), or is a builtin. A script with a star import or a call to `globals()`, `locals()`,
`vars()`, `exec` or `eval` is not judged at all.
"""

from __future__ import annotations

import ast
import builtins

from mlestar import syntax

_DYNAMIC = {"globals", "locals", "vars", "exec", "eval", "__import__"}
_IMPLICIT = {
    "__name__",
    "__file__",
    "__doc__",
    "__builtins__",
    "__spec__",
    "__loader__",
    "__package__",
    "__annotations__",
    "__dict__",
    "__class__",
}


def undefined_names(script: str) -> list[tuple[str, int]]:
    """(name, first line read) for every name read but bound nowhere; [] when unparsable or dynamic."""
    try:
        tree = syntax.parse(script)
    except SyntaxError:
        return []
    bound, read, dynamic = _scan(tree)
    if dynamic:
        return []
    known = bound | set(dir(builtins)) | _IMPLICIT
    return sorted(((name, line) for name, line in read.items() if name not in known), key=lambda p: p[1])


def _scan(tree: ast.Module) -> tuple[set[str], dict[str, int], bool]:
    bound: set[str] = set()
    read: dict[str, int] = {}
    dynamic = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                read.setdefault(node.id, node.lineno)
                dynamic |= node.id in _DYNAMIC
            else:
                bound.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    dynamic = True
                bound.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            bound.update(node.names)
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
    return bound, read, dynamic
