"""`mlestar report`: a run's search as one self-contained HTML page (report.html in the run folder).

facts.py   the run folder read into what the page shows (journal, scripts, outputs; no search imports)
charts.py  score over time and attempts, bars: inline SVG
tree.py    the search tree: inline SVG, one click target per node
page.py    the page: summary, charts, tree with a details panel, ablation, ensemble, time, cost, findings
"""

from __future__ import annotations

from pathlib import Path

from mlestar.report.facts import ReportFacts, read_facts
from mlestar.report.page import REPORT_FILE, render, write_report


def report_run(run_dir: Path, out: Path | None = None) -> Path:
    """Read the run folder and write its report; returns the page's path."""
    return write_report(read_facts(run_dir), out)


__all__ = ["REPORT_FILE", "ReportFacts", "read_facts", "render", "report_run", "write_report"]
