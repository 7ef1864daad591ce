"""Named code blocks of a solution script: find, list, replace, validate. Pure functions.

A script is a header (docstring, imports, constants) followed by blocks. A block opens with a
line "# %% block: <name>" and runs to the next marker or the end of the script.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlestar import syntax
from mlestar.contract import BLOCK_MARKER

_MARKER = re.compile(r"^" + re.escape(BLOCK_MARKER) + r"(?P<name>[A-Za-z_][\w\-]*)\s*$", re.MULTILINE)


class BlockError(ValueError):
    """A block could not be found or replaced without breaking the script."""


@dataclass(frozen=True)
class Block:
    name: str
    start: int
    """Offset of the marker line."""
    body_start: int
    end: int

    def body(self, script: str) -> str:
        return script[self.body_start : self.end]


def parse_blocks(script: str) -> list[Block]:
    matches = list(_MARKER.finditer(script))
    blocks = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(script)
        body_start = min(m.end() + 1, len(script))
        blocks.append(Block(m.group("name"), m.start(), body_start, end))
    return blocks


def block_names(script: str) -> list[str]:
    return [b.name for b in parse_blocks(script)]


def get_block(script: str, name: str) -> str:
    return _find(script, name).body(script)


def _find(script: str, name: str) -> Block:
    found = [b for b in parse_blocks(script) if b.name == name]
    if not found:
        raise BlockError(f"no block named {name!r}; the script has {block_names(script)}")
    if len(found) > 1:
        raise BlockError(f"block {name!r} appears {len(found)} times; expected exactly once")
    return found[0]


def replace_block(script: str, name: str, new_body: str) -> str:
    """The script with exactly one block's body replaced; raises BlockError if that breaks it."""
    block = _find(script, name)
    body = _strip_marker(new_body, name).rstrip("\n") + "\n\n\n"
    if block.end == len(script):
        body = body.rstrip("\n") + "\n"
    result = script[: block.body_start] + body + script[block.end :]
    validate(result, expected=block_names(script))
    return result


def _strip_marker(body: str, name: str) -> str:
    """Engineers sometimes repeat the block's own marker line; drop it, refuse any other."""
    lines = body.strip("\n").splitlines()
    if lines and lines[0].strip() == (BLOCK_MARKER + name).strip():
        lines = lines[1:]
    text = "\n".join(lines)
    if _MARKER.search(text):
        raise BlockError(f"the new code of block {name!r} contains another block marker")
    return text


def validate(script: str, expected: list[str] | None = None) -> None:
    """Raise BlockError unless the script parses and has the expected blocks in order."""
    try:
        syntax.parse(script)
    except SyntaxError as e:
        raise BlockError(f"the script does not parse: {e.msg} at line {e.lineno}") from e
    names = block_names(script)
    if len(set(names)) != len(names):
        raise BlockError(f"duplicate block names: {names}")
    if expected is not None and names != expected:
        raise BlockError(f"expected blocks {expected}, found {names}")
