"""Run-length encoded masks as pure functions.

An RLE string is space-separated pairs "start length": pixels are numbered from 1, and a run covers
start .. start + length - 1. The numbering runs top to bottom, then left to right (column-major,
order "F") in most competitions; some number left to right, then top to bottom (row-major, "C").
Valid runs have positive starts and lengths and do not overlap (so they are sorted). An empty
string, whitespace or "-" is an empty mask.

Pixel counts of overlaps do not depend on the numbering or the image size, so Dice, IoU and
F-scores are computed on the runs themselves (`Runs`), without decoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

EMPTY_MARKS = ("", "-")
Order = Literal["F", "C"]


@dataclass(frozen=True)
class Runs:
    """Half-open zero-based pixel intervals [starts[i], ends[i]), sorted and disjoint."""

    starts: np.ndarray
    ends: np.ndarray

    @property
    def area(self) -> int:
        return int((self.ends - self.starts).sum())


def parse_runs(rle: str) -> Runs:
    """The runs of an RLE string; ValueError when it is not a valid encoding."""
    text = rle.strip()
    if text in EMPTY_MARKS:
        return Runs(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    try:
        numbers = np.array([int(tok) for tok in text.split()], dtype=np.int64)
    except ValueError:
        raise ValueError(f"expected run-length pairs of integers, found {_short(text)!r}") from None
    if len(numbers) % 2:
        raise ValueError(
            f"expected pairs 'start length', found an odd count ({len(numbers)}) in {_short(text)!r}"
        )
    starts, lengths = numbers[0::2] - 1, numbers[1::2]
    if (starts < 0).any() or (lengths <= 0).any():
        raise ValueError(f"expected positive starts and lengths, found {_short(text)!r}")
    ends = starts + lengths
    if (starts[1:] < ends[:-1]).any():
        raise ValueError(f"expected sorted runs that do not overlap, found {_short(text)!r}")
    return Runs(starts, ends)


def overlap(a: Runs, b: Runs) -> int:
    """Pixels in both masks: sweep the run boundaries and measure where both cover."""
    if not len(a.starts) or not len(b.starts):
        return 0
    pos = np.concatenate([a.starts, a.ends, b.starts, b.ends])
    one_a, one_b = np.ones(len(a.starts), dtype=np.int64), np.ones(len(b.starts), dtype=np.int64)
    delta = np.concatenate([one_a, -one_a, one_b, -one_b])
    order = np.argsort(pos, kind="stable")
    pos, cover = pos[order], np.cumsum(delta[order])
    return int(np.diff(pos)[cover[:-1] == 2].sum())


def rle_decode(rle: str, shape: tuple[int, int], order: Order = "F") -> np.ndarray:
    """A boolean mask of shape (height, width); runs past the last pixel are cut at the image end."""
    runs = parse_runs(rle)
    flat = np.zeros(shape[0] * shape[1], dtype=bool)
    for start, end in zip(runs.starts, runs.ends, strict=True):
        flat[start:end] = True
    return flat.reshape(shape, order=_order(order))


def rle_encode(mask: np.ndarray, order: Order = "F") -> str:
    """The RLE string of a 2-D mask (nonzero = inside); "" for an empty mask."""
    flat = np.asarray(mask).astype(bool).ravel(order=_order(order))
    edges = np.diff(np.concatenate([[0], flat.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return " ".join(f"{s + 1} {e - s}" for s, e in zip(starts, ends, strict=True))


def _order(order: str) -> Order:
    if order == "F":
        return "F"
    if order == "C":
        return "C"
    raise ValueError(f"expected pixel order 'F' (column-major) or 'C' (row-major), found {order!r}")


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."
