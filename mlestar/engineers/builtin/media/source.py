"""The kit's source, copied into scripts: the top-level definitions a block needs (and what they
use, transitively), with the imports they use. The kit modules are ordinary, tested Python; a
script carries the same text, so it runs with no mlestar installed."""

from __future__ import annotations

import ast
import functools
import sys
from dataclasses import dataclass
from pathlib import Path

from mlestar import syntax

KIT = Path(__file__).parent / "kit"
MODULES = (
    "documents",
    "rowfiles",
    "images",
    "audio",
    "pixels",
    "masks",
    "volumes",
    "arrays",
    "tables",
    "boxes",
    "edit_distance",
    "nearest",
)
"""Kit modules in the order their definitions appear in a script."""
SHARED = {"documents": "mlestar.task.documents", "edit_distance": "mlestar.metrics.edit_distance"}
"""Modules intake shares with the kit (standard library only, importing nothing from mlestar):
copied from their own place, and a kit module's import of them is left out of the script."""
HEADER_NAMES = frozenset({"np", "pd", "Path", "Any", "os", "time", "copy"})
"""Names every built-in script's header imports: never imported again in a block."""


@dataclass(frozen=True)
class Definition:
    name: str
    module: str
    order: int
    text: str
    uses: frozenset[str]


@dataclass(frozen=True)
class Snippet:
    imports: tuple[str, ...]
    code: str


def snippet(roots: tuple[str, ...], provided: frozenset[str] = frozenset()) -> Snippet:
    """The definitions named in roots and everything they use, except names in `provided` (the
    block's own constants and the header's), in kit order, with the imports that code needs."""
    defined, imports = _kit()
    wanted: set[str] = set()
    todo = [r for r in roots if r not in provided]
    while todo:
        name = todo.pop()
        if name in wanted or name in provided:
            continue
        if name not in defined:
            raise KeyError(f"the media kit defines no {name!r}")
        wanted.add(name)
        todo += [u for u in defined[name].uses if u in defined and u not in wanted]
    chosen = sorted({defined[n] for n in wanted}, key=lambda d: (MODULES.index(d.module), d.order))
    texts = list(dict.fromkeys(d.text for d in chosen))
    used = set().union(*(d.uses for d in chosen)) if chosen else set()
    needed = [line for name, line in imports.items() if name in used and name not in HEADER_NAMES]
    return Snippet(merged_imports(needed), "\n\n\n".join(texts) + "\n")


def merged_imports(lines: list[str]) -> tuple[str, ...]:
    """One line per module ("from a import b, c"), in import order."""
    plain = {line for line in lines if line.startswith("import ")}
    names: dict[str, list[str]] = {}
    for line in lines:
        if line.startswith("from "):
            module, _, name = line[len("from ") :].partition(" import ")
            names.setdefault(module, []).append(name)
    merged = plain | {f"from {m} import {', '.join(sorted(set(n)))}" for m, n in names.items()}
    return tuple(sorted(merged, key=import_order))


def import_order(line: str) -> tuple[bool, bool, str]:
    """Standard library first, then third-party; plain imports before from-imports, by module."""
    module = line.split()[1].split(".")[0]
    return (module not in sys.stdlib_module_names, line.startswith("from "), line.split()[1])


@functools.cache
def _kit() -> tuple[dict[str, Definition], dict[str, str]]:
    defined: dict[str, Definition] = {}
    imports: dict[str, str] = {}
    for module in MODULES:
        path = _module_path(module)
        if path.is_file():
            _read_module(module, path.read_text(), defined, imports)
    return defined, imports


def _module_path(module: str) -> Path:
    if module in SHARED:
        return Path(__file__).parents[3].joinpath(*SHARED[module].split(".")[1:]).with_suffix(".py")
    return KIT / f"{module}.py"


def _read_module(module: str, source: str, defined: dict[str, Definition], imports: dict[str, str]) -> None:
    tree = syntax.parse(source)
    lines = source.splitlines()
    body = tree.body
    for i, node in enumerate(body):
        if isinstance(node, ast.Import | ast.ImportFrom):
            _read_import(node, imports)
            continue
        names = _bound(node)
        if not names:
            continue
        end = node.end_lineno or node.lineno
        nxt = body[i + 1] if i + 1 < len(body) else None
        if (
            nxt is not None
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
            and isinstance(nxt.value.value, str)
        ):
            end = nxt.end_lineno or end  # an attribute docstring stays with its constant
        start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        text = "\n".join(lines[start - 1 : end])
        uses = frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name)) - set(names)
        for name in names:
            defined[name] = Definition(name, module, node.lineno, text, uses)


def defined_names(code: str) -> frozenset[str]:
    """The top-level names a block's code defines (kit code it already holds is not copied again)."""
    return frozenset(name for node in syntax.parse(code).body for name in _bound(node))


def _bound(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.FunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def _read_import(node: ast.Import | ast.ImportFrom, imports: dict[str, str]) -> None:
    if isinstance(node, ast.ImportFrom):
        if node.level or node.module == "__future__" or node.module in SHARED.values():
            return  # kit modules importing each other: one namespace in the script
        for alias in node.names:
            name = alias.asname or alias.name
            text = f"from {node.module} import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
            imports[name] = text
        return
    for alias in node.names:
        name = alias.asname or alias.name.split(".")[0]
        imports[name] = f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
