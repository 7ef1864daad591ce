"""The per-test CPU log of `make test-cpu` (tests/cpu_log.py): what it counts and its table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cpu_log import _tree_cpu_by_scan, table, tree_cpu

BUSY = "import time\nwhile time.process_time() < 0.4: pass\nprint('done', flush=True)\n"
WAYS = pytest.mark.parametrize(
    "tree", [tree_cpu, lambda: _tree_cpu_by_scan(os.getpid())], ids=["children-files", "scan"]
)
"""The tree walked from its root (Linux's per-task children lists), and every process's parent read."""


@WAYS
def test_a_reaped_child_s_cpu_is_counted(tree: Callable[[], float]) -> None:
    before = tree()
    subprocess.run([sys.executable, "-c", BUSY], check=True, capture_output=True)
    assert tree() - before >= 0.35


@WAYS
def test_a_live_descendant_s_cpu_is_counted(tree: Callable[[], float]) -> None:
    """A child that spun and still lives (as a fork server does) counts before it is reaped."""
    before = tree()
    child = subprocess.Popen(
        [sys.executable, "-c", BUSY + "import time\ntime.sleep(60)\n"], stdout=subprocess.PIPE
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == b"done\n"
        assert tree() - before >= 0.35
    finally:
        child.kill()
        child.wait()


def test_the_table_sums_the_phases_of_each_test_and_puts_the_largest_first(tmp_path: Path) -> None:
    records = {
        "gw0": [("a::x", "setup", 5.0), ("a::x", "call", 1.0), ("a::y", "call", 2.0)],
        "gw1": [("b::z", "call", 4.0), ("b::z", "teardown", 0.5)],
    }
    for worker, rows in records.items():
        lines = [json.dumps({"id": i, "phase": p, "cpu": c, "wall": 2 * c}) for i, p, c in rows]
        (tmp_path / f"cpu-{worker}.jsonl").write_text("\n".join(lines) + "\n")
    text = table(tmp_path, top=2).splitlines()
    assert text[0] == "3 tests, 12 CPU s (gw0 8, gw1 4)"
    assert [line.split()[-1] for line in text[3:]] == ["a::x", "b::z"]
    assert text[3].split()[:2] == ["6.0", "12.0"]
