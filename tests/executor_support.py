"""Helpers shared by the executor tests: run a snippet as a script, ask whether a pid lives."""

from __future__ import annotations

import textwrap
from pathlib import Path

import psutil

from mlestar.execution import Executor, Limits, RunResult
from mlestar.execution.supervise import is_alive


def run(ex: Executor, workdir: Path, code: str, **limits: object) -> RunResult:
    """Write `code` (dedented) as workdir/solution.py and run it with these limits."""
    workdir.mkdir(parents=True, exist_ok=True)
    script = workdir / "solution.py"
    script.write_text(textwrap.dedent(code))
    return ex.run(script, workdir, Limits(**limits))  # type: ignore[arg-type]


def alive(pid: int) -> bool:
    """Running and not a zombie."""
    try:
        return is_alive(psutil.Process(pid))
    except psutil.NoSuchProcess:
        return False
