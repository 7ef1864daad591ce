"""The registered pyfunc under `mlflow models serve` answers like `mlestar serve` (slow: it
starts a real MLflow scoring server on 127.0.0.1)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlestar.serving.loaded import load_run_model
from mlestar.serving.registry import load_version, model_name, run_version, store_of
from mlestar.serving.server import ModelSlot, ServeSettings, build_app, running
from tests.serving_support import real_run
from tests.test_serving_http import call, free_port
from tests.test_tracking_server import _env, _invoke, _start, _stop

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return real_run(tmp_path_factory)


def test_the_registered_version_carries_the_schema(run: Path) -> None:
    uri = store_of(run)
    version = run_version(uri, run)
    assert version is not None
    served = load_version(uri, model_name(run), version)
    assert served.schema == load_run_model(run).schema


def test_mlflow_models_serve_and_mlestar_serve_agree(run: Path, tmp_path: Path) -> None:
    uri = store_of(run)
    rows = pd.read_parquet(run / "data" / "test.parquet").head(40)
    with running(build_app(ModelSlot(load_run_model(run)), ServeSettings()), "127.0.0.1", free_port()) as url:
        status, text = call(f"{url}/predict", rows.to_json(orient="records").encode())
    assert status == 200
    ours = pd.DataFrame(json.loads(text)["predictions"])["label"].to_numpy()

    port = free_port()
    model_uri = f"models:/{model_name(run)}/{run_version(uri, run)}"
    args = [
        str(Path(sys.executable).parent / "mlflow"),
        "models",
        "serve",
        "-m",
        model_uri,
        "--env-manager",
        "local",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    proc = _start(
        args, _env(MLFLOW_TRACKING_URI=uri), tmp_path / "serve.log", f"http://127.0.0.1:{port}/ping"
    )
    try:
        answer = _invoke(port, {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))})
    finally:
        _stop(proc)
    theirs = np.array([row["label"] for row in answer["predictions"]], dtype=float)
    np.testing.assert_allclose(theirs, ours, rtol=1e-9)
