"""`mlestar predict`, `mlestar validate` and `mlestar serve` as a user types them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlestar.cli import main
from tests.serving_support import real_run, shop_rows
from tests.test_serving_http import free_port


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return real_run(tmp_path_factory)


def test_predict_writes_the_submissions_values(run: Path, tmp_path: Path) -> None:
    rows = pd.read_parquet(run / "data" / "test.parquet")
    rows.to_csv(tmp_path / "new.csv", index=False)
    assert main(["predict", str(run), str(tmp_path / "new.csv"), "-o", str(tmp_path / "out.csv")]) == 0
    out = pd.read_csv(tmp_path / "out.csv")
    expected = pd.read_csv(run / "submission.csv").set_index("id").loc[out["id"]]
    assert list(out.columns) == ["id", "label"]
    np.testing.assert_allclose(out["label"].to_numpy(), expected["label"].to_numpy(), rtol=1e-9)


def test_predict_refuses_a_table_with_schema_errors(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shop_rows(30, 1).drop(columns=["x1"]).to_csv(tmp_path / "bad.csv", index=False)
    assert main(["predict", str(run), str(tmp_path / "bad.csv"), "-o", str(tmp_path / "out.csv")]) == 2
    assert "expected column 'x1'" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()


def test_validate_exit_status_is_fit_for_ci(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good, odd, bad = tmp_path / "good.csv", tmp_path / "odd.csv", tmp_path / "bad.csv"
    shop_rows(50, 2).to_csv(good, index=False)
    shop_rows(50, 3).assign(colour="violet").to_csv(odd, index=False)
    shop_rows(50, 4).assign(x2="many").to_csv(bad, index=False)
    assert main(["validate", str(run), str(good)]) == 0
    assert main(["validate", str(run), str(odd)]) == 0  # a warning only
    assert main(["validate", str(run), str(odd), "--strict"]) == 1
    capsys.readouterr()
    assert main(["validate", str(run), str(bad), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["ok"] and report["findings"][0]["check"] == "wrong_type"
    assert main(["validate", str(tmp_path), str(good)]) == 2  # not a run folder


@pytest.mark.slow
def test_serve_command_answers_on_loopback_and_stops_on_sigterm(run: Path, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    args = [sys.executable, "-m", "mlestar", "serve", str(run), "--port", str(port)]
    with (tmp_path / "serve.log").open("wb") as log:
        proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as reply:
                    assert json.loads(reply.read())["status"] == "ok"
                    break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                time.sleep(0.5)
        else:
            raise AssertionError("the server did not start")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught: -SIGTERM is a clean stop.
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
