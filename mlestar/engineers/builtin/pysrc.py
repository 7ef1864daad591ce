"""Python source for values: literals the way the project's scripts spell them (double quotes).

A literal that does not fit on one line is wrapped: lists, tuples and dicts of plain values are
packed several to a line (a list of 30 column names reads in a few lines, not 30); nested ones put
one element per line.
"""

from __future__ import annotations

import json
from typing import Any

WIDTH = 110


def literal(value: Any, indent: int = 0, head: int = 0) -> str:
    """A Python literal for value; `indent` is the line's indentation, `head` what precedes the
    literal on its first line (e.g. len("NAME = ")), so the first line fits too."""
    flat = _flat(value)
    if indent + head + len(flat) <= WIDTH or not isinstance(value, list | tuple | dict) or not value:
        return flat
    open_, close = (
        ("{", "}") if isinstance(value, dict) else ("[", "]") if isinstance(value, list) else ("(", ")")
    )
    items = _items(value, indent + 4)
    if all(_plain(v) for v in (value.values() if isinstance(value, dict) else value)):
        body = _packed(items, indent + 4)
    else:
        body = "".join(f"{' ' * (indent + 4)}{item},\n" for item in items)
    return open_ + "\n" + body + " " * indent + close


def _items(value: list | tuple | dict, indent: int) -> list[str]:
    if isinstance(value, dict):
        return [f"{_flat(k)}: {literal(v, indent, len(_flat(k)) + 2)}" for k, v in value.items()]
    return [literal(v, indent) for v in value]


def _packed(items: list[str], indent: int) -> str:
    """Items filled into lines up to WIDTH, each followed by a comma."""
    lines: list[str] = []
    line = ""
    for item in items:
        piece = f"{item},"
        if line and indent + len(line) + 1 + len(piece) > WIDTH:
            lines.append(line)
            line = piece
        else:
            line = f"{line} {piece}" if line else piece
    lines.append(line)
    return "".join(" " * indent + text + "\n" for text in lines)


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _flat(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, float):
        return repr(value)  # exact: settings found by a search are written back as they were found
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_flat(k)}: {_flat(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple):
        inner = ", ".join(_flat(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(_flat(v) for v in value) + "]"
    return repr(value)
