"""The local executor, through both of its paths: the fork server and plain `python script.py`."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from mlestar.errors import ExecutionFault
from mlestar.execution import LocalExecutor
from mlestar.execution.base import Limits, RunResult
from tests.executor_support import alive, run

PRELOAD = ("numpy",)
"""Enough to exercise preloading and thread pools; the full default list takes seconds to import."""

MODES = ["fork", "plain"]


def _executor(mode: str) -> LocalExecutor:
    return LocalExecutor(preload=PRELOAD, use_forkserver=mode == "fork")


@pytest.fixture(scope="module", params=MODES)
def executor(request: pytest.FixtureRequest) -> Iterator[LocalExecutor]:
    ex = _executor(request.param)
    ex.start()
    yield ex
    ex.close()


def _pids(path: Path) -> list[int]:
    return [int(word) for word in path.read_text().split()]


def _wait_for(path: Path, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


# ---- outcomes ----------------------------------------------------------------------------------


def test_success_lists_outputs_and_runs_as_main(executor: LocalExecutor, tmp_path: Path) -> None:
    result = run(
        executor,
        tmp_path,
        """
        import os, pickle, sys
        import numpy as np

        class Box:
            pass

        if __name__ == "__main__":
            os.makedirs("output/sub", exist_ok=True)
            np.save("output/oof.npy", np.zeros(3))
            open("output/sub/note.txt", "w").write("x")
            pickle.loads(pickle.dumps(Box()))  # classes of __main__ pickle as in a fresh process
            print("cwd", os.getcwd())
            print("argv0", sys.argv[0])
            print("path0", sys.path[0])
            print("stdin", repr(sys.stdin.read()))
        """,
        memory_mb=400,
    )
    assert result.ok, result.stderr_tail
    assert (result.exit_code, result.signal, result.timed_out, result.exception) == (0, None, False, None)
    assert result.outputs == ("output/oof.npy", "output/sub/note.txt")
    assert f"cwd {tmp_path}" in result.stdout_tail
    assert f"argv0 {tmp_path / 'solution.py'}" in result.stdout_tail
    assert f"path0 {tmp_path}" in result.stdout_tail
    assert "stdin ''" in result.stdout_tail
    assert (tmp_path / "stdout.txt").read_text() == result.stdout_tail
    assert result.peak_memory_mb is not None and 0 < result.peak_memory_mb < 400
    assert result.duration_s > 0


def test_crash_gives_exception_name_and_trimmed_traceback(executor: LocalExecutor, tmp_path: Path) -> None:
    result = run(
        executor,
        tmp_path,
        """
        import json

        def pick(table, key):
            try:
                return table[key]
            except KeyError as err:
                raise KeyError(f"no column {key!r}") from err

        print("before the crash")
        pick(json.loads('{"a": 1}'), "target")
        """,
    )
    assert (result.exit_code, result.exception, result.ok) == (1, "KeyError", False)
    assert result.traceback is not None and len(result.traceback) <= 3000
    assert result.traceback.startswith("[earlier in the chain: KeyError: 'target']")
    assert 'solution.py", line 11, in <module>' in result.traceback
    assert 'solution.py", line 8, in pick' in result.traceback
    assert result.traceback.rstrip().endswith("KeyError: \"no column 'target'\"")
    assert "forkserver" not in result.stderr_tail and "runpy" not in result.stderr_tail
    assert "before the crash" in result.stdout_tail


@pytest.mark.parametrize(
    ("code", "exception"),
    [
        ("import no_such_module_here\n", "ModuleNotFoundError"),
        ("x = (1,\n", "SyntaxError"),
        ("import os\nos.environ['OPENAI_API_KEY']\n", "KeyError"),
        ("class Custom(Exception):\n    pass\nraise Custom('mine')\n", "Custom"),
    ],
)
def test_failures_are_named(executor: LocalExecutor, tmp_path: Path, code: str, exception: str) -> None:
    result = run(executor, tmp_path, code)
    assert (result.exit_code, result.exception) == (1, exception), result.stderr_tail
    assert result.traceback is not None and exception in result.traceback


@pytest.mark.parametrize(
    ("code", "exit_code", "stderr"),
    [
        ("import sys\nsys.exit(3)\n", 3, ""),
        ("import sys\nsys.exit()\n", 0, ""),
        ("raise SystemExit('bad input')\n", 1, "bad input"),
        ("import os\nprint('lost', end='')\nos._exit(7)\n", 7, ""),
    ],
)
def test_exit_codes(executor: LocalExecutor, tmp_path: Path, code: str, exit_code: int, stderr: str) -> None:
    result = run(executor, tmp_path, code)
    assert (result.exit_code, result.signal, result.exception) == (exit_code, None, None)
    assert stderr in result.stderr_tail


@pytest.mark.parametrize(
    ("code", "signal_number"),
    [
        ("import ctypes\nctypes.string_at(0)\n", signal.SIGSEGV),
        ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n", signal.SIGKILL),
    ],
)
def test_hard_crash_is_a_result_and_the_server_survives(
    executor: LocalExecutor, tmp_path: Path, code: str, signal_number: int
) -> None:
    server = executor.forkserver_pid
    result = run(executor, tmp_path / "crash", code)
    assert (result.exit_code, result.signal, result.ok) == (None, signal_number, False)
    assert executor.forkserver_pid == server
    assert run(executor, tmp_path / "after", "print('fine')\n").stdout_tail == "fine\n"


def test_modules_after_when_idle_are_imported_once_the_server_is_ready(tmp_path: Path) -> None:
    import sys

    from mlestar.execution.env import server_environment
    from mlestar.execution.forkclient import ForkServer
    from mlestar.execution.forkserver import WHEN_IDLE

    server = ForkServer(sys.executable, ["numpy", WHEN_IDLE, "colorsys"], server_environment(os.environ))
    server.start()
    try:
        assert server.loaded == ("numpy",)  # it said it was ready before the idle import
    finally:
        server.close()
    assert not alive(server.pid)
    with LocalExecutor(preload=("numpy", WHEN_IDLE, "colorsys"), use_forkserver=True) as ex:
        code = "import sys\nprint('colorsys' in sys.modules)\n"
        deadline = time.monotonic() + 20.0
        while (seen := run(ex, tmp_path / "probe", code).stdout_tail) != "True\n":  # forked after it
            assert time.monotonic() < deadline, seen
            time.sleep(0.05)


# ---- limits ------------------------------------------------------------------------------------


def test_hang_is_killed_at_the_timeout(executor: LocalExecutor, tmp_path: Path) -> None:
    result = run(executor, tmp_path, "import time\nprint('started')\ntime.sleep(100)\n", timeout_s=1.0)
    assert result.timed_out and not result.ok
    assert (result.exit_code, result.signal, result.exception) == (None, signal.SIGKILL, "TimeLimitExceeded")
    assert 1.0 <= result.duration_s < 6.0
    assert result.stdout_tail == "started\n"  # unbuffered: the last words before a kill are kept


def test_memory_hog_is_killed(executor: LocalExecutor, tmp_path: Path) -> None:
    result = run(
        executor,
        tmp_path,
        """
        import time
        import numpy as np
        blocks = []
        for _ in range(60):  # 600 MB, 10 MB at a time, every page touched
            blocks.append(np.ones(10 * 1024 * 1024 // 8))
            time.sleep(0.01)
        print("survived")
        """,
        memory_mb=300,
        timeout_s=60.0,
    )
    assert (result.exception, result.signal, result.timed_out) == (
        "MemoryLimitExceeded",
        signal.SIGKILL,
        False,
    )
    assert result.peak_memory_mb is not None and result.peak_memory_mb > 300
    assert "survived" not in result.stdout_tail
    assert result.traceback is not None and "300 MB" in result.traceback


@pytest.mark.parametrize("then", ["exit", "hang"])
def test_children_that_outlive_the_script_are_killed(
    executor: LocalExecutor, tmp_path: Path, then: str
) -> None:
    result = run(
        executor,
        tmp_path,
        f"""
        import subprocess, sys, time
        detached = subprocess.Popen(["sleep", "1000"], start_new_session=True)
        attached = subprocess.Popen(["sleep", "1000"])
        # a grandchild in its own session, orphaned at once: no sample can see it
        subprocess.run([sys.executable, "-c", "import subprocess; p = subprocess.Popen(['sleep', '1000'], "
                        "start_new_session=True); open('grandchild.txt', 'w').write(str(p.pid))"], check=True)
        open("pids.txt", "w").write(f"{{detached.pid}} {{attached.pid}} " + open("grandchild.txt").read())
        if "{then}" == "hang":
            time.sleep(1000)
        """,
        timeout_s=3.0,
    )
    assert result.timed_out == (then == "hang"), result.stderr_tail
    pids = _pids(tmp_path / "pids.txt")
    assert len(pids) == 3
    assert [pid for pid in pids if alive(pid)] == []


def test_megabytes_of_output_keep_their_tails(executor: LocalExecutor, tmp_path: Path) -> None:
    result = run(
        executor,
        tmp_path,
        """
        import sys
        line = "x" * 999 + "\\n"
        for _ in range(20_000):
            sys.stdout.write(line)
        print("THE END")
        sys.stderr.write("e" * 5_000_000 + "\\nLAST ERROR LINE\\n")
        """,
    )
    assert result.ok, result.stderr_tail[-500:]
    assert (tmp_path / "stdout.txt").stat().st_size > 20_000_000
    assert len(result.stdout_tail) == 8000 and result.stdout_tail.endswith("x\nTHE END\n")
    assert len(result.stderr_tail) == 8000 and result.stderr_tail.endswith("LAST ERROR LINE\n")
    assert result.duration_s < 15.0


def test_thread_caps_reach_the_script(executor: LocalExecutor, tmp_path: Path) -> None:
    result = run(
        executor,
        tmp_path,
        """
        import os
        import numpy, threadpoolctl
        names = ["OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                 "VECLIB_MAXIMUM_THREADS", "MLESTAR_THREADS"]
        print(*[os.environ[name] for name in names])
        print(*sorted({pool["num_threads"] for pool in threadpoolctl.threadpool_info()}))
        print(os.environ["EXTRA"], os.environ["PYTHONHASHSEED"], os.environ["MPLBACKEND"])
        """,
        threads=2,
        env=(("EXTRA", "given"),),
    )
    assert result.ok, result.stderr_tail
    env_line, pools_line, extra_line = result.stdout_tail.splitlines()
    assert env_line.split() == ["2"] * 6
    assert pools_line == "2"  # the fork server imported numpy with 1 thread: the child was resized
    assert extra_line == "given 0 Agg"


def test_numpy_random_state_differs_between_runs(executor: LocalExecutor, tmp_path: Path) -> None:
    code = "import numpy as np\nprint(np.random.rand())\n"
    first = run(executor, tmp_path / "a", code)
    second = run(executor, tmp_path / "b", code)
    assert first.ok and second.ok
    assert first.stdout_tail != second.stdout_tail


@pytest.mark.parametrize("mode", MODES)
def test_secrets_never_reach_the_script(mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-before-0123456789")
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-before-0123456789")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "https://alice:pw-before-0123@example.org")
    monkeypatch.setenv("HARMLESS_SETTING", "kept")
    with _executor(mode) as ex:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-after-0123456789")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-after-0123456789")
        result = run(
            ex,
            tmp_path,
            """
            import os
            print(sorted(name for name in os.environ if "KEY" in name or "TOKEN" in name), end=" ")
            print(os.environ.get("HARMLESS_SETTING"), os.environ.get("MLFLOW_TRACKING_URI"))
            print(open("/proc/self/environ", "rb").read().decode(errors="replace"))
            print(os.environ["OPENAI_API_KEY"])
            """,
        )
    assert result.exception == "KeyError"
    first_line = result.stdout_tail.splitlines()[0]
    assert first_line == "[] kept None"
    for secret in ("before-0123", "after-0123"):
        assert secret not in result.stdout_tail  # neither in os.environ nor in the process's own block


# ---- concurrency and life cycle ----------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_close_kills_running_scripts_and_the_server(mode: str, tmp_path: Path) -> None:
    ex = _executor(mode)
    ex.start()
    server = ex.forkserver_pid
    results: list[RunResult] = []
    code = "import os, subprocess, time\nopen('pid.txt', 'w').write(str(os.getpid()))\ntime.sleep(1000)\n"
    runner = threading.Thread(target=lambda: results.append(run(ex, tmp_path, code, timeout_s=60.0)))
    runner.start()
    _wait_for(tmp_path / "pid.txt")
    ex.close()
    runner.join(15.0)
    assert not runner.is_alive()
    assert results and results[0].signal == signal.SIGKILL and not results[0].timed_out
    assert not alive(_pids(tmp_path / "pid.txt")[0])
    assert server is None or not alive(server)
    assert (server is not None) == (mode == "fork")
    with pytest.raises(ExecutionFault):
        run(ex, tmp_path / "again", "print(1)\n")


def test_falls_back_to_plain_processes_when_the_server_dies(tmp_path: Path) -> None:
    with _executor("fork") as ex:
        assert run(ex, tmp_path / "a", "print('one')\n").ok
        server = ex.forkserver_pid
        assert server is not None
        os.kill(server, signal.SIGKILL)
        psutil.Process(server).wait(10)
        result = run(ex, tmp_path / "b", "import sys\nprint('two')\nsys.exit(4)\n")
        assert (result.exit_code, result.stdout_tail) == (4, "two\n")
        assert ex.forkserver_pid is None


def test_missing_script_is_a_fault_of_the_caller(executor: LocalExecutor, tmp_path: Path) -> None:
    with pytest.raises(ExecutionFault, match="expected a script file"):
        executor.run(tmp_path / "absent.py", tmp_path, Limits())


@pytest.mark.slow
def test_fork_server_starts_heavy_scripts_faster_than_fresh_interpreters(tmp_path: Path) -> None:
    code = "import numpy, pandas, sklearn, lightgbm, xgboost, scipy\nprint('imported')\n"
    durations = {}
    for mode in MODES:
        with LocalExecutor(use_forkserver=mode == "fork") as ex:
            ex.start()
            result = run(ex, tmp_path / mode, code, timeout_s=300.0)
            assert result.ok and result.stdout_tail == "imported\n", result.stderr_tail
            durations[mode] = result.duration_s
    assert durations["fork"] * 3 < durations["plain"], durations
