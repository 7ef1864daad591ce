"""The contract gate: scripts that break the harness contract are refused before they run.

Checked on the syntax tree, not by grepping, so comments and docstrings that merely mention a
rule are not punished. Each finding is one line, fed back to the model in the re-ask.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from mlestar import syntax
from mlestar.checks import frozen, leakage, names
from mlestar.contract import FOLDS_FILE, INPUT_DIR, OOF_FILE, OUTPUT_DIR, TEST_PRED_FILE
from mlestar.engineers.base import TaskContext

_EXIT_CALLS = {"exit", "quit", "sys.exit", "os._exit", "os.abort"}
_SHELL_CALLS = re.compile(r"^(os\.(system|popen|exec\w*|spawn\w*)|subprocess\.\w+|pip\.main|sh)$")
_INSTALL_WORDS = re.compile(r"\b(pip3?|conda|mamba|uv|apt(-get)?|poetry)\b.*\b(install|add)\b|\bpip\b")
_NETWORK_MODULES = {
    "requests",
    "urllib.request",
    "urllib3",
    "socket",
    "http.client",
    "ftplib",
    "httpx",
    "kaggle",
    "aiohttp",
}
_MAGIC_LINE = re.compile(r"^\s*[%!]\s*(pip|conda|mamba|uv|apt)\b", re.M)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)
_ALLOWED_ABSOLUTE = ("/dev/null",)


def script_findings(script: str) -> list[str]:
    """Everything that keeps a whole script from running under the contract: the rules it breaks,
    the harness files it never touches (folds read, both prediction files written), and names it
    reads but never defines (a missing import fails at once when run: cheaper to re-ask), and
    what depends on the clock outside the explore guard (its hand-over could not be rebuilt)."""
    return (
        contract_violations(script)
        + missing_harness_files(script)
        + undefined_findings(script)
        + clock_dependent_findings(script)
    )


def clock_dependent_findings(script: str) -> list[str]:
    try:
        syntax.parse(script)
    except SyntaxError:
        return []  # syntax is judged elsewhere, with a better message
    return [
        f"{finding} (the hand-over's refit must repeat the search's result: see the contract's FROZEN rule)"
        for finding in frozen.clock_findings(script)
    ]


def undefined_findings(script: str) -> list[str]:
    return [
        f"line {line}: the name {name!r} is used but never defined or imported"
        for name, line in names.undefined_names(script)
    ]


def missing_harness_files(script: str) -> list[str]:
    """A script that never names the folds file cannot use the harness's folds, and one that
    never names a prediction file cannot write it (names are looked for in code, not comments)."""
    try:
        tree = syntax.parse(script)
    except SyntaxError:
        return []
    docstrings = _docstring_ids(tree)
    texts = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]
    wanted = {
        FOLDS_FILE: f"never reads ./{INPUT_DIR}/{FOLDS_FILE}: use exactly the harness's folds",
        OOF_FILE: f"never writes ./{OUTPUT_DIR}/{OOF_FILE}: save the out-of-fold predictions",
        TEST_PRED_FILE: f"never writes ./{OUTPUT_DIR}/{TEST_PRED_FILE}: save the test predictions",
    }
    return [why for name, why in wanted.items() if not any(name in t for t in texts)]


def contract_violations(script: str) -> list[str]:
    """One line per broken rule; empty when the script may run."""
    findings = [f"installs packages: {m.group(0).strip()!r}" for m in _MAGIC_LINE.finditer(script)]
    try:
        tree = syntax.parse(script)
    except SyntaxError:
        return findings  # syntax is judged elsewhere, with a better message
    docstrings = _docstring_ids(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            findings.extend(_call_findings(node))
        elif isinstance(node, ast.Raise) and _name(getattr(node.exc, "func", node.exc)) == "SystemExit":
            findings.append(f"raises SystemExit at line {node.lineno}: never end the script early")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            findings.extend(_import_findings(node))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            findings.extend(_path_findings(node.value, node.lineno))
    return list(dict.fromkeys(findings))


def _call_findings(node: ast.Call) -> Iterator[str]:
    name = _name(node.func)
    if name in _EXIT_CALLS:
        yield f"calls {name}() at line {node.lineno}: never end the script early"
    if name and _SHELL_CALLS.match(name) and _INSTALL_WORDS.search(" ".join(_strings(node))):
        yield f"installs packages with {name}() at line {node.lineno}: no package installs"


def _import_findings(node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
    if isinstance(node, ast.ImportFrom) and node.module:
        modules += [f"{node.module}.{a.name}" for a in node.names]
    for module in modules:
        if module in _NETWORK_MODULES or module == "pip" or module.startswith("pip."):
            what = "installs packages" if module.split(".")[0] == "pip" else "uses the network"
            yield f"{what}: imports {module} at line {node.lineno}"


def _path_findings(value: str, lineno: int) -> Iterator[str]:
    text = value.strip()
    if _URL.match(text) and not text.startswith("file://"):
        yield f"uses the network: {text[:80]!r} at line {lineno}"
    elif _outside(text):
        yield (
            f"uses a path outside ./{INPUT_DIR}/ and ./{OUTPUT_DIR}/: {text[:80]!r} at line {lineno}; "
            f"read only from ./{INPUT_DIR}/"
        )


def _outside(path: str) -> bool:
    if "\n" in path or " " in path.strip() or len(path) < 2:
        return False
    if path in _ALLOWED_ABSOLUTE:
        return False
    absolute = path.startswith(("/", "~/")) and path.count("/") >= 2 and not path.startswith("//")
    windows = re.match(r"^[A-Za-z]:[\\/]", path) is not None
    parent = path == ".." or path.startswith("../") or "/../" in path or path.endswith("/..")
    return absolute or windows or parent


def _name(node: ast.AST | None) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _name(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    return ""


def _strings(node: ast.AST) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _docstring_ids(tree: ast.Module) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                ids.add(id(value))
    return ids


def leakage_hints(script: str, ctx: TaskContext) -> list[str]:
    """What mlestar.checks.leakage finds in a script, as hints for the model that judges it:
    train-only columns used, fits on held-out rows, answer files read, and input columns that
    alone give the answer away."""
    return leakage.leakage_hints(script, ctx.profile, ctx.spec.train_target_columns, ctx.data_dir)
