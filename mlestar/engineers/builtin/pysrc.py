"""Python source for values: literals the way the project's scripts spell them (double quotes)."""

from __future__ import annotations

import json
from typing import Any

WIDTH = 100


def literal(value: Any, indent: int = 0) -> str:
    """A Python literal for value, one element per line when it would not fit on one line."""
    flat = _flat(value)
    if len(flat) + indent <= WIDTH or not isinstance(value, list | tuple | dict) or not value:
        return flat
    pad = " " * (indent + 4)
    if isinstance(value, dict):
        items = [f"{pad}{_flat(k)}: {literal(v, indent + 4)},\n" for k, v in value.items()]
        return "{\n" + "".join(items) + " " * indent + "}"
    open_, close = ("[", "]") if isinstance(value, list) else ("(", ")")
    return open_ + "\n" + "".join(f"{pad}{literal(v, indent + 4)},\n" for v in value) + " " * indent + close


def _flat(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, float):
        return repr(round(value, 6))
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
