"""What a run against a real model did, read from its run folder: per role, the requests sent,
the re-asks, the steps handed to the fallback, tokens and speed; then whether the run is valid.

    python tools/llm_real_report.py RUN_DIR TASK_DIR [WALL_SECONDS]
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd

from mlestar.journal import Journal
from mlestar.run_layout import RunLayout
from mlestar.task.spec import TaskSpec

REASK = "Your reply could not be used"


def role_table(run_dir: Path) -> list[dict[str, Any]]:
    calls = [json.loads(line) for line in (run_dir / "llm" / "calls.jsonl").read_text().splitlines() if line]
    rows: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(float))
    for call in calls:
        row = rows[call["role"]]
        row["requests"] += 1
        last = call["request"]["messages"][-1]["content"]
        row["reasks"] += REASK in last
        if "reply" in call:
            row["replies"] += 1
            row["tokens_in"] += call["reply"]["input_tokens"]
            row["tokens_out"] += call["reply"]["output_tokens"]
            row["seconds"] += call.get("latency_s") or 0.0
            row["cut_off"] += bool(call["reply"].get("truncated"))
        else:
            row["errors"] += 1
    for node in Journal(run_dir).nodes.values():
        for role, spent in (node.usage or {}).get("by_role", {}).items():
            rows[role]["fallbacks"] += spent.get("fallbacks", 0)
    table = []
    for role, row in sorted(rows.items()):
        steps = row["requests"] - row["reasks"]
        used = max(0.0, steps - row["fallbacks"]) if role != "check" else row["replies"]
        speed = row["tokens_out"] / row["seconds"] if row["seconds"] else 0.0
        table.append({"role": role, **{k: int(v) for k, v in row.items() if k != "seconds"},
                      "steps": int(steps), "answered": int(used), "seconds": round(row["seconds"], 1),
                      "out_tok_per_s": round(speed, 2)})  # fmt: skip
    return table


def validity(run_dir: Path, task_dir: Path) -> dict[str, Any]:
    journal = Journal(run_dir)
    finished = [e for e in journal.events if e["name"] == "run_finished"]
    sub = pd.read_csv(run_dir / "submission.csv")
    sample = pd.read_csv(next(task_dir.glob("sample_submission*.csv")))
    best = journal.best(lower_is_better=TaskSpec.load(RunLayout(run_dir).task).lower_is_better)
    return {
        "status": finished[-1].get("status") if finished else "unfinished",
        "submission_matches_sample": list(sub.columns) == list(sample.columns) and len(sub) == len(sample),
        "submission_finite": bool(sub.select_dtypes("number").notna().all().all()),
        "attempts": len(journal.nodes),
        "attempts_ok": sum(1 for n in journal.nodes.values() if n.ok),
        "best": {"id": best.id, "stage": best.stage, "score": best.score} if best else None,
    }


def main(argv: list[str]) -> int:
    run_dir, task_dir = Path(argv[0]), Path(argv[1])
    table = role_table(run_dir)
    columns = ["role", "steps", "answered", "requests", "reasks", "errors", "cut_off", "tokens_in", "tokens_out", "seconds", "out_tok_per_s"]  # fmt: skip
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in table:
        print("| " + " | ".join(str(row.get(c, 0)) for c in columns) + " |")
    out = sum(r["tokens_out"] for r in table)
    seconds = sum(r["seconds"] for r in table)
    print(
        f"\nmodel time {seconds:.0f} s, {out} tokens out, {out / seconds if seconds else 0:.2f} tokens/s overall"
    )
    if len(argv) > 2:
        print(f"wall time of the run {float(argv[2]):.0f} s")
    print(json.dumps(validity(run_dir, task_dir), indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
