"""The benchmark's table: one row per (task, system, seed), a summary over seeds, Markdown and JSON.

Pure functions over frozen rows, so they are tested on fabricated results without any run.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Row:
    task: str
    system: str
    seed: int
    score: float | None
    valid: bool
    medal: str | None
    above_median: bool
    wall_s: float
    validation_score: float | None = None
    """mlestar's own validation score (cross-validated), beside the graded test score."""
    attempts: int | None = None
    script_s: float | None = None
    overhead: float | None = None
    """Share of wall time outside solution scripts (0..1); mlestar only."""
    attempt_overhead: float | None = None
    """Share of wall time outside attempts (a script and the harness's judging of it); the measure
    of results before script spans were journaled."""
    anchor: float | None = None
    """The ANCHORS.md figure for this task and system, as a cross-check."""
    repro: str | None = None
    """mlestar only: `mlestar export --check` ("same": dvc repro rebuilt the submission byte for
    byte; "N rows differ"; "failed"), None when not checked."""
    zero_weight_refits: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Summary:
    """One (task, system) over its seeds. Spread is the sample standard deviation (None for one run)."""

    task: str
    system: str
    runs: int
    valid: int
    score_mean: float | None
    score_sd: float | None
    medals: int
    above_median: int
    validation_mean: float | None
    wall_mean: float
    overhead_mean: float | None
    anchor: float | None


def mean_sd(values: Iterable[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation of the values that are not None."""
    xs = [float(v) for v in values if v is not None]
    if not xs:
        return None, None
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else None)


def summarize(rows: Sequence[Row]) -> list[Summary]:
    """One summary per (task, system), in the order they first appear."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.task, row.system), []).append(row)
    out = []
    for (task, system), rs in groups.items():
        score_mean, score_sd = mean_sd(r.score for r in rs if r.valid)
        wall_mean, _ = mean_sd(r.wall_s for r in rs)
        out.append(Summary(
            task=task, system=system, runs=len(rs), valid=sum(r.valid for r in rs),
            score_mean=score_mean, score_sd=score_sd,
            medals=sum(r.medal is not None for r in rs), above_median=sum(r.above_median for r in rs),
            validation_mean=mean_sd(r.validation_score for r in rs)[0], wall_mean=wall_mean or 0.0,
            overhead_mean=mean_sd(r.overhead for r in rs)[0], anchor=rs[0].anchor,
        ))  # fmt: skip
    return out


# --- ANCHORS.md ---------------------------------------------------------------------------------

Anchors = dict[tuple[str, str], float]
"""{(task label, system): score} read from ANCHORS.md."""
_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?)")


def parse_anchors(text: str, systems: Sequence[str]) -> Anchors:
    """{(task label, system): score} from ANCHORS.md's table, whose columns name the systems.

    A task label is the first word of a row's first cell ("nomad2018" for "nomad2018 (mean RMSLE…)").
    """
    lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("|")]
    header = next((ln for ln in lines if any(s in ln.lower() for s in systems)), None)
    if header is None:
        return {}
    cols = [c.strip().lower() for c in header.strip("|").split("|")]
    where = {s: i for i, c in enumerate(cols) for s in systems if s in c}
    anchors: Anchors = {}
    for line in lines[lines.index(header) + 1 :]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if not cells or not cells[0] or set(cells[0]) <= set("-: "):
            continue
        label = cells[0].split()[0]
        for system, i in where.items():
            m = _NUMBER.match(cells[i]) if i < len(cells) else None
            if m:
                anchors[(label, system)] = float(m.group(1))
    return anchors


def anchor_for(anchors: Anchors, task: str, system: str) -> float | None:
    """The anchor whose label is the task's name or a prefix of it."""
    hits = [v for (label, s), v in anchors.items() if s == system and task.startswith(label)]
    return hits[0] if hits else None


# --- Markdown and JSON --------------------------------------------------------------------------


def _num(value: float | None, digits: int = 5) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


ROW_COLUMNS: tuple[tuple[str, Callable[[Row], str]], ...] = (
    ("task", lambda r: r.task),
    ("system", lambda r: r.system),
    ("seed", lambda r: str(r.seed)),
    ("score", lambda r: _num(r.score)),
    ("valid", lambda r: _yes(r.valid)),
    ("medal", lambda r: r.medal or "-"),
    ("above median", lambda r: _yes(r.above_median)),
    ("validation", lambda r: _num(r.validation_score)),
    ("wall s", lambda r: _num(r.wall_s, 1)),
    ("attempts", lambda r: "" if r.attempts is None else str(r.attempts)),
    ("script s", lambda r: _num(r.script_s, 1)),
    ("overhead %", lambda r: _pct(r.overhead)),
    ("outside attempts %", lambda r: _pct(r.attempt_overhead)),
    ("repro", lambda r: r.repro or "-"),
    ("0-weight refits", lambda r: "" if r.zero_weight_refits is None else str(r.zero_weight_refits)),
    ("anchor", lambda r: _num(r.anchor)),
)

SUMMARY_COLUMNS: tuple[tuple[str, Callable[[Summary], str]], ...] = (
    ("task", lambda s: s.task),
    ("system", lambda s: s.system),
    ("valid", lambda s: f"{s.valid}/{s.runs}"),
    ("score mean", lambda s: _num(s.score_mean)),
    ("score sd", lambda s: _num(s.score_sd)),
    ("medals", lambda s: str(s.medals)),
    ("above median", lambda s: str(s.above_median)),
    ("validation mean", lambda s: _num(s.validation_mean)),
    ("wall s mean", lambda s: _num(s.wall_mean, 1)),
    ("overhead % mean", lambda s: _pct(s.overhead_mean)),
    ("anchor", lambda s: _num(s.anchor)),
)


def markdown_table(items: Sequence[Any], columns: Sequence[tuple[str, Callable[[Any], str]]]) -> str:
    head = "| " + " | ".join(name for name, _ in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(cell(item) for _, cell in columns) + " |" for item in items]
    return "\n".join([head, rule, *body])


def render_markdown(meta: dict[str, Any], rows: Sequence[Row]) -> str:
    """The whole report: what was run, one row per run, the summary when there are several seeds."""
    lines = [f"# Benchmark {meta['started']} ({meta['commit']})", ""]
    lines += [f"- {k}: {v}" for k, v in meta.items() if k not in ("started", "commit")]
    lines += ["", markdown_table(rows, ROW_COLUMNS)]
    if len({r.seed for r in rows}) > 1:
        lines += ["", "## Over seeds (spread: sample standard deviation)", ""]
        lines += [markdown_table(summarize(rows), SUMMARY_COLUMNS)]
    errors = [r for r in rows if r.error]
    if errors:
        lines += ["", "## Errors", ""] + [
            f"- {r.task} / {r.system} / seed {r.seed}: {r.error}" for r in errors
        ]
    lines += [
        "",
        "repro: `mlestar export --check` (dvc repro in a fresh clone, submissions compared byte for byte).",
    ]
    lines += ["anchor: ANCHORS.md's figure (240 s of fitting on this kind of machine), a cross-check."]
    return "\n".join(lines) + "\n"


def as_json(meta: dict[str, Any], rows: Sequence[Row]) -> dict[str, Any]:
    return {"meta": meta, "rows": [asdict(r) for r in rows], "summary": [asdict(s) for s in summarize(rows)]}


def rows_from_json(data: dict[str, Any]) -> list[Row]:
    return [Row(**r) for r in data["rows"]]


def write_results(folder: Path, stem: str, meta: dict[str, Any], rows: Sequence[Row]) -> tuple[Path, Path]:
    """Write <stem>.md and <stem>.json (rewritten after every run, so a crash keeps what was done)."""
    folder.mkdir(parents=True, exist_ok=True)
    md, js = folder / f"{stem}.md", folder / f"{stem}.json"
    md.write_text(render_markdown(meta, rows), encoding="utf-8")
    js.write_text(json.dumps(as_json(meta, rows), indent=2) + "\n", encoding="utf-8")
    return md, js
