"""The report page: one self-contained HTML file (inline CSS, SVG and a little JavaScript, no CDN)."""

from __future__ import annotations

import json
from dataclasses import asdict
from html import escape
from pathlib import Path

from mlestar.report import charts
from mlestar.report.facts import ReportFacts
from mlestar.report.tree import tree_svg

REPORT_FILE = "report.html"
HOW_TO = (
    (
        "Rebuild the submission with DVC",
        "mlestar export {run} my-solution --check\ncd my-solution && dvc repro",
    ),
    ("Serve the model over HTTP", "mlestar serve {run}\nmlestar predict {run} new.csv -o predictions.csv"),
    ("See every attempt in MLflow", "mlflow ui --backend-store-uri sqlite:///{run}/mlflow.db"),
    ("Summarise the run in the terminal", "mlestar status {run}"),
)
"""Commands the page suggests; tests/test_report.py checks each is a real `mlestar` command."""

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1f2328;background:#fff}
header{padding:16px 24px;background:#f6f8fa;border-bottom:1px solid #d0d7de}
h1{font-size:20px;margin:0 0 6px}h2{font-size:16px;margin:28px 0 8px}
main{padding:0 24px 40px;max-width:1200px}
.facts{display:flex;flex-wrap:wrap;gap:6px 28px}.facts b{font-weight:600}
.chart{width:100%;max-width:760px;height:auto;display:block}
.grid{stroke:#eaeef2}.zero{stroke:#57606a}.tick{font-size:11px;fill:#57606a}.axis{font-size:12px;fill:#1f2328}
.stage-label{font-size:10px;fill:#57606a}.best-line{fill:none;stroke:#1a7f37;stroke-width:1.5}
.point,.node{cursor:pointer}.point:hover{stroke:#000}
.tree-wrap{display:flex;gap:16px;align-items:flex-start}
.tree-box{overflow:auto;max-height:640px;border:1px solid #d0d7de;flex:1 1 55%}
.tree text{font-size:11px}.edge{fill:none;stroke:#afb8c1}.node:focus circle,.node.selected circle{stroke:#000;stroke-width:2}
#detail{flex:1 1 45%;border:1px solid #d0d7de;padding:10px;min-height:200px;max-height:640px;overflow:auto}
pre{background:#f6f8fa;padding:8px;overflow:auto;font-size:12px;white-space:pre-wrap}
.legend span{display:inline-block;margin-right:12px}.legend i{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:4px}
table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}
.empty{color:#57606a}
"""

SCRIPT = """
const nodes = JSON.parse(document.getElementById('node-data').textContent);
const detail = document.getElementById('detail');
function field(label, value) {
  const row = document.createElement('p');
  const b = document.createElement('b'); b.textContent = label + ': ';
  row.appendChild(b); row.appendChild(document.createTextNode(value)); return row;
}
function block(label, text) {
  const wrap = document.createElement('div');
  const h = document.createElement('b'); h.textContent = label;
  const pre = document.createElement('pre'); pre.textContent = text;
  wrap.appendChild(h); wrap.appendChild(pre); return wrap;
}
function show(id) {
  const n = nodes[id]; if (!n) return;
  detail.replaceChildren();
  const title = document.createElement('h3'); title.textContent = n.id; title.id = 'detail-title';
  detail.appendChild(title);
  detail.appendChild(field('outcome', n.outcome + ' (' + n.status + ')'));
  detail.appendChild(field('score', n.score === null ? '-' : n.score.toFixed(5)));
  detail.appendChild(field('time', n.duration_s.toFixed(1) + ' s, started at ' + n.start_s.toFixed(0) + ' s'));
  detail.appendChild(field('stage', n.stage + (n.block ? ', block ' + n.block : '')));
  const plan = block('plan', n.plan); plan.id = 'detail-plan'; detail.appendChild(plan);
  if (n.diff) detail.appendChild(block('diff against ' + n.parent, n.diff));
  if (n.tail) detail.appendChild(block('output (tail)', n.tail));
  document.querySelectorAll('.node.selected').forEach(e => e.classList.remove('selected'));
  document.querySelectorAll('.node[data-node="' + CSS.escape(id) + '"]').forEach(e => e.classList.add('selected'));
}
document.querySelectorAll('[data-node]').forEach(el => {
  el.addEventListener('click', () => show(el.dataset.node));
  el.addEventListener('keydown', e => { if (e.key === 'Enter') show(el.dataset.node); });
});
"""


def render(facts: ReportFacts) -> str:
    data = json.dumps({n.id: asdict(n) for n in facts.nodes}).replace("</", "<\\/")
    sections = [
        _summary(facts),
        _section("Score over time", _legend() + charts.score_over_time(facts)),
        _section("Score over attempts", charts.score_over_attempts(facts)),
        _section("Screening: every candidate tried cheaply", _screening(facts)),
        _section(
            "The search tree",
            "<p>Click a node for its plan, its diff against its parent, its score, time and output.</p>"
            f'<div class="tree-wrap"><div class="tree-box">{tree_svg(facts.nodes)}</div>'
            '<div id="detail"><p class="empty">No node selected.</p></div></div>',
        ),
        _section("Ablation: what each part contributes", charts.impact_bars(facts.impacts)),
        _section("The final solution", _final(facts)),
        _section("Where the time went", _time(facts)),
        _section("LLM tokens and cost", _usage(facts)),
        _section("Leakage, data usage and engineer notes", _findings(facts)),
        _section("Reproduce and use the result", _how_to(facts)),
    ]
    title = f"mlestar run: {facts.task.get('name', facts.run_dir.name)}"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<link rel="icon" href="data:,"><style>{CSS}</style></head><body>'
        f"{''.join(sections[:1])}<main>{''.join(sections[1:])}</main>"
        f'<script type="application/json" id="node-data">{data}</script><script>{SCRIPT}</script></body></html>'
    )


def _section(title: str, body: str) -> str:
    slug = title.lower().split(":")[0].replace(" ", "-")
    return f'<section id="{escape(slug)}"><h2>{escape(title)}</h2>{body}</section>'


def _summary(facts: ReportFacts) -> str:
    task = facts.task
    score = "-" if facts.final_score is None else f"{facts.final_score:.5f}"
    if facts.interval:
        score += f" (interval {facts.interval[0]:.5f} to {facts.interval[1]:.5f})"
    items = [
        ("task", str(task.get("name", "?"))),
        ("problem", str(task.get("problem_type", "?"))),
        ("metric", charts._metric(facts)),
        ("engineer", facts.engineer),
        ("state", facts.state),
        ("validation score", score),
        ("handed over", f"{facts.final_node or '-'} ({facts.final_kind or '-'})"),
        ("attempts", str(len(facts.nodes))),
    ]
    facts_html = "".join(f"<span><b>{escape(k)}</b> {escape(v)}</span>" for k, v in items)
    return f'<header><h1>{escape(str(task.get("name", "run")))}</h1><div class="facts">{facts_html}</div></header>'


def _legend() -> str:
    spans = "".join(
        f'<span><i style="background:{c}"></i>{escape(k)}</span>' for k, c in charts.COLOURS.items()
    )
    return f'<p class="legend">{spans}</p>'


def _screening(facts: ReportFacts) -> str:
    if not facts.screening:
        return '<p class="empty">No screening in this run (too few scripts allowed, or an older run).</p>'
    head = "<tr><th>candidate</th><th>family</th><th>score</th><th>seconds</th><th>status</th><th>drafted</th></tr>"
    rows = "".join(
        f"<tr><td>{escape(str(r.get('name')))}</td><td>{escape(str(r.get('family')))}</td>"
        f"<td>{_score(r.get('score'))}</td>"
        f"<td>{float(r.get('seconds') or 0):.1f}</td><td>{escape(str(r.get('status')))}</td>"
        f"<td>{'yes' if r.get('chosen') else ''}</td></tr>"
        for r in facts.screening
    )
    return f'<p>{escape(facts.screening_note)}</p><table id="screening-table">{head}{rows}</table>'


def _score(value: object) -> str:
    return f"{value:.5f}" if isinstance(value, int | float) else "-"


def _final(facts: ReportFacts) -> str:
    if facts.members:
        return charts.hbars(list(facts.members), "ensemble members and their weights", "members", "{:.3f}")
    if facts.final_node:
        return f"<p>A single script: <b>{escape(facts.final_node)}</b> (see solution.py).</p>"
    return '<p class="empty">No solution handed over yet.</p>'


def _time(facts: ReportFacts) -> str:
    spans = [(f"{s.name} (wall)", s.end_s - s.start_s) for s in facts.stages]
    inside = [
        (f"{stage} (inside scripts)", seconds) for stage, seconds in sorted(facts.stage_seconds.items())
    ]
    return charts.hbars(spans + inside, "seconds per stage", "stage-time", "{:.0f} s")


def _usage(facts: ReportFacts) -> str:
    if not facts.usage_by_stage and not facts.usage_by_role:
        return '<p class="empty">No language model was used (the built-in engineer ran this search).</p>'
    return _usage_table("stage", facts.usage_by_stage) + _usage_table("role", facts.usage_by_role)


def _usage_table(kind: str, rows: dict[str, dict[str, float]]) -> str:
    head = f"<tr><th>{kind}</th><th>calls</th><th>input tokens</th><th>output tokens</th><th>cost (USD)</th></tr>"
    body = "".join(
        f"<tr><td>{escape(name)}</td><td>{v.get('calls', 0):.0f}</td><td>{v.get('input_tokens', 0):.0f}</td>"
        f"<td>{v.get('output_tokens', 0):.0f}</td><td>{v.get('cost_usd', 0):.4f}</td></tr>"
        for name, v in sorted(rows.items())
    )
    return f"<table>{head}{body}</table>"


def _findings(facts: ReportFacts) -> str:
    if not facts.findings:
        return "<p>No leakage was found, no data-usage change was made, and the engineer answered every role.</p>"
    return "<ul>" + "".join(f"<li>{escape(line)}</li>" for line in facts.findings) + "</ul>"


def _how_to(facts: ReportFacts) -> str:
    run = str(facts.run_dir)
    return "".join(
        f"<p><b>{escape(title)}</b></p><pre>{escape(command.format(run=run))}</pre>"
        for title, command in HOW_TO
    )


def write_report(facts: ReportFacts, path: Path | None = None) -> Path:
    """Write the page next to the journal (atomically: a reader never sees half a page)."""
    target = path or facts.run_dir / REPORT_FILE
    partial = target.with_name(target.name + ".partial")
    partial.write_text(render(facts), encoding="utf-8")
    partial.replace(target)
    return target
