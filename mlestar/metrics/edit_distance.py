"""Edit distance between two sequences, in the standard library only: the text metrics score with it,
and the media kit carries this very module into solution scripts (media/source.py, SHARED)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence


def levenshtein(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Edit distance (insertions, deletions, substitutions) between two sequences.

    Bit-parallel (Myers, as formulated by Hyyrö): one column of the DP table is two bit vectors, so
    each element of the longer sequence costs a few big-integer operations.
    """
    a, b = trim_common_ends(a, b)
    if len(a) < len(b):
        a, b = b, a
    m = len(b)
    if m == 0:
        return len(a)
    masks: dict[Hashable, int] = {}
    for i, item in enumerate(b):
        masks[item] = masks.get(item, 0) | (1 << i)
    full, top = (1 << m) - 1, 1 << (m - 1)
    pv, mv, dist = full, 0, m
    for item in a:
        eq = masks.get(item, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = (mv | ~(xh | pv)) & full
        mh = pv & xh
        dist += 1 if ph & top else -1 if mh & top else 0
        ph = ((ph << 1) | 1) & full
        mh = (mh << 1) & full
        pv = (mh | ~(xv | ph)) & full
        mv = ph & xv
    return dist


def trim_common_ends(
    a: Sequence[Hashable], b: Sequence[Hashable]
) -> tuple[Sequence[Hashable], Sequence[Hashable]]:
    """Drop the shared prefix and suffix: they cost no edit, and near-right predictions share most."""
    start, end_a, end_b = 0, len(a), len(b)
    while start < end_a and start < end_b and a[start] == b[start]:
        start += 1
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a, end_b = end_a - 1, end_b - 1
    return a[start:end_a], b[start:end_b]
