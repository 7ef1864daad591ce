"""The keeper of a private Ray cluster on this machine, and the settings that keep Ray on loopback
and quiet.

Two sides in one module. `LocalCluster` runs in the driver's process: it starts the keeper, reads
the cluster's address from the keeper's first line and stops it. `main` runs in the keeper process
(`python -m mlestar.execution.ray_keeper`): it starts Ray there (127.0.0.1 only, no dashboard, a
small object store) and holds the cluster until its stdin closes, which also happens when the driver
dies. The keeper gets a scrubbed environment, so no process of the cluster ever holds a secret; it
and the cluster's processes share a session of their own, and whatever is left in it is killed.

ray is imported inside `main` only: the driver imports this module before Ray is needed.
"""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import yaml

from mlestar.errors import ConfigError, ExecutionFault
from mlestar.execution.env import RAY_RUN_MARK_VARIABLE, scrub
from mlestar.execution.local import read_tail
from mlestar.execution.supervise import ProcessWatch, kill_marked

KEEPER_MODULE = "mlestar.execution.ray_keeper"
LOOPBACK = "127.0.0.1"
BOOTSTRAP_FILE = "ray_bootstrap_config.yaml"
BOOTSTRAP_TEXT = "provider: {type: local}\n"
"""Ray probes cloud-metadata addresses at every cluster start unless this file exists in the home."""
CLUSTER_SETTINGS = (
    ("RAY_USAGE_STATS_ENABLED", "0"),
    ("RAY_AUTH_MODE", "disabled"),
    ("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0"),
)
"""No usage reports, no token file, and 127.0.0.1 stays 127.0.0.1 (else Ray swaps in the LAN address)."""

STARTUP_TIMEOUT_S = 180.0
STOP_WAIT_S = 15.0
_OBJECT_STORE_BYTES = 128 * 1024 * 1024
"""Tasks return small dicts; Ray's default would reserve 30% of the machine's memory."""


# ---- in the driver's process ---------------------------------------------------------------------


def ensure_bootstrap_config(home: Path) -> Path:
    """Make sure `home`/ray_bootstrap_config.yaml says `provider: {type: local}`; write it if missing."""
    path = home / BOOTSTRAP_FILE
    if not path.exists():
        try:
            path.write_text(BOOTSTRAP_TEXT)
        except OSError as exc:
            raise ConfigError(
                f"expected to write {path} (Ray needs it to stay off the network), found {exc}"
            ) from exc
        return path
    text = path.read_text(errors="replace")
    try:
        provider = (yaml.safe_load(text) or {}).get("provider") or {}
    except (yaml.YAMLError, AttributeError):
        provider = {}
    if not isinstance(provider, dict) or provider.get("type") != "local":
        raise ConfigError(
            f"expected {path} to contain `provider: {{type: local}}` (it keeps Ray from probing "
            f"cloud-metadata addresses), found {text[:200]!r}; move it aside or pass a cluster address"
        )
    return path


def cluster_environment(base: Mapping[str, str], temp_dir: Path) -> dict[str, str]:
    """The environment of a cluster we start: the caller's minus secrets, plus Ray's quiet settings."""
    env = scrub(base)
    env.update(CLUSTER_SETTINGS)
    env["RAY_TMPDIR"] = str(temp_dir)
    return env


def is_loopback_address(address: str) -> bool:
    """True for "127.0.0.1:6379", "localhost:6379" and the like: a cluster on this machine's loopback."""
    host = address.removeprefix("ray://").rsplit(":", 1)[0].strip("[]")
    return host in ("localhost", "::1") or host.startswith("127.")


class LocalCluster:
    """The keeper process of a private cluster: start it, learn the cluster's address, stop it."""

    def __init__(self, num_cpus: int, temp_dir: Path, env: Mapping[str, str], mark: str) -> None:
        """`mark`: the keeper kills the scripts carrying it once the cluster is down."""
        self.num_cpus, self.temp_dir, self.env, self.mark = num_cpus, temp_dir, dict(env), mark
        self.process: subprocess.Popen[bytes] | None = None
        self._watch: ProcessWatch | None = None

    def start(self, timeout_s: float = STARTUP_TIMEOUT_S) -> str:
        """Start the cluster; returns its address ("127.0.0.1:port")."""
        command = [sys.executable, "-m", KEEPER_MODULE, str(self.num_cpus), str(self.temp_dir), self.mark]
        log = self.temp_dir / "keeper.log"
        started_at = time.time()
        with open(log, "wb") as err:
            self.process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=self.env,
                start_new_session=True,
            )  # fmt: skip
        self._watch = ProcessWatch(self.process.pid, mark="", started_at=started_at)
        assert self.process.stdout is not None
        line = _read_line(self.process.stdout, self.process, timeout_s)
        try:
            return str(json.loads(line)["address"])
        except (ValueError, KeyError, TypeError):
            self.stop()
            raise ExecutionFault(
                f"expected a Ray cluster on {LOOPBACK} within {timeout_s:g} s, found: "
                f"{read_tail(log, 1500) or 'no message'}"
            ) from None

    def stop(self) -> None:
        """Let the keeper shut Ray down, then kill whatever of the cluster is left."""
        process, self.process = self.process, None
        if process is None or self._watch is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            self._watch.kill_all()
            process.wait(STOP_WAIT_S)
        if process.stdout is not None:
            process.stdout.close()
        self._watch.sweep()


def _read_line(stream: IO[bytes], process: subprocess.Popen[bytes], timeout_s: float) -> str:
    """One line from a child's stdout, or "" when it ends or stays silent for `timeout_s`."""
    deadline, data = time.monotonic() + timeout_s, b""
    while not data.endswith(b"\n") and (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([stream], [], [], min(left, 1.0))
        if ready:
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:
                break
            data += chunk
        elif process.poll() is not None:
            break
    return data.decode(errors="replace")


# ---- in the keeper process -----------------------------------------------------------------------


def main(num_cpus: int, temp_dir: str, mark: str) -> int:
    """Start the cluster, print its address, hold it until stdin closes, then stop it."""
    import ray

    ray.init(
        num_cpus=num_cpus,
        include_dashboard=False,
        _node_ip_address=LOOPBACK,
        _temp_dir=temp_dir,
        object_store_memory=_OBJECT_STORE_BYTES,
        logging_level=logging.WARNING,
        log_to_driver=False,
    )
    print(json.dumps({"address": ray.get_runtime_context().gcs_address}), flush=True)
    sys.stdin.buffer.read()  # until the driver closes the pipe, or dies
    ray.shutdown()
    kill_marked(RAY_RUN_MARK_VARIABLE, mark)  # scripts run in sessions of their own: they outlive workers
    return 0


if __name__ == "__main__":
    raise SystemExit(main(int(sys.argv[1]), sys.argv[2], sys.argv[3]))
