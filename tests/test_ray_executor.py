"""The Ray executor beyond the shared contract: its settings, its private cluster, and what it leaves.

One private cluster serves the module; the last test closes it and checks that nothing is left.
"""

from __future__ import annotations

import ast
import ipaddress
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from mlestar.errors import ConfigError, ExecutionFault
from mlestar.execution import Limits, LocalExecutor, RunResult
from mlestar.execution.factory import make_executor
from mlestar.execution.ray_executor import RayExecutor
from mlestar.execution.ray_keeper import (
    BOOTSTRAP_TEXT,
    cluster_environment,
    ensure_bootstrap_config,
    is_loopback_address,
)
from mlestar.execution.supervise import is_alive, kill_marked
from tests.executor_support import alive, run

FAKE_SECRET = "sk-ray-fake-0123456789"


# ---- settings (no cluster) -----------------------------------------------------------------------


def test_bootstrap_file_is_written_when_missing(tmp_path: Path) -> None:
    path = ensure_bootstrap_config(tmp_path)
    assert path == tmp_path / "ray_bootstrap_config.yaml"
    assert path.read_text() == BOOTSTRAP_TEXT


def test_a_users_local_bootstrap_file_is_kept_as_it_is(tmp_path: Path) -> None:
    text = "cluster_name: mine\nprovider:\n  type: local\n  head_ip: 127.0.0.1\n"
    (tmp_path / "ray_bootstrap_config.yaml").write_text(text)
    ensure_bootstrap_config(tmp_path)
    assert (tmp_path / "ray_bootstrap_config.yaml").read_text() == text


@pytest.mark.parametrize("text", ["provider: {type: aws}\n", "just words\n", "- a\n- list\n"])
def test_a_different_bootstrap_file_is_refused_and_left_alone(tmp_path: Path, text: str) -> None:
    (tmp_path / "ray_bootstrap_config.yaml").write_text(text)
    with pytest.raises(ConfigError, match=r"expected .* to contain `provider: \{type: local\}`.*found"):
        ensure_bootstrap_config(tmp_path)
    assert (tmp_path / "ray_bootstrap_config.yaml").read_text() == text


def test_a_private_cluster_does_not_start_over_a_foreign_bootstrap_file(tmp_path: Path) -> None:
    (tmp_path / "ray_bootstrap_config.yaml").write_text("provider: {type: gcp}\n")
    ex = RayExecutor(num_cpus=1, home=tmp_path)
    with pytest.raises(ConfigError):
        ex.start()
    assert ex.cluster_pid is None and ex.gcs_address is None
    ex.close()


def test_ray_skips_its_cloud_metadata_probe_once_the_bootstrap_file_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loopback_only: None
) -> None:
    """The probe Ray runs at every cluster start, called directly with its HTTP client replaced."""
    from ray._common.usage import usage_lib

    asked: list[str] = []

    def fake_get(url: str, **kwargs: Any) -> Any:
        asked.append(url)
        raise usage_lib.requests.exceptions.ConnectionError("test: no network")

    monkeypatch.setattr(usage_lib.requests, "get", fake_get)
    report = usage_lib.get_cluster_config_to_report(str(ensure_bootstrap_config(tmp_path)))
    assert (report.cloud_provider, asked) == ("local", [])
    usage_lib.get_cluster_config_to_report(str(tmp_path / "absent.yaml"))  # the control: without it
    assert any("169.254.169.254" in url for url in asked)
    assert any("metadata.google.internal" in url for url in asked)


def test_the_cluster_environment_has_no_secrets_and_keeps_ray_quiet(tmp_path: Path) -> None:
    base = {"PATH": "/bin", "OPENAI_API_KEY": "sk-1", "RAY_ADDRESS": "10.0.0.1:6379", "DB": "x://u:pw@h"}
    env = cluster_environment(base, tmp_path)
    assert env["PATH"] == "/bin" and not {"OPENAI_API_KEY", "RAY_ADDRESS", "DB"} & set(env)
    assert env["RAY_USAGE_STATS_ENABLED"] == "0" and env["RAY_AUTH_MODE"] == "disabled"
    assert (env["RAY_TMPDIR"], env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"]) == (str(tmp_path), "0")


@pytest.mark.parametrize(
    ("address", "loopback"),
    [("127.0.0.1:6379", True), ("localhost:1", True), ("ray://127.0.0.1:10001", True)]
    + [("10.0.0.5:6379", False), ("auto", False), ("ray://head:10001", False)],
)
def test_loopback_addresses_are_recognised(address: str, loopback: bool) -> None:
    assert is_loopback_address(address) is loopback


def test_make_executor_builds_each_kind_without_starting_anything() -> None:
    local = make_executor("local", ("numpy",))
    assert isinstance(local, LocalExecutor) and local.preload == ("numpy",) and local.forkserver_pid is None
    local.close()
    for kind, address in [("ray", None), ("auto", "auto"), ("ray://head:10001", "ray://head:10001")] + [
        ("10.0.0.5:6379", "10.0.0.5:6379")
    ]:
        ex = make_executor(kind, ())
        assert isinstance(ex, RayExecutor) and ex.address == address and ex.cluster_pid is None


@pytest.mark.parametrize("kind", ["", "Local", "kubernetes", "ray://", "dask://x:1"])
def test_make_executor_refuses_unknown_kinds(kind: str) -> None:
    with pytest.raises(ConfigError, match=f"expected an executor kind .*, found {kind!r}"):
        make_executor(kind, ())


def test_an_address_and_a_cluster_size_do_not_go_together() -> None:
    with pytest.raises(ConfigError, match="expected num_cpus and tmp_dir only for a private cluster"):
        RayExecutor(address="auto", num_cpus=2)


def test_importing_the_package_and_the_factory_does_not_import_ray() -> None:
    code = (
        "import sys, mlestar.execution as e, mlestar.execution.factory as f\n"
        "f.make_executor('ray', ()); e.RayExecutor\n"
        "print('ray' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


# ---- the modules: who imports ray and whom ------------------------------------------------------

PACKAGE = Path(__file__).resolve().parent.parent / "mlestar"
RAY_MODULES = {"ray_executor", "ray_connection", "ray_keeper", "ray_worker"}


def _imports(path: Path) -> list[tuple[str, bool]]:
    """Every module `path` imports, with whether the import is at module level."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, id(node) in top))
    return found


def test_only_the_worker_keeper_and_connection_import_ray_and_only_inside_functions() -> None:
    importers = {}
    for path in PACKAGE.rglob("*.py"):
        ray_imports = [top for name, top in _imports(path) if name == "ray" or name.startswith("ray.")]
        if ray_imports:
            importers[path.relative_to(PACKAGE).as_posix()] = any(ray_imports)
    assert importers == {
        "execution/ray_worker.py": False,
        "execution/ray_keeper.py": False,
        "execution/ray_connection.py": False,
    }


def test_the_ray_modules_import_one_way_and_nothing_imports_the_driver_back() -> None:
    edges = {
        path.stem: {
            name.rsplit(".", 1)[1] for name, _ in _imports(path) if name.rsplit(".", 1)[-1] in RAY_MODULES
        }
        for path in (PACKAGE / "execution").glob("ray_*.py")
    }
    assert edges == {
        "ray_executor": {"ray_connection", "ray_keeper", "ray_worker"},
        "ray_connection": {"ray_worker"},
        "ray_keeper": set(),
        "ray_worker": set(),
    }
    driver_users = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if any(name == "mlestar.execution.ray_executor" for name, _ in _imports(path))
    }
    assert driver_users == {"execution/__init__.py", "execution/factory.py"}


def test_kill_marked_kills_the_processes_whose_mark_starts_with_the_prefix() -> None:
    sleep = [sys.executable, "-c", "import time; time.sleep(60)"]
    procs = {
        mark: subprocess.Popen(sleep, env={**os.environ, "MLESTAR_TEST_MARK": mark})
        for mark in ("exec1-runA", "exec1-runB", "exec2-runA")
    }
    try:
        deadline = time.monotonic() + 10.0  # until each child's environment is readable
        while time.monotonic() < deadline and not all(
            psutil.Process(proc.pid).environ().get("MLESTAR_TEST_MARK") for proc in procs.values()
        ):
            time.sleep(0.02)
        assert kill_marked("MLESTAR_TEST_MARK", "") == 0
        assert kill_marked("MLESTAR_TEST_MARK", "exec1-") == 2
        assert procs["exec1-runA"].wait(10) == -signal.SIGKILL
        assert procs["exec1-runB"].wait(10) == -signal.SIGKILL
        assert procs["exec2-runA"].poll() is None
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()


# ---- one private cluster -------------------------------------------------------------------------


@dataclass
class Cluster:
    executor: RayExecutor
    processes: list[psutil.Process]
    outside: list[str] = field(default_factory=list)
    """Connections off loopback seen while the cluster started."""
    seen: int = 0
    """Loopback connections of the cluster seen while it started (shows the watch saw anything)."""


def _session(pid: int) -> list[psutil.Process]:
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getsid(proc.pid) == pid:
                members.append(proc)
        except OSError:
            continue
    return members


def _watch_connections(cluster: Cluster, stop: threading.Event) -> None:
    """Every 0.1 s (Ray's metadata probe waits 1 s per address): sockets of ours or the cluster's
    that leave loopback, and anybody's socket to a link-local (cloud metadata) address."""
    while not stop.wait(0.1):
        pid = cluster.executor.cluster_pid
        ours = {os.getpid()} | ({p.pid for p in _session(pid)} if pid else set())
        for conn in psutil.net_connections("inet"):
            if not conn.raddr:
                continue
            remote = ipaddress.ip_address(conn.raddr.ip.removeprefix("::ffff:"))
            if conn.pid in ours and remote.is_loopback:
                cluster.seen += 1
            elif (conn.pid in ours and not remote.is_loopback) or remote.is_link_local:
                cluster.outside.append(f"{conn.pid} {conn.laddr} -> {conn.raddr} {conn.status}")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OPENAI_API_KEY", FAKE_SECRET)
        patch.setenv("MY_SERVICE_TOKEN", FAKE_SECRET)
        ex = RayExecutor(num_cpus=2, hang_grace_s=1.0)
        state, stop = Cluster(ex, []), threading.Event()
        watcher = threading.Thread(target=_watch_connections, args=(state, stop))
        watcher.start()
        try:
            ex.start()
            time.sleep(0.3)  # the cluster's first exchanges
        finally:
            stop.set()
            watcher.join()
    assert ex.cluster_pid is not None
    state.processes = _session(ex.cluster_pid)
    yield state
    ex.close()


def _gone(pid: int, timeout_s: float = 10.0) -> bool:
    """A SIGKILL takes effect a moment after it is sent: wait for it."""
    deadline = time.monotonic() + timeout_s
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not alive(pid)


def _wait_for(path: Path, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def test_no_traffic_leaves_loopback_while_the_cluster_starts(cluster: Cluster) -> None:
    assert cluster.seen > 0  # the watch did see the cluster talk
    assert cluster.outside == []


def test_the_cluster_listens_on_loopback_only(cluster: Cluster) -> None:
    import ray

    assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}
    assert cluster.executor.gcs_address is not None and cluster.executor.gcs_address.startswith("127.0.0.1:")
    listening = [
        conn.laddr.ip
        for proc in cluster.processes
        if is_alive(proc)
        for conn in proc.net_connections("inet")
        if conn.status == psutil.CONN_LISTEN
    ]
    assert listening and all(ipaddress.ip_address(ip.removeprefix("::ffff:")).is_loopback for ip in listening)


def test_no_cluster_process_holds_a_secret(cluster: Cluster, tmp_path: Path) -> None:
    code = "import os\nprint(open(f'/proc/{os.getppid()}/environ', 'rb').read().decode(errors='replace'))\n"
    result = run(cluster.executor, tmp_path, code)  # the script's parent is the Ray worker
    assert result.ok and "PATH=" in result.stdout_tail and FAKE_SECRET not in result.stdout_tail
    assert len(cluster.processes) >= 3
    for proc in cluster.processes:
        if is_alive(proc):
            assert FAKE_SECRET.encode() not in Path(f"/proc/{proc.pid}/environ").read_bytes(), proc.name()


def test_tasks_wait_for_cores_and_queueing_does_not_count_as_time(cluster: Cluster, tmp_path: Path) -> None:
    code = (
        "import time\nprint(time.time())\ntime.sleep(float(open('sleep.txt').read()))\nprint(time.time())\n"
    )
    for name, sleep in [("first", "6.0"), ("second", "0.1")]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "sleep.txt").write_text(sleep)
    results: list[RunResult] = []
    first = threading.Thread(
        target=lambda: results.append(run(cluster.executor, tmp_path / "first", code, threads=2))
    )
    first.start()
    _wait_for(tmp_path / "first" / "stdout.txt")
    submitted = time.monotonic()
    second = run(cluster.executor, tmp_path / "second", code, threads=2, timeout_s=2.0)
    waited = time.monotonic() - submitted
    first.join(30)
    assert results and results[0].ok and second.ok, (results, second)
    first_end = float(results[0].stdout_tail.split()[1])
    second_start = float(second.stdout_tail.split()[0])
    assert second_start >= first_end  # two CPUs each: the second waited for the first's cores
    assert waited > 2.0 + cluster.executor.hang_grace_s  # longer than its limit, yet not cut off


def test_more_threads_than_any_node_has_is_refused(cluster: Cluster, tmp_path: Path) -> None:
    (tmp_path / "s.py").write_text("print(1)\n")
    with pytest.raises(ConfigError, match="expected threads per script at most 2"):
        cluster.executor.run(tmp_path / "s.py", tmp_path, Limits(threads=3))


def test_a_hung_task_is_cancelled_and_its_worker_and_script_killed(cluster: Cluster, tmp_path: Path) -> None:
    code = "import os, time\nopen('pids.txt', 'w').write(f'{os.getpid()} {os.getppid()}')\ntime.sleep(1000)\n"
    results: list[RunResult] = []
    runner = threading.Thread(
        target=lambda: results.append(run(cluster.executor, tmp_path, code, timeout_s=1.0))
    )
    runner.start()
    _wait_for(tmp_path / "pids.txt")
    time.sleep(0.05)
    script, worker = (int(word) for word in (tmp_path / "pids.txt").read_text().split())
    os.kill(worker, signal.SIGSTOP)  # the task's own supervision cannot act any more
    runner.join(60)
    assert results, "the run did not come back"
    result = results[0]
    assert (result.timed_out, result.exception, result.signal) == (True, "TimeLimitExceeded", signal.SIGKILL)
    assert "stopped answering" in (result.traceback or "")
    assert _gone(script) and _gone(worker)
    assert (
        run(cluster.executor, tmp_path / "after", "print('still serving')\n").stdout_tail == "still serving\n"
    )


@pytest.mark.slow
def test_another_process_connects_to_a_running_cluster_by_address(cluster: Cluster, tmp_path: Path) -> None:
    (tmp_path / "s.py").write_text("import os\nprint('from', os.getcwd())\n")
    code = textwrap.dedent(
        f"""
        import json, sys
        from pathlib import Path
        from mlestar.execution import Limits, RayExecutor
        with RayExecutor(address={cluster.executor.gcs_address!r}) as ex:
            print(json.dumps(ex.run(Path({str(tmp_path / "s.py")!r}), Path({str(tmp_path)!r}), Limits()).to_json()))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert (result["exit_code"], result["stdout_tail"]) == (0, f"from {tmp_path}\n")
    assert cluster.executor.cluster_pid is not None and is_alive(psutil.Process(cluster.executor.cluster_pid))


def test_close_kills_running_scripts_and_stops_the_whole_cluster(cluster: Cluster, tmp_path: Path) -> None:
    """Last in the module: it closes the shared cluster."""
    ex = cluster.executor
    temp_dir = Path(cluster.processes[0].environ()["RAY_TMPDIR"]) if cluster.processes else None
    code = "import os, time\nopen('pid.txt', 'w').write(str(os.getpid()))\ntime.sleep(1000)\n"
    results: list[RunResult] = []
    runner = threading.Thread(target=lambda: results.append(run(ex, tmp_path, code, timeout_s=60.0)))
    runner.start()
    _wait_for(tmp_path / "pid.txt")
    processes = _session(ex.cluster_pid or 0) + cluster.processes
    ex.close()
    runner.join(30)
    assert results and (results[0].signal, results[0].timed_out) == (signal.SIGKILL, False)
    assert _gone(int((tmp_path / "pid.txt").read_text()))
    deadline = time.monotonic() + 5.0
    while any(is_alive(proc) for proc in processes) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [proc.name() for proc in processes if is_alive(proc)] == []
    assert temp_dir is not None and not temp_dir.exists()
    assert ex.cluster_pid is None
    with pytest.raises(ExecutionFault, match="closed"):
        run(ex, tmp_path / "again", "print(1)\n")
