"""The search tree as inline SVG: depth left to right, siblings top to bottom, one click target per node."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from html import escape

from mlestar.report.charts import COLOURS
from mlestar.report.facts import NodeFacts

COLUMN_W, ROW_H, LEFT, TOP, LABEL_W = 170, 22, 12, 16, 160
CHAR_W = 6.2
"""About the width of one character of a label at the tree's font size: edges start after the label."""


def layout(nodes: Sequence[NodeFacts]) -> dict[str, tuple[int, float]]:
    """(depth, row) for every node: leaves take rows in depth-first order, a parent sits at the
    middle of its children. Nodes whose parent is not in the journal are roots."""
    ids = {n.id for n in nodes}
    children: dict[str | None, list[str]] = defaultdict(list)
    for n in nodes:
        children[n.parent if n.parent in ids else None].append(n.id)
    place: dict[str, tuple[int, float]] = {}
    next_row = 0.0

    def visit(node_id: str, depth: int) -> float:
        nonlocal next_row
        kids = children.get(node_id, [])
        if not kids:
            row, next_row = next_row, next_row + 1
        else:
            rows = [visit(k, depth + 1) for k in kids]
            row = (rows[0] + rows[-1]) / 2
        place[node_id] = (depth, row)
        return row

    for root in children[None]:
        visit(root, 0)
    return place


def tree_svg(nodes: Sequence[NodeFacts]) -> str:
    if not nodes:
        return '<p class="empty">No attempt yet.</p>'
    place = layout(nodes)
    depth = max(d for d, _ in place.values()) + 1
    rows = max(r for _, r in place.values()) + 1
    width, height = LEFT + depth * COLUMN_W + LABEL_W, TOP * 2 + rows * ROW_H

    def xy(node_id: str) -> tuple[float, float]:
        d, r = place[node_id]
        return LEFT + d * COLUMN_W + 6, TOP + r * ROW_H + 6

    parts = [
        f'<svg id="tree" class="tree" viewBox="0 0 {width} {height:.0f}" width="{width}" '
        f'height="{height:.0f}" xmlns="http://www.w3.org/2000/svg">'
    ]
    labels = {n.id: n.id + ("" if n.score is None else f" {n.score:.4f}") for n in nodes}
    for n in nodes:
        if n.parent in place:
            (x0, y0), (x1, y1) = xy(n.parent), xy(n.id)
            x0 += 12 + CHAR_W * len(labels[n.parent])
            x1 -= 7
            mid = (x0 + x1) / 2
            parts.append(
                f'<path d="M{x0:.0f},{y0:.0f} C{mid:.0f},{y0:.0f} {mid:.0f},{y1:.0f} {x1:.0f},{y1:.0f}" class="edge"/>'
            )
    for n in nodes:
        x, y = xy(n.id)
        parts.append(
            f'<g class="node" data-node="{escape(n.id)}" tabindex="0">'
            f'<circle cx="{x:.0f}" cy="{y:.0f}" r="6" fill="{COLOURS[n.outcome]}"/>'
            f'<text x="{x + 10:.0f}" y="{y + 4:.0f}">{escape(labels[n.id])}</text>'
            f"<title>{escape(n.id)} ({escape(n.outcome)}): {escape(n.plan[:120])}</title></g>"
        )
    parts.append("</svg>")
    return "".join(parts)
