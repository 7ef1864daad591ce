"""Where a run's wall time went when no script was running: the harness overhead, component by component.

    python bench/overhead.py RUN_DIR [--wall S | --began T --ended T]

Time inside scripts is the union of the spans the scripts themselves ran (as bench_journal counts
it: the harness's writing, judging and scoring around each run is not script time); every other
second of the wall time belongs to one of these parts:

  before journal    process start -> the moment start_run began (interpreter, imports, CLI)
  prepare           reading the task, making folds, the profile (run_started's prepare_s)
  to first script   run_started -> the first script starts (session, tracking, engineer, screening)
  gaps              no script running between the first script's start and the last one's end
                    (the harness judging a result, the engineer writing the next scripts)
  hand-over         the last script's end -> the last journal event (solution.py, checks, report)
  after journal     the last journal event -> process exit (tracker close, executor shutdown)

Not overhead, but time the machine was not used: "lanes idle" adds up, while at least one script
ran, the lanes (--jobs) that ran none, by the stage of the scripts that ran (a merge chain runs one
script at a time; a batch waits for its slowest).

`--began/--ended` are the epoch seconds measured around the `mlestar run` process; with `--wall`
alone, "before journal" and "after journal" are one part, "outside journal". With neither, only
the journal's own span is accounted for.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_journal import union_seconds  # noqa: E402

from mlestar.journal import Journal  # noqa: E402

TOP_GAPS = 6


@dataclass(frozen=True)
class Gap:
    start: float
    end: float
    before: str
    """The script whose end opened the gap (the last one to end before it)."""
    after: str
    """The script that closed it."""

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Breakdown:
    wall_s: float | None
    script_s: float
    components: tuple[tuple[str, float | None], ...]
    """(name, seconds) in run order; None: not measurable without the process's own times."""
    gaps: tuple[Gap, ...]
    """Every moment between scripts when none ran, largest first."""
    lanes: int | None = None
    """Scripts the run ran at once (--jobs), when its journal says."""
    idle: tuple[tuple[str, float], ...] = ()
    """(stage, lane-seconds) no script ran in while another did, most first."""

    @property
    def overhead(self) -> float | None:
        if not self.wall_s:
            return None
        return max(0.0, 1.0 - self.script_s / self.wall_s)


@dataclass(frozen=True)
class Span:
    node: str
    start: float
    end: float


def script_spans(journal: Journal) -> list[Span]:
    """Every run of a script (one per split of each attempt), by start time."""
    spans = [Span(n.id, a, b) for n in journal.nodes.values() for a, b in n.script_spans]
    return sorted(spans, key=lambda s: s.start)


def gaps_between(spans: Sequence[Span]) -> list[Gap]:
    """Stretches after the first script started and before the last ended with no script running."""
    out: list[Gap] = []
    if not spans:
        return out
    reach, last = spans[0].end, spans[0].node
    for s in spans[1:]:
        if s.start > reach:
            out.append(Gap(reach, s.start, last, s.node))
        if s.end > reach:
            reach, last = s.end, s.node
    return sorted(out, key=lambda g: g.seconds, reverse=True)


def idle_lanes(spans: Sequence[Span], lanes: int, stage_of: Callable[[str], str]) -> dict[str, float]:
    """Lane-seconds with no script while at least one ran, by the stage of the one that started
    first among those running."""
    edges = sorted(
        [(s.start, 1, i) for i, s in enumerate(spans)] + [(s.end, -1, i) for i, s in enumerate(spans)]
    )
    running: dict[int, None] = {}  # in the order they started
    idle: dict[str, float] = {}
    last = None
    for t, step, i in edges:
        if last is not None and 0 < len(running) < lanes:
            stage = stage_of(spans[next(iter(running))].node)
            idle[stage] = idle.get(stage, 0.0) + (lanes - len(running)) * (t - last)
        if step > 0:
            running[i] = None
        else:
            running.pop(i, None)
        last = t
    return idle


def breakdown(
    run_dir: Path, wall_s: float | None = None, began: float | None = None, ended: float | None = None
) -> Breakdown:
    """The components of the run in `run_dir`; `began`/`ended` (epoch) or `wall_s` the process's own."""
    journal = Journal(run_dir)
    records = [r for r in journal.records() if r["kind"] == "event"]
    started = next(r for r in records if r["name"] == "run_started")
    t_run, t_last = float(started["time"]), float(records[-1]["time"])
    t_begin = t_run - float(started.get("prepare_s") or 0.0)
    if began is not None and ended is not None:
        wall_s = ended - began
    spans = script_spans(journal)
    gaps = gaps_between(spans)
    first = spans[0].start if spans else t_last
    reach = max((s.end for s in spans), default=t_last)
    parts: list[tuple[str, float | None]] = []
    if began is not None and ended is not None:
        parts.append(("before journal", t_begin - began))
    parts += [
        ("prepare", t_run - t_begin),
        ("to first script", first - t_run),
        ("gaps", sum(g.seconds for g in gaps)),
        ("hand-over", max(0.0, t_last - reach)),
    ]
    if began is not None and ended is not None:
        parts.append(("after journal", ended - t_last))
    elif wall_s is not None:
        parts.append(("outside journal", wall_s - (t_last - t_begin)))
    script_s = union_seconds((s.start, s.end) for s in spans)
    jobs = (started.get("config") or {}).get("jobs")
    lanes = int(jobs) if jobs else None
    idle = idle_lanes(spans, lanes, lambda n: str(journal.nodes[n].stage)) if lanes else {}
    ranked = tuple(sorted(idle.items(), key=lambda kv: kv[1], reverse=True))
    return Breakdown(wall_s, script_s, tuple(parts), tuple(gaps), lanes, ranked)


def table(b: Breakdown) -> str:
    """The breakdown as a plain-text table: seconds and share of the wall time per component."""
    wall = b.wall_s

    def share(s: float | None) -> str:
        return f"{100 * s / wall:6.1f}%" if wall and s is not None else "      -"

    lines = [f"{'component':<18} {'seconds':>8} {'share':>7}"]
    for name, s in b.components:
        lines.append(f"{name:<18} {s:8.1f} {share(s)}" if s is not None else f"{name:<18} {'-':>8}")
    outside = sum(s for _, s in b.components if s is not None)
    lines.append(f"{'outside scripts':<18} {outside:8.1f} {share(outside)}")
    lines.append(f"{'script union':<18} {b.script_s:8.1f} {share(b.script_s)}")
    if wall:
        lines.append(f"{'wall':<18} {wall:8.1f}   overhead {100 * (b.overhead or 0.0):.1f}%")
    for g in b.gaps[:TOP_GAPS]:
        lines.append(f"  gap {g.seconds:6.1f} s  after {g.before}  before {g.after}")
    if b.lanes and b.idle:
        total = sum(s for _, s in b.idle)
        stages = ", ".join(f"{name} {s:.1f}" for name, s in b.idle)
        lines.append(f"lanes idle         {total:8.1f} lane-s of {b.lanes} x {b.script_s:.1f} ({stages})")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--wall", type=float, help="wall seconds of the whole `mlestar run` process")
    ap.add_argument("--began", type=float, help="epoch seconds when the process started")
    ap.add_argument("--ended", type=float, help="epoch seconds when it exited")
    args = ap.parse_args(argv)
    if (args.began is None) != (args.ended is None):
        ap.error("--began and --ended go together")
    print(table(breakdown(args.run_dir, args.wall, args.began, args.ended)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
