"""The report's charts as inline SVG: pure functions from facts to markup.

Hand-written SVG rather than a plotting library: the page must open offline from the file system
with no CDN, stay under 2 MB on long runs, and let a click on a node open its details. A few
hundred lines of SVG cost nothing to ship; Plotly or Bokeh would inline megabytes of JavaScript.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from mlestar.report.facts import Impact, NodeFacts, ReportFacts, StageSpan, solution_nodes

WIDTH, HEIGHT = 760, 260
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 16, 14, 34
COLOURS = {
    "best": "#1a7f37",
    "kept": "#2da44e",
    "ok": "#0969da",
    "repeat": "#8c959f",
    "failed": "#cf222e",
    "timeout": "#bc4c00",
    "rejected": "#6e7781",
}
STAGE_FILL = {
    "screen": "#fff8c5",
    "draft": "#ddf4ff",
    "merge": "#fbefff",
    "check": "#fff1e5",
    "refine": "#dafbe1",
    "ensemble": "#ffebe9",
    "submit": "#eaeef2",
}


@dataclass(frozen=True)
class Scale:
    """A linear map from data values to pixels."""

    lo: float
    hi: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        span = self.hi - self.lo or 1.0
        return self.start + (value - self.lo) / span * (self.end - self.start)


def ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 2.5, 5, 10) if raw <= step * m)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _label(value: float) -> str:
    return f"{value:.4g}"


def _padded(values: Sequence[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.08 or abs(hi) * 0.05 or 1.0
    return lo - pad, hi + pad


def _frame(x: Scale, y: Scale, x_title: str, y_title: str, body: str, chart_id: str) -> str:
    parts = [
        f'<svg id="{chart_id}" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg">'
    ]
    for t in ticks(y.lo, y.hi):
        py = y(t)
        parts.append(
            f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{py:.1f}" y2="{py:.1f}" class="grid"/>'
            f'<text x="{MARGIN_LEFT - 6}" y="{py + 4:.1f}" class="tick" text-anchor="end">{_label(t)}</text>'
        )
    for t in ticks(x.lo, x.hi, 8):
        px = x(t)
        parts.append(
            f'<text x="{px:.1f}" y="{HEIGHT - MARGIN_BOTTOM + 14}" class="tick" text-anchor="middle">'
            f"{_label(t)}</text>"
        )
    parts.append(body)
    parts.append(
        f'<text x="{(MARGIN_LEFT + WIDTH) / 2:.0f}" y="{HEIGHT - 4}" class="axis" text-anchor="middle">'
        f"{escape(x_title)}</text>"
        f'<text transform="translate(14,{HEIGHT / 2:.0f}) rotate(-90)" class="axis" text-anchor="middle">'
        f"{escape(y_title)}</text></svg>"
    )
    return "".join(parts)


def _points(nodes: Sequence[NodeFacts], xs: Sequence[float], x: Scale, y: Scale) -> str:
    out = []
    for node, xv in zip(nodes, xs, strict=True):
        assert node.score is not None
        py = min(max(y(node.score), MARGIN_TOP), HEIGHT - MARGIN_BOTTOM)  # outliers sit on the edge
        out.append(
            f'<circle cx="{x(xv):.1f}" cy="{py:.1f}" r="4.5" fill="{COLOURS[node.outcome]}" '
            f'data-node="{escape(node.id)}" class="point"><title>{escape(node.id)}: {node.score:.5f}</title>'
            "</circle>"
        )
    return "".join(out)


def _best_so_far(nodes: Sequence[NodeFacts], xs: Sequence[float], x: Scale, y: Scale, lower: bool) -> str:
    best: float | None = None
    path: list[str] = []
    for node, xv in sorted(zip(nodes, xs, strict=True), key=lambda p: p[1]):
        assert node.score is not None
        if best is None or (node.score < best if lower else node.score > best):
            if best is not None:
                path.append(f"L{x(xv):.1f},{y(best):.1f}")
            best = node.score
            path.append(f"{'M' if not path else 'L'}{x(xv):.1f},{y(best):.1f}")
    if best is not None:
        path.append(f"L{x.end:.1f},{y(best):.1f}")
    return f'<path d="{" ".join(path)}" class="best-line"/>' if path else ""


def _stage_bands(stages: Sequence[StageSpan], x: Scale) -> str:
    out = []
    for span in stages:
        x0, x1 = x(span.start_s), max(x(span.end_s), x(span.start_s) + 2)
        out.append(
            f'<rect x="{x0:.1f}" y="{MARGIN_TOP}" width="{x1 - x0:.1f}" height="{HEIGHT - MARGIN_TOP - MARGIN_BOTTOM}" '
            f'fill="{STAGE_FILL.get(span.name, "#f6f8fa")}" class="stage-band"><title>{escape(span.name)}</title></rect>'
            f'<text x="{x0 + 3:.1f}" y="{MARGIN_TOP + 11}" class="stage-label">{escape(span.name)}</text>'
        )
    return "".join(out)


def score_over_time(facts: ReportFacts) -> str:
    nodes = solution_nodes(facts)
    if not nodes:
        return '<p class="empty">No scored attempt yet.</p>'
    xs = [n.start_s + n.duration_s for n in nodes]
    end = max([*xs, *(s.end_s for s in facts.stages)])
    x = Scale(0.0, end or 1.0, MARGIN_LEFT, WIDTH - MARGIN_RIGHT)
    y = _y_scale([n.score for n in nodes if n.score is not None], facts.lower_is_better)
    body = _stage_bands(facts.stages, x) + _best_so_far(nodes, xs, x, y, facts.lower_is_better)
    body += _points(nodes, xs, x, y)
    return _frame(x, y, "seconds since the run started (stages shaded)", _metric(facts), body, "score-time")


def score_over_attempts(facts: ReportFacts) -> str:
    nodes = solution_nodes(facts)
    if not nodes:
        return '<p class="empty">No scored attempt yet.</p>'
    xs = [float(i + 1) for i in range(len(nodes))]
    x = Scale(0.5, len(nodes) + 0.5, MARGIN_LEFT, WIDTH - MARGIN_RIGHT)
    y = _y_scale([n.score for n in nodes if n.score is not None], facts.lower_is_better)
    body = _best_so_far(nodes, xs, x, y, facts.lower_is_better) + _points(nodes, xs, x, y)
    return _frame(x, y, "attempt (in start order)", _metric(facts), body, "score-attempts")


def _metric(facts: ReportFacts) -> str:
    direction = "lower is better" if facts.lower_is_better else "higher is better"
    return f"{facts.task.get('metric', 'score')} ({direction})"


def _y_scale(scores: Sequence[float], lower: bool) -> Scale:
    """Scores far worse than the rest (a failed-looking outlier) would flatten the chart: the axis
    covers the better 95 % of them, and worse points sit on its edge."""
    ordered = sorted(scores, reverse=not lower)
    kept = ordered[: max(2, math.ceil(len(ordered) * 0.95))]
    lo, hi = _padded(kept)
    top, bottom = MARGIN_TOP, HEIGHT - MARGIN_BOTTOM
    return Scale(lo, hi, bottom, top)


def hbars(rows: Sequence[tuple[str, float]], title: str, chart_id: str, value_format: str = "{:.4g}") -> str:
    """Horizontal bars, one per (label, value); negative values grow left of zero."""
    if not rows:
        return '<p class="empty">Nothing to show.</p>'
    row_h, label_w = 22, 230
    height = MARGIN_TOP + row_h * len(rows) + 24
    values = [v for _, v in rows]
    lo, hi = min(0.0, *values), max(0.0, *values)
    x = Scale(lo, hi if hi > lo else lo + 1.0, label_w, WIDTH - 90)
    parts = [
        f'<svg id="{chart_id}" class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg"><text x="4" y="11" class="axis">{escape(title)}</text>'
    ]
    zero = x(0.0)
    for i, (label, value) in enumerate(rows):
        top = MARGIN_TOP + 4 + i * row_h
        x0, x1 = sorted((zero, x(value)))
        fill = "#2da44e" if value >= 0 else "#cf222e"
        parts.append(
            f'<text x="{label_w - 6}" y="{top + 14}" class="tick" text-anchor="end">{escape(label[:40])}</text>'
            f'<rect x="{x0:.1f}" y="{top + 3}" width="{max(1.0, x1 - x0):.1f}" height="{row_h - 8}" '
            f'fill="{fill}" class="bar"><title>{escape(label)}: {value_format.format(value)}</title></rect>'
            f'<text x="{max(x1, zero) + 4:.1f}" y="{top + 14}" class="tick">{value_format.format(value)}</text>'
        )
    parts.append(
        f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="{MARGIN_TOP}" y2="{height - 20}" class="zero"/></svg>'
    )
    return "".join(parts)


def impact_bars(impacts: Sequence[Impact]) -> str:
    rows = [(f"round {i.round}: without {i.label}", i.impact) for i in impacts]
    return hbars(
        rows, "how much worse the solution gets without each part (positive: the part helps)", "impacts"
    )
