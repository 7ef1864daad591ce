"""The executor seam's contract: every Executor gives the same RunResult for the same script.

Runs against LocalExecutor (fork server and plain processes) and RayExecutor on a private local
cluster, started once for this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mlestar.errors import ExecutionFault
from mlestar.execution import Executor, Limits, LocalExecutor, RunResult
from mlestar.execution.ray_executor import RayExecutor
from tests.executor_support import alive, run

KINDS = ["local-fork", "local-plain", "ray"]
FAKE_SECRET = "sk-contract-fake-0123456789"


def _make(kind: str) -> Executor:
    if kind == "ray":
        return RayExecutor(num_cpus=2)
    return LocalExecutor(preload=(), use_forkserver=kind == "local-fork")


@pytest.fixture(scope="module", params=KINDS)
def executor(request: pytest.FixtureRequest) -> Iterator[Executor]:
    """One executor per kind for the whole module, created while a provider key is in the environment."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPENAI_API_KEY", FAKE_SECRET)
        patch.setenv("MLESTAR_CONTRACT_SETTING", "kept")
        ex = _make(request.param)
    ex.start()  # type: ignore[attr-defined]
    yield ex
    ex.close()


def test_success_lists_outputs(executor: Executor, tmp_path: Path) -> None:
    result = run(
        executor,
        tmp_path,
        """
        import os
        os.makedirs("output/sub", exist_ok=True)
        open("output/pred.txt", "w").write("1")
        open("output/sub/note.txt", "w").write("x")
        print("cwd", os.getcwd())
        """,
    )
    assert result.ok, result.stderr_tail
    assert (result.exit_code, result.signal, result.timed_out, result.exception) == (0, None, False, None)
    assert result.outputs == ("output/pred.txt", "output/sub/note.txt")
    assert result.stdout_tail == f"cwd {tmp_path}\n"
    assert result.duration_s > 0


def test_crash_gives_exit_code_1_and_the_exception_name(executor: Executor, tmp_path: Path) -> None:
    result = run(executor, tmp_path, "print('before')\n{'a': 1}['target']\n")
    assert (result.exit_code, result.exception, result.ok) == (1, "KeyError", False)
    assert result.traceback is not None and "KeyError: 'target'" in result.traceback
    assert result.stdout_tail == "before\n"


def test_sys_exit_code_is_kept(executor: Executor, tmp_path: Path) -> None:
    result = run(executor, tmp_path, "import sys\nsys.exit(3)\n")
    assert (result.exit_code, result.exception, result.timed_out, result.ok) == (3, None, False, False)


def test_timeout_kills_the_script(executor: Executor, tmp_path: Path) -> None:
    code = "import os, time\nopen('pid.txt', 'w').write(str(os.getpid()))\ntime.sleep(1000)\n"
    result = run(executor, tmp_path, code, timeout_s=1.0)
    assert (result.timed_out, result.exit_code, result.exception) == (True, None, "TimeLimitExceeded")
    assert 1.0 <= result.duration_s < 15.0
    assert not alive(int((tmp_path / "pid.txt").read_text()))


def test_secrets_of_the_parent_are_not_visible(executor: Executor, tmp_path: Path) -> None:
    result = run(
        executor,
        tmp_path,
        """
        import os
        print(os.environ.get("OPENAI_API_KEY"), os.environ.get("MLESTAR_CONTRACT_SETTING"))
        print(open("/proc/self/environ", "rb").read().decode(errors="replace"))
        """,
    )
    assert result.ok, result.stderr_tail
    assert result.stdout_tail.splitlines()[0] == "None kept"
    assert FAKE_SECRET not in result.stdout_tail


def test_stdout_tail_is_kept(executor: Executor, tmp_path: Path) -> None:
    result = run(executor, tmp_path, "for i in range(20000):\n    print(f'line {i:05d}')\n")
    assert result.ok, result.stderr_tail
    assert result.stdout_tail.endswith("line 19999\n")
    assert "line 00000" not in result.stdout_tail
    assert 0 < len(result.stdout_tail) <= 8000


def test_parallel_runs_from_threads_are_independent(executor: Executor, tmp_path: Path) -> None:
    code = """
    import os, sys, time
    n = int(open("n.txt").read())
    time.sleep(0.3)
    os.makedirs("output", exist_ok=True)
    open(f"output/{n}.txt", "w").write(str(n))
    print("run", n)
    sys.exit(n)
    """

    def one(n: int) -> RunResult:
        (tmp_path / str(n)).mkdir()
        (tmp_path / str(n) / "n.txt").write_text(str(n))
        return run(executor, tmp_path / str(n), code, timeout_s=60.0)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(one, [5, 6]))
    for n, result in zip([5, 6], results, strict=True):
        assert (result.exit_code, result.stdout_tail, result.outputs) == (
            n,
            f"run {n}\n",
            (f"output/{n}.txt",),
        )


def test_a_missing_script_is_a_fault_of_the_caller(executor: Executor, tmp_path: Path) -> None:
    with pytest.raises(ExecutionFault, match="expected a script file"):
        executor.run(tmp_path / "absent.py", tmp_path, Limits())
