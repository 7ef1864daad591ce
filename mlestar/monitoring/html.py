"""The monitor's HTML page: one self-contained file (inline CSS and SVG; no script, no CDN)."""

from __future__ import annotations

import html
import time
from typing import TYPE_CHECKING

from mlestar.monitoring.drift import ColumnDrift

if TYPE_CHECKING:
    from mlestar.monitoring.monitor import MonitorResult

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:1.4em} h2{font-size:1.1em;margin-top:2em} table{border-collapse:collapse}
td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left;font-size:.9em}
.drift{color:#b00020;font-weight:600} .ok{color:#1b7f3b} .warning{color:#a66300} .error{color:#b00020}
.charts{display:flex;flex-wrap:wrap;gap:16px} figure{margin:0} figcaption{font-size:.85em}
"""
_W, _H, _PAD = 320, 150, 24
_REF, _CUR = "#8aa4c8", "#e07b39"


def render_page(result: MonitorResult, title: str) -> str:
    status = result.status
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(result.created))
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(title)} monitor</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}: <span class='{'ok' if status == 'ok' else 'drift'}'>{_e(status)}</span></h1>",
        f"<p>{result.n_rows} rows from {_e(result.source)}, {stamp}.",
        f" Drifted: {_e(', '.join(result.drifted) or 'nothing')}.</p>",
        _findings(result),
        _live(result),
        _section("Feature drift", result.features),
        _section("Prediction drift", result.predictions),
        _section("Label drift", result.labels),
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


def _findings(result: MonitorResult) -> str:
    if not result.findings:
        return "<h2>Schema</h2><p class='ok'>Every column matches the schema.</p>"
    rows = "".join(
        f"<tr><td class='{f.severity}'>{f.severity}</td><td>{_e(f.column or '')}</td><td>{_e(f.message)}</td></tr>"
        for f in result.findings
    )
    return f"<h2>Schema</h2><table><tr><th>severity</th><th>column</th><th>finding</th></tr>{rows}</table>"


def _live(result: MonitorResult) -> str:
    lv = result.live
    if lv is None:
        return ""
    verdict = (
        "<span class='drift'>worse beyond noise</span>"
        if lv.degraded
        else "<span class='ok'>within noise</span>"
    )
    validation = "unknown" if lv.validation is None else f"{lv.validation:.5g}"
    return (
        f"<h2>Live metric</h2><p>{_e(lv.metric)} = {lv.value:.5g} (95% bootstrap interval {lv.low:.5g} to "
        f"{lv.high:.5g}, {lv.n} labelled rows); validation score {validation}: {verdict}.</p>"
    )


def _section(name: str, drifts: tuple[ColumnDrift, ...]) -> str:
    if not drifts:
        return ""
    rows = "".join(
        f"<tr><td>{_e(d.column)}</td><td>{d.test}</td><td>{d.statistic:.4g}</td><td>{d.p_value:.3g}</td>"
        f"<td>{d.psi:.4f}</td><td>{d.n}</td><td class='{'drift' if d.drifted else 'ok'}'>"
        f"{'drift' if d.drifted else 'stable'}</td></tr>"
        for d in drifts
    )
    table = (
        "<table><tr><th>column</th><th>test</th><th>statistic</th><th>p-value</th><th>PSI</th>"
        f"<th>rows</th><th>verdict</th></tr>{rows}</table>"
    )
    charts = "".join(f"<figure>{bars_svg(d)}<figcaption>{_e(d.column)}</figcaption></figure>" for d in drifts)
    legend = f"<p><span style='color:{_REF}'>&#9632;</span> reference <span style='color:{_CUR}'>&#9632;</span> new</p>"
    return f"<h2>{name}</h2>{table}{legend}<div class='charts'>{charts}</div>"


def bars_svg(d: ColumnDrift) -> str:
    """Reference and new shares per bin (or category), side by side."""
    k = max(len(d.reference), 1)
    top = max([*d.reference, *d.current, 1e-9])
    slot = (_W - 2 * _PAD) / k
    bars = []
    for i, (r, c) in enumerate(zip(d.reference, d.current, strict=False)):
        x = _PAD + i * slot
        for j, (share, colour) in enumerate(((r, _REF), (c, _CUR))):
            h = (_H - 2 * _PAD) * share / top
            label = _e(d.labels[i] if i < len(d.labels) else str(i))
            bars.append(
                f"<rect x='{x + j * slot / 2:.1f}' y='{_H - _PAD - h:.1f}' width='{max(slot / 2 - 1, 1):.1f}' "
                f"height='{h:.1f}' fill='{colour}'><title>{label}: {share:.3f}</title></rect>"
            )
    axis = f"<line x1='{_PAD}' y1='{_H - _PAD}' x2='{_W - _PAD}' y2='{_H - _PAD}' stroke='#999'/>"
    caption = f"<text x='{_PAD}' y='14' font-size='11'>PSI {d.psi:.3f}, p {d.p_value:.2g}</text>"
    return f"<svg width='{_W}' height='{_H}' role='img'>{caption}{''.join(bars)}{axis}</svg>"


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)
