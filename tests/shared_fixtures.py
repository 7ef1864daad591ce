"""Which tests of a module need which of its shared (module-, class- or package-scoped) fixtures,
read from the module's source (the xdist controller collects nothing, so it cannot ask pytest).

A shared fixture is built again on every worker that runs a test needing it, so the tests that need
it must run on one worker. A test needing none of them is free to run anywhere. Shared fixtures
needed together (by one test, or one built from another) form one group. Whenever the source does
not say plainly what a test needs (a shared fixture used automatically, by name in a mark, through
`request.getfixturevalue`, or a test not found), the whole module is one group, as before.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_SHARED_SCOPES = frozenset({"module", "class", "package", "session"})
WHOLE_MODULE = "*"
"""The group of every test of a module whose needs cannot be read from its source."""


@dataclass(frozen=True)
class _Fixture:
    name: str
    args: tuple[str, ...]
    shared: bool
    autouse: bool


@dataclass(frozen=True)
class ModuleNeeds:
    """A module's tests (by function name) and the group of shared fixtures each needs ("" for none)."""

    groups: dict[str, str]
    whole: bool
    """True when every test must run on one worker (see the module docstring)."""
    has_shared: bool = True

    def group_of(self, test_name: str) -> str:
        if not self.has_shared:
            return ""
        if self.whole or test_name not in self.groups:
            return WHOLE_MODULE
        return self.groups[test_name]


@cache
def module_needs(path: str) -> ModuleNeeds:
    try:
        tree = ast.parse(Path(path).read_text())
    except (OSError, SyntaxError):  # not a file of ours: every test its own unit, as pytest-xdist does
        return ModuleNeeds({}, whole=False, has_shared=False)
    fixtures = {f.name: f for f in _fixtures(tree)}
    tests = _tests(tree)
    shared = {name for name, f in fixtures.items() if f.shared}
    if not shared:
        return ModuleNeeds({}, whole=False, has_shared=False)
    if any(fixtures[n].autouse for n in shared) or _named_elsewhere(tree, shared):
        return ModuleNeeds({}, whole=True)
    needs = {test: _shared_closure(args, fixtures) for test, args in tests.items()}
    return ModuleNeeds(_groups(needs, fixtures), whole=False)


def _fixtures(tree: ast.Module) -> list[_Fixture]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                if _is_fixture(deco):
                    found.append(_fixture(node, deco))
    return found


def _is_fixture(deco: ast.expr) -> bool:
    target = deco.func if isinstance(deco, ast.Call) else deco
    return (isinstance(target, ast.Attribute) and target.attr == "fixture") or (
        isinstance(target, ast.Name) and target.id == "fixture"
    )


def _fixture(node: ast.FunctionDef, deco: ast.expr) -> _Fixture:
    options = {k.arg: k.value for k in deco.keywords} if isinstance(deco, ast.Call) else {}
    scope, name, autouse = options.get("scope"), options.get("name"), options.get("autouse")
    return _Fixture(
        name=name.value if isinstance(name, ast.Constant) else node.name,
        args=tuple(a.arg for a in node.args.args),
        # A scope that is not a plain string (a callable) is treated as shared.
        shared=scope is not None and (not isinstance(scope, ast.Constant) or scope.value in _SHARED_SCOPES),
        autouse=isinstance(autouse, ast.Constant) and bool(autouse.value),
    )


def _tests(tree: ast.Module) -> dict[str, tuple[str, ...]]:
    return {
        node.name: tuple(a.arg for a in node.args.args)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test")
    }


def _named_elsewhere(tree: ast.Module, shared: set[str]) -> bool:
    """A shared fixture named as a string (usefixtures, indirect parametrization), or any fixture
    looked up by name at run time: what a test needs is then not in its signature."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "getfixturevalue":
            return True
        if isinstance(node, ast.Call) and _names_fixtures(node) and shared & _strings(node):
            return True
    return False


def _names_fixtures(call: ast.Call) -> bool:
    usefixtures = isinstance(call.func, ast.Attribute) and call.func.attr == "usefixtures"
    return usefixtures or any(k.arg == "indirect" for k in call.keywords)


def _strings(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def _shared_closure(args: tuple[str, ...], fixtures: dict[str, _Fixture]) -> frozenset[str]:
    """The shared fixtures of this module that these arguments need, directly or through others."""
    seen: set[str] = set()
    stack = [a for a in args if a in fixtures]
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(a for a in fixtures[name].args if a in fixtures)
    return frozenset(n for n in seen if fixtures[n].shared)


def _groups(needs: dict[str, frozenset[str]], fixtures: dict[str, _Fixture]) -> dict[str, str]:
    """Each test's group: the shared fixtures it needs joined with every one needed alongside them."""
    parent = {n: n for n in fixtures if fixtures[n].shared}

    def root(name: str) -> str:
        while parent[name] != name:
            name = parent[name]
        return name

    for together in [*needs.values(), *(_shared_closure((n,), fixtures) for n in parent)]:
        names = sorted(together)
        for other in names[1:]:
            parent[root(other)] = root(names[0])
    return {
        test: "+".join(sorted({n for n in parent if root(n) == root(next(iter(need)))})) if need else ""
        for test, need in needs.items()
    }
