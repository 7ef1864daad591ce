"""Where the default suite's CPU goes: a pytest plugin that logs each test phase's CPU seconds, and a
table of the largest (`make test-cpu`).

    pytest -n 2 -p tests.cpu_log --cpu-log DIR      # one JSON line per test phase, a file per worker
    python -m tests.cpu_log DIR                      # the table

A phase's CPU is that of the test process's whole tree: the process, its live descendants (fork
servers, scripts, dvc, servers) and the descendants they already reaped. `--durations` gives wall
time only, which on a shared machine says more about the neighbours than about the test.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

_TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu(root: int | None = None) -> float:
    """CPU seconds of a process and all its descendants, reaped ones included (from /proc)."""
    root = os.getpid() if root is None else root
    if not _HAS_CHILDREN_FILES:
        return _tree_cpu_by_scan(root)
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            total += _own_cpu(Path(f"/proc/{pid}/stat").read_text())
            for task in os.listdir(f"/proc/{pid}/task"):
                stack.extend(int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split())
        except OSError:  # gone meanwhile
            continue
    return total / _TICK


def _own_cpu(stat: str) -> int:
    """utime, stime, cutime and cstime (ticks) of one /proc/PID/stat line."""
    return sum(int(f) for f in stat[stat.rfind(")") + 2 :].split()[11:15])


def _tree_cpu_by_scan(root: int) -> float:
    """tree_cpu where the kernel lists no children per task: every process's parent read off /proc
    (a few milliseconds per call, six calls per test)."""
    parent_of, cpu_of = {}, {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:  # gone meanwhile
                continue
            parent_of[int(entry)] = int(stat[stat.rfind(")") + 2 :].split()[1])
            cpu_of[int(entry)] = _own_cpu(stat)
    children: dict[int, list[int]] = defaultdict(list)
    for pid, parent in parent_of.items():
        children[parent].append(pid)
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += cpu_of.get(pid, 0)
        stack.extend(children[pid])
    return total / _TICK


_HAS_CHILDREN_FILES = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists()
"""Linux lists each task's children (CONFIG_PROC_CHILDREN): the tree is walked from its root."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--cpu-log", type=Path, help="folder for the per-test CPU log (tests/cpu_log.py)")


def _phase(item: pytest.Item, phase: str) -> Iterator[None]:
    folder = item.config.getoption("cpu_log")
    if folder is None:
        yield
        return
    folder = item.config.invocation_params.dir / folder  # a test that changes folder writes here too
    cpu, wall = tree_cpu(), time.perf_counter()
    yield
    record = {"id": item.nodeid, "phase": phase, "cpu": tree_cpu() - cpu, "wall": time.perf_counter() - wall}
    folder.mkdir(parents=True, exist_ok=True)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with (folder / f"cpu-{worker}.jsonl").open("a") as log:
        log.write(json.dumps(record) + "\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    yield from _phase(item, "setup")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    yield from _phase(item, "call")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    yield from _phase(item, "teardown")


def table(folder: Path, top: int = 15) -> str:
    """The CPU of the whole log, of each worker, and of the largest tests (setup and teardown counted)."""
    by_test: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    by_worker: dict[str, float] = defaultdict(float)
    for path in sorted(folder.glob("cpu-*.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            by_test[record["id"]][0] += record["cpu"]
            by_test[record["id"]][1] += record["wall"]
            by_worker[path.stem.removeprefix("cpu-")] += record["cpu"]
    workers = ", ".join(f"{w} {s:.0f}" for w, s in sorted(by_worker.items()))
    lines = [
        f"{len(by_test)} tests, {sum(by_worker.values()):.0f} CPU s ({workers})",
        "",
        "  cpu s   wall s  test",
    ]
    for test, (cpu, wall) in sorted(by_test.items(), key=lambda kv: -kv[1][0])[:top]:
        lines.append(f"{cpu:7.1f}  {wall:7.1f}  {test}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 15))
