"""Latency and throughput of `mlestar serve`'s /predict, and the cost of the schema check.

    python bench/serve_latency.py [--run RUN_DIR] [--requests 300]

Without --run it first makes a small run of the bundled example (a few minutes). Two servers run
on 127.0.0.1 from this process (schema check on and off); one client sends requests one after
another over a kept-alive connection, 1-row and 1,000-row bodies of test rows. Prints a table:
p50 and p99 latency, requests and rows per second, and the in-process time of the schema check.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from mlestar.monitoring.validate import check_frame  # noqa: E402
from mlestar.serving.loaded import ServedModel, load_run_model  # noqa: E402
from mlestar.serving.server import ModelSlot, ServeSettings, build_app, running  # noqa: E402


def make_run(folder: Path) -> Path:
    from mlestar.app import start_run
    from mlestar.config import RunConfig, SearchSettings

    run = folder / "run"
    config = RunConfig(
        task_dir=ROOT / "examples" / "breast-cancer", run_dir=run, budget_s=300.0, max_nodes=2, jobs=1,
        search=SearchSettings(m_candidates=1, t_outer=0, r_ensemble=0), tracking=False, live=False,
    )  # fmt: skip
    start_run(config)
    return run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def body(rows: pd.DataFrame, n: int) -> bytes:
    reps = int(np.ceil(n / len(rows)))
    return pd.concat([rows] * reps, ignore_index=True).head(n).to_json(orient="records").encode()


def measure(url: str, payload: bytes, requests: int) -> list[float]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = {"Content-Type": "application/json"}
    times = []
    for i in range(requests + 3):
        start = time.perf_counter()
        conn.request("POST", "/predict", payload, headers)
        reply = conn.getresponse()
        reply.read()
        if reply.status != 200:
            raise RuntimeError(f"/predict answered {reply.status}")
        if i >= 3:  # the first requests warm caches up
            times.append(time.perf_counter() - start)
    conn.close()
    return times


def check_cost(model: ServedModel, rows: pd.DataFrame, n: int, reps: int) -> tuple[float, float]:
    """Median seconds of the schema check and of the prediction alone, in process."""
    frame = pd.read_json(pd.io.common.BytesIO(body(rows, n)), orient="records")
    checks, preds = [], []
    for _ in range(reps):
        start = time.perf_counter()
        checked = check_frame(model.schema, frame)
        checks.append(time.perf_counter() - start)
        start = time.perf_counter()
        model.predict(checked.frame)
        preds.append(time.perf_counter() - start)
    return statistics.median(checks), statistics.median(preds)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", type=Path, help="a finished run folder (default: make one from the example)")
    parser.add_argument(
        "--requests", type=int, default=300, help="requests per 1-row case (1,000-row: a tenth)"
    )
    args = parser.parse_args()
    run = args.run or make_run(Path(tempfile.mkdtemp(prefix="serve-bench-")))
    model = load_run_model(run)
    rows = pd.read_parquet(run / "data" / "test.parquet")
    print(f"run {run}: {model.spec.name}, {len(model.schema.columns)} input columns, {os.cpu_count()} cores")
    print(f"{'rows/request':>12} {'schema check':>12} {'p50 ms':>9} {'p99 ms':>9} {'req/s':>8} {'rows/s':>9}")
    for validate in (True, False):
        app = build_app(ModelSlot(model), ServeSettings(validate=validate))
        with running(app, "127.0.0.1", free_port()) as url:
            for n, requests in ((1, args.requests), (1000, max(10, args.requests // 10))):
                times = measure(url, body(rows, n), requests)
                p50, p99 = np.percentile(times, 50) * 1e3, np.percentile(times, 99) * 1e3
                rate = len(times) / sum(times)
                print(
                    f"{n:>12} {'on' if validate else 'off':>12} {p50:>9.2f} {p99:>9.2f} {rate:>8.1f} {rate * n:>9.0f}"
                )
    print("\nin process (median of 50):")
    print(f"{'rows':>6} {'check ms':>9} {'predict ms':>11} {'check share':>12}")
    for n in (1, 1000):
        check, pred = check_cost(model, rows, n, 50)
        print(f"{n:>6} {check * 1e3:>9.2f} {pred * 1e3:>11.2f} {check / (check + pred):>11.0%}")


if __name__ == "__main__":
    main()
