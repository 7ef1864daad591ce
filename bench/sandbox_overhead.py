"""What confinement costs per script: a trivial script run N times at each sandbox level, through the
fork server and as plain processes; prints a table of median and 90th-percentile wall times.

    python bench/sandbox_overhead.py [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlestar.execution import Limits, LocalExecutor  # noqa: E402
from mlestar.execution.sandbox import Sandbox, probe_machine  # noqa: E402

SCRIPT = "import os\nos.makedirs('output', exist_ok=True)\nopen('output/done.txt', 'w').write('1')\n"


def measure(level: str, fork: bool, runs: int, root: Path) -> list[float]:
    sandbox = None if level == "off" else Sandbox.for_level(level)
    times = []
    with LocalExecutor(preload=("numpy", "pandas"), use_forkserver=fork, sandbox=sandbox) as executor:
        executor.start()
        for i in range(runs):
            work = root / f"{level}-{fork}-{i}"
            (work / "input").mkdir(parents=True)
            (work / "solution.py").write_text(SCRIPT)
            start = time.perf_counter()
            result = executor.run(work / "solution.py", work, Limits(timeout_s=60))
            times.append(time.perf_counter() - start)
            if not result.ok:
                raise SystemExit(f"{level} failed: {result.stderr_tail}")
    return times


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)
    levels = [p.level for p in probe_machine() if p.holds and p.level != "off"] + ["off"]
    print("| level | start | median ms | p90 ms |\n|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="mlestar-overhead-") as folder:
        for level in levels:
            for fork in (True, False):
                times = sorted(measure(level, fork, args.runs, Path(folder)))
                p90 = times[int(0.9 * (len(times) - 1))]
                path = "fork server" if fork else "plain python"
                print(
                    f"| {level} | {path} | {1000 * statistics.median(times):.0f} | {1000 * p90:.0f} |",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
