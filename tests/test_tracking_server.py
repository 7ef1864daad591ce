"""Integration: a real `mlflow server` on 127.0.0.1, and `mlflow models serve` of the registered model.

Both are started here (telemetry off, one worker, job execution off) and stopped afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlestar.journal import Journal
from mlestar.tracking import MlflowTracker, read_tree
from tests.run_factory import fabricate_run
from tests.test_tracking_store import EXPERIMENT, TinyPredictor

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BIN = Path(sys.executable).parent
START_TIMEOUT_S = 240.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="true",
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",  # serve launches uvicorn by name
        **extra,
    )
    return env


def _start(args: list[str], env: dict[str, str], log: Path, ready_url: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{args[:3]} exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(ready_url, timeout=2) as reply:
                if reply.status == 200:
                    return proc
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    _stop(proc)
    raise AssertionError(f"{args[:3]} not ready after {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process group we started (the server's workers go with it)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("server")
    port = _free_port()
    args = [
        str(BIN / "mlflow"), "server",
        "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination", str(root / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    proc = _start(args, _env(), root / "server.log", f"{url}/health")
    yield url
    _stop(proc)


def test_team_server_gets_the_run_and_serves_its_model(server: str, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    trackers: list[MlflowTracker] = []

    def attach(journal: Journal) -> None:
        trackers.append(MlflowTracker(server, run_dir, EXPERIMENT))
        trackers[0].follow(journal)

    fab = fabricate_run(run_dir, fit_predictor=TinyPredictor, on_journal=attach)
    report = trackers[0].close(timeout_s=240)
    assert report.complete, report.summary()
    assert report.model_uri == f"models:/{EXPERIMENT}/1"
    tree = read_tree(server, EXPERIMENT)
    assert [n["node_id"] for n in tree] == fab.node_ids
    assert [n["parent"] for n in tree] == [n.parent for n in fab.nodes]
    assert not (run_dir / "mlflow.db").exists()  # everything went to the server

    port = _free_port()
    args = [
        str(BIN / "mlflow"), "models", "serve", "-m", str(report.model_uri),
        "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    proc = _start(
        args, _env(MLFLOW_TRACKING_URI=server), tmp_path / "serve.log", f"http://127.0.0.1:{port}/ping"
    )
    try:
        answer = _invoke(port, {"dataframe_split": json.loads(fab.test.to_json(orient="split", index=False))})
    finally:
        _stop(proc)
    labels = [row["label"] for row in answer["predictions"]]
    assert labels == fab.submission["label"].tolist()


def _invoke(port: int, payload: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as reply:
        result: dict[str, Any] = json.loads(reply.read())
    return result
