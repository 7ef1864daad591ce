"""Replay the greedy and stacking nodes of finished runs on their stored predictions.

    python bench/ensemble_replay.py RUN_DIR [RUN_DIR ...] [--repeat 3]

For each ensemble node a run journaled (kind greedy or stacking), the members' stored out-of-fold and
test predictions are combined again by this checkout's mlestar/search/ensemble.py, with one BLAS
thread as the run has it: the journaled score, the replayed score and the fastest of `--repeat`
wall times. Nothing is written; a run folder without ensemble nodes is passed by.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from mlestar.folds import Predictions
from mlestar.metrics import get_metric
from mlestar.search import ensemble
from mlestar.task.spec import TaskSpec

KINDS = ("greedy", "stacking")


def ensemble_nodes(run: Path) -> list[dict]:
    records = [json.loads(line) for line in (run / "journal.jsonl").read_text().splitlines() if line]
    return [
        r
        for r in records
        if r.get("kind") == "node"
        and r.get("score") is not None
        and (r.get("meta") or {}).get("kind") in KINDS
    ]


def replay(run: Path, repeat: int) -> None:
    nodes = ensemble_nodes(run)
    if not nodes:
        return
    spec = TaskSpec.load(run / "task.json")
    y, folds = np.load(run / "data" / "target.npy"), np.load(run / "data" / "folds.npy")
    metric = get_metric(spec.metric)
    for node in nodes:
        outputs = [run / "attempts" / m / "output" for m in node["meta"]["members"]]
        members = [Predictions(np.load(o / "oof.npy"), np.load(o / "test.npy")) for o in outputs]
        kind, walls = node["meta"]["kind"], []
        for _ in range(repeat):
            with threadpool_limits(limits=1):
                started = time.perf_counter()
                if kind == "stacking":
                    result = ensemble.stacking(members, y, folds, metric.score, spec.problem_type)
                else:
                    result = ensemble.greedy(
                        members, y, folds, metric.score, spec.lower_is_better, spec.problem_type
                    )
                walls.append(time.perf_counter() - started)
        print(
            f"{run} {node['id']} {kind} members={len(members)} {spec.metric} "
            f"journal={node['score']:.6f} replayed={result.score:.6f} wall={min(walls):.2f}s",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (journal.jsonl, data/, attempts/)")
    parser.add_argument("--repeat", type=int, default=3, help="timings per node; the fastest is shown")
    args = parser.parse_args(argv)
    missing = [str(r) for r in args.runs if not (r / "journal.jsonl").is_file()]
    if missing:
        print(f"expected run folders holding journal.jsonl, found: {', '.join(missing)}", file=sys.stderr)
        return 2
    for run in args.runs:
        replay(run, max(1, args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
