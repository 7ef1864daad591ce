"""Freezing what a script's search found, so the kept script never searches again.

A script that searches its settings carries a top-level `FROZEN = None` and, in explore mode,
writes what it found to output/frozen.json (mlestar/contract.py). After such an attempt works,
the line is rewritten as `FROZEN = {...}` in the attempt's own solution.py, which is the script
every later step reads: refinements, the final fit, solution.py and the export. The script as it
ran is kept beside it as solution.explore.py. An attempt the harness repeats on several splits
searches on the first only; the others run the script with what it found (frozen_by_first_run).
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlestar import syntax
from mlestar.contract import FROZEN, FROZEN_FILE, OUTPUT_DIR
from mlestar.journal import Journal, Node
from mlestar.journal.events import SettingsFrozen
from mlestar.run_layout import RunLayout

EXPLORED_SCRIPT = "solution.explore.py"
"""The script as it ran in explore mode, kept next to the frozen solution.py."""
_ONE_LINE = 80
FROZEN_NOTE = "# what this script's search found, frozen by mlestar: it searches no more"


class FreezeError(ValueError):
    """The settings cannot be written as the script's FROZEN literal."""


def unfrozen_span(script: str) -> tuple[int, int] | None:
    """(first, last) 0-based line of the one top-level `FROZEN = None`, if the script has it."""
    try:
        tree = syntax.parse(script)
    except SyntaxError:
        return None
    found = [s for s in tree.body if _is_unfrozen(s)]
    if len(found) != 1:
        return None
    return found[0].lineno - 1, (found[0].end_lineno or found[0].lineno) - 1


def _is_unfrozen(s: ast.stmt) -> bool:
    """`FROZEN = None` (or `FROZEN: ... = None`)."""
    if isinstance(s, ast.Assign) and len(s.targets) == 1:
        target = s.targets[0]
    elif isinstance(s, ast.AnnAssign):
        target = s.target
    else:
        return False
    none = isinstance(s.value, ast.Constant) and s.value.value is None
    return isinstance(target, ast.Name) and target.id == FROZEN and none


def frozen_literal(settings: Mapping[str, Any]) -> str:
    """`FROZEN = {...}` as Python text: one line when short, else one key per line."""
    _check_settings(settings)
    one = f"{FROZEN} = {dict(settings)!r}"
    if len(one) <= _ONE_LINE:
        return one
    items = "".join(f"    {key!r}: {value!r},\n" for key, value in settings.items())
    return f"{FROZEN} = {{\n{items}}}"


def freeze_script(script: str, settings: Mapping[str, Any]) -> str:
    """The script with its `FROZEN = None` line replaced by the settings (a pure text function).
    FreezeError when the script has no such line or the settings are not a JSON object of
    finite values."""
    span = unfrozen_span(script)
    if span is None:
        raise FreezeError(f'expected one top-level line "{FROZEN} = None" in the script, found none')
    first, last = span
    lines = script.splitlines(keepends=True)
    text = frozen_literal(settings) + f"  {FROZEN_NOTE}\n"
    return "".join([*lines[:first], text, *lines[last + 1 :]])


def _check_settings(settings: Mapping[str, Any]) -> None:
    if not isinstance(settings, Mapping) or not all(isinstance(k, str) for k in settings):
        raise FreezeError(f"expected {FROZEN_FILE} to hold a JSON object, found {type(settings).__name__}")
    bad = [k for k, v in settings.items() if not _finite(v)]
    if bad:
        raise FreezeError(f"expected finite values in {FROZEN_FILE}, found NaN or infinity in {bad}")


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return True


def frozen_by_first_run(script: str, output_dir: Path) -> str:
    """The script with what its first run's search found (output_dir/frozen.json) frozen in: what
    the harness runs on a search attempt's further splits, so that every split scores the settings
    the attempt keeps and no repeat searches again in a time box the machine's speed shortens.
    The script as it is when it searched nothing, or what it found cannot be frozen."""
    found = output_dir / FROZEN_FILE
    if unfrozen_span(script) is None or not found.exists():
        return script
    try:
        return freeze_script(script, json.loads(found.read_text()))
    except (json.JSONDecodeError, FreezeError):
        return script


@dataclass(frozen=True)
class Freezing:
    """What freezing one attempt did: the settings written, or why none could be."""

    node: str
    settings: dict[str, Any] | None
    problem: str | None = None


def freeze_attempt(layout: RunLayout, node: Node) -> Freezing | None:
    """Freeze a working attempt's script in place; None when there is nothing to freeze (no
    `FROZEN = None` line, or no frozen.json: the script searched nothing). Safe to repeat."""
    if node.code_path is None:
        return None
    path = layout.root / node.code_path
    script = path.read_text()
    found = path.parent / OUTPUT_DIR / FROZEN_FILE
    if unfrozen_span(script) is None or not found.exists():
        return None
    try:
        settings = json.loads(found.read_text())
        frozen = freeze_script(script, settings)
    except (json.JSONDecodeError, FreezeError) as e:
        return Freezing(node.id, None, f"{FROZEN_FILE} of {node.id} cannot be frozen: {e}")
    (path.parent / EXPLORED_SCRIPT).write_text(script)
    path.write_text(frozen)
    return Freezing(node.id, settings)


def freeze_and_journal(layout: RunLayout, journal: Journal, node: Node) -> Freezing | None:
    """freeze_attempt, journaled as a settings_frozen event (settings, or the problem)."""
    done = freeze_attempt(layout, node)
    if done is not None:
        journal.record(SettingsFrozen(node=done.node, settings=done.settings, problem=done.problem))
    return done
