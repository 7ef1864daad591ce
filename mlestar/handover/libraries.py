"""The ML libraries a pickled model refers to, found in its bytes without loading it.

A pickle names the module of every class it holds, so a model of scikit-learn forests holds the
text "sklearn". The files are mapped, not read: a model may be hundreds of MB, and most of those
bytes are arrays' data. Protocol 5 writes a numpy array's data as one bytearray, which names no
module, so a pickle is first walked opcode by opcode and its bytearrays left out of the search (a
150 MB catboost predictor: 5 MB searched, 0.1 s instead of 0.5). A bytearray or bytes that is itself
a pickle (an ensemble's members) is walked in turn. A file that does not walk as one pickle, or
would take longer to walk than to search (millions of small objects), is searched whole.
"""

from __future__ import annotations

import mmap
import os
import pickletools
from collections.abc import Iterator, Sequence
from pathlib import Path

MODEL_LIBRARIES = {
    "sklearn": "scikit-learn",
    "lightgbm": "lightgbm",
    "xgboost": "xgboost",
    "catboost": "catboost",
    "scipy": "scipy",
    "optuna": "optuna",
}
"""Module -> the distribution that installs it, for the libraries a pickled predictor may refer to
(a fixed table: asking importlib for every installed distribution takes seconds)."""

_WINDOW = 1 << 24
"""Bytes searched at a time: between windows a thread beside the search (the hand-over writing the
model) gets the interpreter back."""

_BYTES_PER_OPCODE = 512
"""A walk gives up after one opcode per this many bytes of the file: an opcode costs about what
searching 200 bytes for every name does, so a walk that gives up costs at most half a search."""

Ranges = list[tuple[int, int]]


def libraries_in(paths: Sequence[Path]) -> list[str]:
    """The distributions of the libraries named in any of the files, in the table's order."""
    found: set[str] = set()
    for path in paths:
        with path.open("rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                continue
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                ranges = searched_ranges(data)
                found |= {d for m, d in MODEL_LIBRARIES.items() if d not in found and _names(data, m, ranges)}
    return [dist for dist in MODEL_LIBRARIES.values() if dist in found]


def searched_ranges(data: mmap.mmap) -> Ranges:
    """The parts of the file a module's name may be in: the whole file unless it walks as a pickle."""
    budget = [max(len(data) // _BYTES_PER_OPCODE, 1)]
    return _walk(data, 0, len(data), budget) or [(0, len(data))]


def _names(data: mmap.mmap, module: str, ranges: Ranges) -> bool:
    word = module.encode()
    return any(data.find(word, start, end) >= 0 for start, end in _windows(ranges, len(word)))


def _windows(ranges: Ranges, overlap: int) -> Iterator[tuple[int, int]]:
    """Each range in windows of _WINDOW bytes, overlapping so a name across two is still found."""
    for start, end in ranges:
        for at in range(start, end, _WINDOW):
            yield at, min(at + _WINDOW + overlap - 1, end)


# -- walking a pickle ----------------------------------------------------------------------------
_FIXED, _LINES, _SIZED = 0, 1, 2
_PROTO, _STOP, _BYTEARRAY8 = 0x80, ord("."), 0x96
_PAYLOADS = {ord("B"), 0x8E, _BYTEARRAY8}
"""BINBYTES, BINBYTES8 and BYTEARRAY8: the payloads that may be a pickle of their own."""


def _opcode_args() -> list[tuple[int, int] | None]:
    """For every byte, how the argument of the opcode it codes is laid out (from pickletools'
    table): (_FIXED, bytes), (_LINES, lines ending in a newline) or (_SIZED, bytes of the payload's
    little-endian length); None where no opcode has that code."""
    table: list[tuple[int, int] | None] = [None] * 256
    sized = {
        pickletools.TAKEN_FROM_ARGUMENT1: 1,
        pickletools.TAKEN_FROM_ARGUMENT4: 4,  # signed: a negative one reads as past the end
        pickletools.TAKEN_FROM_ARGUMENT4U: 4,
        pickletools.TAKEN_FROM_ARGUMENT8U: 8,
    }
    for op in pickletools.opcodes:
        arg = op.arg
        if arg is None or arg.n >= 0:
            table[ord(op.code)] = (_FIXED, arg.n if arg else 0)
        elif arg.n == pickletools.UP_TO_NEWLINE:  # GLOBAL and INST: a module line and a name line
            table[ord(op.code)] = (_LINES, 2 if arg.name == "stringnl_noescape_pair" else 1)
        else:
            table[ord(op.code)] = (_SIZED, sized[arg.n])
    return table


_ARGS = _opcode_args()


def _walk(data: mmap.mmap, start: int, end: int, budget: list[int]) -> Ranges | None:
    """The ranges of data[start:end] left to search if those bytes are one pickle: all of them but
    its bytearrays' payloads, a payload that is a pickle itself walked in turn. None when they are
    not one pickle ending at `end`, or when walking them spent the budget (shared with inner walks)."""
    ranges: Ranges = []
    kept, pos = start, start
    while pos < end:
        code = data[pos]
        arg = _ARGS[code]
        if arg is None:
            return None
        kind, n = arg
        pos += 1
        if kind == _FIXED:
            pos += n
        elif kind == _LINES:
            for _ in range(n):
                pos = data.find(b"\n", pos, end) + 1
                if pos == 0:
                    return None
        else:
            payload = pos + n
            pos = payload + int.from_bytes(data[pos:payload], "little")
            if pos > end:
                return None
            if code in _PAYLOADS:
                pickled = pos > payload and data[payload] == _PROTO  # starts as a pickle does
                inner = _walk(data, payload, pos, budget) if pickled else None
                if inner is not None or code == _BYTEARRAY8:
                    ranges += [(kept, payload), *(inner or [])]
                    kept = pos
        if code == _STOP:
            return [*ranges, (kept, pos)] if pos == end else None
        budget[0] -= 1
        if budget[0] < 0:
            return None
    return None
