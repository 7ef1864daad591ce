"""The sandbox: which level a run gets, and what a script can no longer do at each level.

The choice is tested as a pure function of what the machine's probe reports. The containment is
tested for real, on this machine, through LocalExecutor (fork server and plain processes) at every
level the machine allows; a level this machine lacks is skipped, and says so.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlestar.errors import ConfigError
from mlestar.execution import LocalExecutor
from mlestar.execution.sandbox import LEVELS, Probe, Sandbox, choose, probe_machine
from tests.executor_support import alive, run

FULL = {
    "writes_inside": True,
    "writes_outside": False,
    "reads_hidden": False,
    "network": False,
    "own_pids": True,
}


def probes(**reports: dict[str, object]) -> tuple[Probe, ...]:
    return tuple(Probe(level, reports.get(level, {"error": "missing"})) for level in LEVELS)


# ---- choosing a level (pure) ---------------------------------------------------------------------


def test_auto_takes_namespaces_when_they_hold_and_warns_of_nothing() -> None:
    choice = choose("auto", probes(namespaces=FULL, landlock=FULL, limits={"writes_inside": True}))
    assert (choice.level, choice.warning) == ("namespaces", None)
    assert "no network" in choice.guarantees and "own process namespace" in choice.guarantees


def test_auto_falls_back_to_landlock_with_a_warning() -> None:
    landlock = {**FULL, "own_pids": False, "network": False}
    choice = choose("auto", probes(landlock=landlock, limits={"writes_inside": True}))
    assert choice.level == "landlock"
    assert choice.warning is not None and "landlock" in choice.warning
    assert "no TCP connections" in choice.guarantees and "own process namespace" not in choice.guarantees


def test_a_level_that_leaks_does_not_count() -> None:
    leaky = {**FULL, "writes_outside": True}
    choice = choose(
        "auto",
        probes(namespaces=leaky, landlock={**FULL, "reads_hidden": True}, limits={"writes_inside": True}),
    )
    assert choice.level == "limits" and choice.warning is not None
    assert choice.available == ("limits",)


def test_strict_refuses_a_machine_without_namespaces_and_names_the_flag() -> None:
    with pytest.raises(ConfigError, match="--sandbox strict") as info:
        choose("strict", probes(landlock=FULL, limits={"writes_inside": True}))
    assert "expected" in str(info.value) and "--sandbox auto" in str(info.value)


def test_off_is_honoured_with_a_warning_and_unknown_modes_are_refused() -> None:
    choice = choose("off", probes(namespaces=FULL))
    assert choice.level == "off" and choice.warning is not None and choice.guarantees == ()
    with pytest.raises(ConfigError, match="expected --sandbox to be one of auto, strict, off"):
        choose("tight", probes(namespaces=FULL))


def test_the_choice_is_journal_ready() -> None:
    data = choose("auto", probes(namespaces=FULL)).to_json()
    assert json.loads(json.dumps(data))["level"] == "namespaces"


# ---- this machine --------------------------------------------------------------------------------

AVAILABLE = [p.level for p in probe_machine() if p.holds]
CONFINED = [level for level in ("namespaces", "landlock") if level in AVAILABLE]


def test_this_machine_offers_a_confining_level() -> None:
    """The CI machine allows user namespaces; if it ever stops, the run degrades and this says so."""
    assert "namespaces" in AVAILABLE, [p.report for p in probe_machine()]


@pytest.fixture(scope="module", params=[(lvl, fork) for lvl in CONFINED for fork in (True, False)],
                ids=lambda p: f"{p[0]}-{'fork' if p[1] else 'plain'}")  # fmt: skip
def confined(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LocalExecutor, Path]]:
    level, fork = request.param
    home = tmp_path_factory.mktemp("home")
    (home / ".netrc").write_text("machine example.com password sk-home-secret\n")
    sandbox = Sandbox.for_level(level).hiding(str(home))
    with LocalExecutor(preload=("numpy",), use_forkserver=fork, sandbox=sandbox) as ex:
        ex.start()
        yield ex, home


def _attempt(tmp_path: Path) -> tuple[Path, Path]:
    """An attempt folder with an ./input link to a data file outside it, as the harness lays it out."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.csv").write_text("a,b\n1,2\n")
    work = tmp_path / "attempt"
    (work / "input").mkdir(parents=True)
    (work / "input" / "train.csv").symlink_to(data / "train.csv")
    return work, data


def test_outputs_are_written_and_data_is_read(confined: tuple[LocalExecutor, Path], tmp_path: Path) -> None:
    work, _ = _attempt(tmp_path)
    code = """
    import os, tempfile
    os.makedirs("output", exist_ok=True)
    open("output/copy.csv", "w").write(open("input/train.csv").read())
    with tempfile.NamedTemporaryFile(dir=None) as scratch:
        scratch.write(b"temporary files work")
    """
    result = run(confined[0], work, code)
    assert result.ok, result.stderr_tail
    assert (work / "output" / "copy.csv").read_text() == "a,b\n1,2\n"


def test_data_and_everything_outside_the_attempt_folder_stay_untouched(
    confined: tuple[LocalExecutor, Path], tmp_path: Path
) -> None:
    work, data = _attempt(tmp_path)
    outside = tmp_path / "journal.jsonl"
    outside.write_text("the journal\n")
    code = f"""
    import os
    for path in ["input/train.csv", {str(data / "train.csv")!r}, {str(outside)!r}, "../new-file"]:
        try:
            open(path, "w").write("overwritten")
            print("WROTE", path)
        except OSError as exc:
            print("refused", path, exc.strerror)
    for path in [{str(data / "train.csv")!r}, {str(outside)!r}]:
        try:
            os.remove(path)
            print("REMOVED", path)
        except OSError as exc:
            print("refused", path, exc.strerror)
    """
    result = run(confined[0], work, code)
    assert result.ok, result.stderr_tail
    assert "WROTE" not in result.stdout_tail and "REMOVED" not in result.stdout_tail, result.stdout_tail
    assert (data / "train.csv").read_text() == "a,b\n1,2\n" and outside.read_text() == "the journal\n"
    assert not (tmp_path / "new-file").exists()


def test_the_home_folder_is_hidden(confined: tuple[LocalExecutor, Path], tmp_path: Path) -> None:
    _, home = confined
    code = f"""
    import os
    try:
        print(open({str(home / ".netrc")!r}).read())
    except OSError as exc:
        print("refused", exc.strerror)
    """
    result = run(confined[0], tmp_path / "w", code)
    assert result.ok, result.stderr_tail
    assert "sk-home-secret" not in result.stdout_tail and "refused" in result.stdout_tail


class Listener:
    """A TCP server on 127.0.0.1 outside the sandbox that counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def test_a_listener_on_loopback_outside_is_unreachable(
    confined: tuple[LocalExecutor, Path], tmp_path: Path
) -> None:
    listener = Listener()
    try:
        code = f"""
        import socket
        try:
            socket.create_connection(("127.0.0.1", {listener.port}), timeout=2).close()
            print("CONNECTED")
        except OSError as exc:
            print("refused", exc.strerror)
        """
        result = run(confined[0], tmp_path / "w", code)
    finally:
        listener.close()
    assert result.ok, result.stderr_tail
    assert "CONNECTED" not in result.stdout_tail and listener.accepted == 0


def test_big_files_stop_at_the_file_size_limit(confined: tuple[LocalExecutor, Path], tmp_path: Path) -> None:
    code = """
    block = b"x" * (1 << 20)
    with open("big.bin", "wb") as handle:
        for _ in range(64):
            handle.write(block)
    """
    result = run(confined[0], tmp_path / "w", code, file_mb=8, disk_mb=None)
    assert not result.ok and "File too large" in (result.traceback or ""), result.stderr_tail
    assert (tmp_path / "w" / "big.bin").stat().st_size <= 8 << 20


# ---- namespaces only -----------------------------------------------------------------------------

needs_namespaces = pytest.mark.skipif("namespaces" not in AVAILABLE, reason="no user namespaces here")


@needs_namespaces
@pytest.mark.parametrize("fork", [True, False], ids=["fork", "plain"])
def test_a_namespace_shows_the_script_its_own_processes_only(fork: bool, tmp_path: Path) -> None:
    code = f"""
    import os
    pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    print(os.getpid(), pids)
    try:
        print(open("/proc/{os.getpid()}/environ").read()[:50])
    except OSError as exc:
        print("refused", exc.strerror)
    """
    with LocalExecutor(preload=(), use_forkserver=fork, sandbox=Sandbox.for_level("namespaces")) as ex:
        result = run(ex, tmp_path, code)
    assert result.ok, result.stderr_tail
    first = result.stdout_tail.splitlines()[0]
    assert first == "1 [1]", first


@needs_namespaces
def test_a_daemon_left_behind_dies_with_the_namespace(tmp_path: Path) -> None:
    code = """
    import os, time
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            while True:
                with open("daemon.txt", "a") as handle:
                    handle.write("x")
                time.sleep(0.05)
        os._exit(0)
    time.sleep(0.3)
    """
    with LocalExecutor(preload=(), sandbox=Sandbox.for_level("namespaces")) as ex:
        result = run(ex, tmp_path, code)
    assert result.ok, result.stderr_tail
    size = (tmp_path / "daemon.txt").stat().st_size
    threading.Event().wait(0.5)  # were it alive, it would write 10 more times
    assert (tmp_path / "daemon.txt").stat().st_size == size


@pytest.mark.parametrize("level", CONFINED)
def test_a_fork_bomb_stops_at_the_process_limit(level: str, tmp_path: Path) -> None:
    """The kernel refuses the forks (pids cgroup, or RLIMIT_NPROC for a non-root user), or the runner
    kills the run when its count passes the limit: either way it ends at once and says why."""
    code = """
    import os, time
    started = 0
    for _ in range(40):
        try:
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
            started += 1
        except OSError as exc:
            print("fork refused after", started, exc.strerror)
            raise
    time.sleep(30)
    """
    with LocalExecutor(preload=(), sandbox=Sandbox.for_level(level)) as ex:
        result = run(ex, tmp_path, code, max_processes=12, timeout_s=20)
    assert result.exception == "ProcessLimitExceeded", (result.stdout_tail, result.stderr_tail)
    assert "ProcessLimitExceeded: the script ran more than 12" in (result.traceback or "")
    assert result.duration_s < 15 and not result.timed_out


def test_the_disk_cap_stops_a_growing_folder(tmp_path: Path) -> None:
    code = """
    import time
    block = b"x" * (1 << 20)
    for i in range(400):
        with open(f"part-{i}.bin", "wb") as handle:
            handle.write(block)
        time.sleep(0.01)
    """
    level = CONFINED[0] if CONFINED else "limits"
    with LocalExecutor(preload=(), sandbox=Sandbox.for_level(level)) as ex:
        result = run(ex, tmp_path, code, disk_mb=20, timeout_s=60)
    assert result.exception == "DiskLimitExceeded", result.stderr_tail
    written = sum(p.stat().st_size for p in tmp_path.glob("part-*.bin")) >> 20
    assert 20 <= written < 200


def test_off_keeps_the_old_behaviour(tmp_path: Path) -> None:
    with LocalExecutor(preload=(), sandbox=Sandbox.for_level("off")) as ex:
        result = run(ex, tmp_path, "import os\nprint(os.getpid())\n")
    assert result.ok and int(result.stdout_tail) != 1
    assert not alive(int(result.stdout_tail))
    assert not os.path.exists(tmp_path / ".tmp")


def test_cgroups_a_killed_run_left_behind_are_removed_when_old() -> None:
    import time

    from mlestar.execution.cgroup import PidsCgroup

    old, new = PidsCgroup.create("test-stale", 10), PidsCgroup.create("test-fresh", 10)
    if old is None or new is None:
        pytest.skip("no pids cgroup can be made here")
    try:
        os.utime(old.folder, (time.time() - 3600, time.time() - 3600))
        assert PidsCgroup.remove_stale() >= 1
        assert not old.folder.exists() and new.folder.exists()
    finally:
        old.remove()
        new.remove()
