"""The conformance suite: `mlestar inspect` and `mlestar run` on every replica, one table row each.

    python -m conformance.runner [--run] [--budget 60] [--out DIR] [--docs] [NAME ...]

Without --run only the inspection is checked (seconds); with --run each replica is also solved
within the budget and its submission checked by the replica's own grader. --docs writes the table
into docs/conformance.md between its markers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance import grader, replicas

DOCS = Path(__file__).resolve().parents[1] / "docs" / "conformance.md"
BEGIN, END = "<!-- conformance table: begin -->", "<!-- conformance table: end -->"


@dataclass
class Outcome:
    name: str
    mismatches: list[str] = field(default_factory=list)
    error: str | None = None
    valid: bool | None = None
    seconds: float | None = None
    run_seconds: float | None = None
    answered_by: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def inspect_ok(self) -> bool:
        return self.error is None and not self.mismatches


def expected(entry: dict[str, Any], public: Path) -> dict[str, Any]:
    """What inspect must read, from the catalogue entry (class columns read off the replica's sample)."""
    exp = entry["expect"]
    want: dict[str, Any] = {
        "id_column": exp.get("id"),
        "problem_type": exp["problem"],
        "metric": entry["metric"]["name"],
        "lower_is_better": bool(entry["metric"]["lower_is_better"]),
        "value_kind": exp["values"],
        "solver": exp.get("solver", "engineers"),
    }
    targets = exp["targets"]
    if isinstance(targets, str):  # one column per class: read the names off the sample
        sample = next(p for p in public.iterdir() if "sample" in p.name.lower())
        header = sample.read_text().splitlines()[0].split(",")
        targets = [c for c in header if c != exp.get("id")]
    want["target_columns"] = list(targets)
    if "train_targets" in exp:
        want["train_target_columns"] = list(exp["train_targets"])
    return want


def found(spec: Any) -> dict[str, Any]:
    return {
        "id_column": spec.id_column,
        "problem_type": str(spec.problem_type),
        "metric": spec.metric,
        "lower_is_better": spec.lower_is_better,
        "value_kind": spec.submission.value_kind,
        "solver": spec.solver,
        "target_columns": list(spec.target_columns),
        "train_target_columns": list(spec.train_target_columns),
    }


def check_inspect(replica: replicas.Replica) -> Outcome:
    from mlestar.errors import MlestarError
    from mlestar.task import load_task

    outcome = Outcome(replica.name)
    try:
        spec = load_task(replica.public)
    except MlestarError as exc:
        outcome.error = f"{type(exc).__name__}: {exc}"
        return outcome
    except Exception as exc:  # a crash is the finding the suite exists to report
        outcome.error = f"crash {type(exc).__name__}: {exc}"
        return outcome
    got = found(spec)
    for key, want in expected(replica.entry, replica.public).items():
        if got.get(key) != want:
            outcome.mismatches.append(f"{key}: expected {want!r}, found {got.get(key)!r}")
    return outcome


def check_run(replica: replicas.Replica, outcome: Outcome, budget: int, out: Path) -> None:
    run_dir = out / "runs" / replica.name
    shutil.rmtree(run_dir, ignore_errors=True)  # a run folder left from before would be resumed
    env = {
        **os.environ,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DVC_NO_ANALYTICS": "1",
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    cmd = [sys.executable, "-m", "mlestar", "run", str(replica.public), "--budget", f"{budget}s",
           "--out", str(run_dir), "--no-live", "--no-tracking"]  # fmt: skip
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=budget * 4 + 120)
    except subprocess.TimeoutExpired:
        outcome.seconds = round(time.monotonic() - started, 1)
        outcome.problems.append(f"no end within {budget * 4 + 120} s")
        outcome.valid = False
        return
    outcome.seconds = round(time.monotonic() - started, 1)
    if "Traceback" in proc.stderr:
        outcome.problems.append("traceback: " + proc.stderr.strip().splitlines()[-1])
    outcome.problems += grader.problems(replica.entry, replica.answers, run_dir / "submission.csv")
    outcome.valid = not outcome.problems
    outcome.answered_by = _answered_by(run_dir)
    outcome.run_seconds = run_span(run_dir)


def run_span(run_dir: Path) -> float | None:
    """Seconds from the journal's run_started to run_finished: the part the budget governs (the
    process's start-up and intake come before it)."""
    journal = run_dir / "journal.jsonl"
    if not journal.is_file():
        return None
    times = {}
    for line in journal.read_text().splitlines():
        record = json.loads(line)
        if record.get("name") in ("run_started", "run_finished") and "time" in record:
            times[record["name"]] = float(record["time"])
    if len(times) < 2:
        return None
    return round(times["run_finished"] - times["run_started"], 1)


def _answered_by(run_dir: Path) -> str:
    journal = run_dir / "journal.jsonl"
    if not journal.is_file():
        return "none"
    for line in reversed(journal.read_text().splitlines()):
        record = json.loads(line)
        if record.get("name") == "run_finished":
            best = record.get("best")
            return f"engineer ({best})" if best else f"baseline ({record.get('baseline', 'prior')})"
    return "unfinished"


def table(outcomes: list[Outcome]) -> str:
    lines = ["| competition | inspect right | run valid | time (s) | answered by |", "|---|---|---|---|---|"]
    for o in outcomes:
        inspect = "yes" if o.inspect_ok else f"no: {o.error or '; '.join(o.mismatches)}"
        valid = "-" if o.valid is None else ("yes" if o.valid else "no: " + "; ".join(o.problems)[:200])
        lines.append(f"| {o.name} | {inspect} | {valid} | {_time(o)} | {o.answered_by or '-'} |")
    return "\n".join(lines)


def _time(o: Outcome) -> str:
    if o.seconds is None:
        return "-"
    return f"{o.seconds} (run {o.run_seconds})" if o.run_seconds is not None else str(o.seconds)


def write_docs(text: str) -> None:
    """The table's rows for these replicas replace theirs; rows of replicas not run stay."""
    doc = DOCS.read_text()
    head, _, rest = doc.partition(BEGIN)
    old, _, tail = rest.partition(END)
    rows = {_row_name(line): line for line in old.strip().splitlines()[2:]}
    new = text.splitlines()
    rows.update({_row_name(line): line for line in new[2:]})
    order = [e["name"] for e in replicas.catalogue()]
    body = "\n".join([*new[:2], *(rows[n] for n in order if n in rows)])
    DOCS.write_text(f"{head}{BEGIN}\n{body}\n{END}{tail}")


def _row_name(line: str) -> str:
    return line.strip("| ").split(" |")[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="conformance")
    parser.add_argument("names", nargs="*")
    parser.add_argument("--run", action="store_true")
    parser.add_argument("--budget", type=int, default=60)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--docs", action="store_true")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="conformance-"))
    outcomes = []
    for entry in replicas.catalogue():
        if args.names and entry["name"] not in args.names:
            continue
        replica = replicas.build(entry, out / "replicas")
        outcome = check_inspect(replica)
        if args.run:
            check_run(replica, outcome, args.budget, out)
        outcomes.append(outcome)
        print(table([outcome]).splitlines()[-1], flush=True)
    text = table(outcomes)
    if args.docs:
        write_docs(text)
    bad = sum(not o.inspect_ok or o.valid is False for o in outcomes)
    print(f"\n{len(outcomes)} replica(s), {bad} not conforming")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
