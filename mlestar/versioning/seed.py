"""Wiring a script's SEED constant to the exported project's params.yaml. Pure functions.

The harness hands every script its seed in the MLESTAR_SEED environment variable; the exported
dvc.yaml does the same with the `seed` param of params.yaml. A script that reads that variable is
wired already. A script whose seed is the literal constant the param holds (`SEED = 42`) gets that
one line rewritten to read the variable, with the same value as its default, so `python
solution.py` alone still reproduces the run. Any other seed line is left alone: rewriting it would
change what the script computes. An environment variable, unlike a file, also reaches the ensemble
members, which run in folders of their own.
"""

from __future__ import annotations

import ast

from mlestar import syntax
from mlestar.contract import ENV_SEED


def choose_seed(scripts: list[str], run_seed: int) -> int:
    """The value of the `seed` param: what the scripts used.

    Scripts that read ENV_SEED got the run's seed from the harness; otherwise, when every literal
    seed agrees, that literal; otherwise the run's seed (and the differing literals stay as they are).
    """
    if any(ENV_SEED in s for s in scripts):
        return run_seed
    literals = {seed for seed in map(script_seed, scripts) if seed is not None}
    return literals.pop() if len(literals) == 1 else run_seed


def wire_seed(script: str, seed: int) -> tuple[str, bool]:
    """(the script, whether it takes its seed from ENV_SEED): `SEED = <seed>` is rewritten."""
    if ENV_SEED in script:
        return script, True
    found = _seed_assignment(script)
    if found is None or found[2] != seed:
        return script, False
    first, last, _ = found
    lines = script.splitlines(keepends=True)
    new = [f'SEED = int(os.environ.get("{ENV_SEED}", "{seed}"))  # `seed` in params.yaml (mlestar export)\n']
    if not _imports_os(script):
        new.insert(0, "import os\n")
    return "".join(lines[:first] + new + lines[last + 1 :]), True


def script_seed(script: str) -> int | None:
    """The literal value of a top-level `SEED = <int>`, if the script has one."""
    found = _seed_assignment(script)
    return found[2] if found else None


def _seed_assignment(script: str) -> tuple[int, int, int | None] | None:
    """(first line index, last line index, literal int or None) of the one top-level SEED = ..."""
    try:
        tree = syntax.parse(script)
    except SyntaxError:
        return None
    found = [
        node
        for node in tree.body
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id == "SEED"
    ]
    if len(found) != 1:
        return None
    node = found[0]
    end = node.end_lineno or node.lineno
    if any(
        other is not node and other.lineno <= end and (other.end_lineno or 0) >= node.lineno
        for other in tree.body
    ):
        return None  # another statement shares its lines (`SEED = 1; X = 2`): leave it alone
    value = node.value
    literal = value.value if isinstance(value, ast.Constant) and type(value.value) is int else None
    return node.lineno - 1, end - 1, literal


def _imports_os(script: str) -> bool:
    tree = syntax.parse(script)
    return any(
        isinstance(node, ast.Import)
        and any(alias.name == "os" and alias.asname is None for alias in node.names)
        for node in tree.body
    )
