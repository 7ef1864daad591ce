"""`mlestar serve`'s app on 127.0.0.1: real HTTP requests, good and malformed, against a real run."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlestar.monitoring.request_log import LogSettings, RequestLog, read_logged
from mlestar.serving.loaded import load_run_model
from mlestar.serving.server import ModelSlot, ServeSettings, build_app, running
from tests.serving_support import real_run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(
    url: str, body: bytes | None = None, content_type: str = "application/json", accept: str = ""
) -> tuple[int, str]:
    headers = {"Content-Type": content_type} if body is not None else {}
    if accept:
        headers["Accept"] = accept
    request = urllib.request.Request(
        url, data=body, headers=headers, method="POST" if body is not None else "GET"
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return real_run(tmp_path_factory)


@pytest.fixture(scope="module")
def server(run: Path) -> Iterator[str]:
    settings = ServeSettings(max_bytes=200_000, max_rows=500)
    with running(build_app(ModelSlot(load_run_model(run)), settings), "127.0.0.1", free_port()) as url:
        yield url


def _submission(run: Path) -> pd.DataFrame:
    return pd.read_csv(run / "submission.csv")


def _test_rows(run: Path) -> pd.DataFrame:
    return pd.read_parquet(run / "data" / "test.parquet")


def test_json_records_get_the_submissions_predictions(run: Path, server: str) -> None:
    rows = _test_rows(run)
    status, text = call(f"{server}/predict", rows.to_json(orient="records").encode())
    assert status == 200, text
    answer = pd.DataFrame(json.loads(text)["predictions"])
    expected = _submission(run).set_index("id").loc[answer["id"]]
    np.testing.assert_allclose(answer["label"].to_numpy(), expected["label"].to_numpy(), rtol=1e-9)


def test_csv_in_and_out_gives_the_same_answers(run: Path, server: str) -> None:
    body = _test_rows(run).head(20).to_csv(index=False).encode()
    status, text = call(f"{server}/predict", body, "text/csv", accept="text/csv")
    assert status == 200, text
    answer = pd.read_csv(pd.io.common.StringIO(text))
    expected = _submission(run).set_index("id").loc[answer["id"]]
    np.testing.assert_allclose(answer["label"].to_numpy(), expected["label"].to_numpy(), rtol=1e-9)


def test_mlflow_shaped_json_and_a_single_record_are_accepted(run: Path, server: str) -> None:
    rows = _test_rows(run).head(3)
    split = {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}
    status, text = call(f"{server}/predict", json.dumps(split).encode())
    assert status == 200 and len(json.loads(text)["predictions"]) == 3
    one = json.loads(rows.head(1).to_json(orient="records"))[0]
    status, text = call(f"{server}/predict", json.dumps(one).encode())
    assert status == 200 and len(json.loads(text)["predictions"]) == 1


@pytest.mark.parametrize(
    ("body", "content_type", "status", "says"),
    [
        (b"{not json", "application/json", 400, "invalid JSON"),
        (b"", "application/json", 400, "empty body"),
        (b'[{"id": 1, "x1": 0.1, "x2": 1, "colour": "red"}]', "application/json", 422, "'note'"),
        (
            b'[{"id": 1, "x1": "lots", "x2": 1, "colour": "red", "note": "a b c d"}]',
            "application/json",
            422,
            "expected number values in 'x1'",
        ),
        (
            b'[{"id": 1, "x1": {"a": 1}, "x2": 1, "colour": "red", "note": "a"}]',
            "application/json",
            400,
            "nested",
        ),
        (b"id,x1\n1,2\n", "application/xml", 415, "Content-Type"),
        (b'"just text"', "application/json", 400, "list of records"),
    ],
)
def test_malformed_requests_get_a_4xx_that_says_what_is_wrong(
    server: str, body: bytes, content_type: str, status: int, says: str
) -> None:
    got, text = call(f"{server}/predict", body, content_type)
    assert got == status, text
    assert says in json.loads(text)["error"]


def test_size_limits_answer_413(run: Path, server: str) -> None:
    big = pd.concat([_test_rows(run)] * 4, ignore_index=True)  # 600 rows > max_rows 500
    status, text = call(f"{server}/predict", big.to_csv(index=False).encode(), "text/csv")
    assert status == 413 and "at most 500 rows" in json.loads(text)["error"]
    status, text = call(f"{server}/predict", b"[" + b" " * 300_000 + b"]")
    assert status == 413 and "bytes" in json.loads(text)["error"]


def test_unseen_values_are_answered_with_warnings(server: str) -> None:
    row = {"id": 7, "x1": 0.2, "x2": 1, "colour": "purple", "note": "fast red new day"}
    status, text = call(f"{server}/predict", json.dumps([row]).encode())
    assert status == 200
    assert any("purple" in w for w in json.loads(text)["warnings"])


def test_health_and_metadata(run: Path, server: str) -> None:
    status, text = call(f"{server}/health")
    assert status == 200 and json.loads(text)["status"] == "ok"
    status, text = call(f"{server}/metadata")
    meta = json.loads(text)
    final = next(
        json.loads(line) for line in (run / "journal.jsonl").read_text().splitlines() if '"final"' in line
    )
    assert meta["task"] == "shop" and meta["metric"] == "roc_auc"
    assert meta["validation_score"] == pytest.approx(final["score"])
    assert [c["name"] for c in meta["schema"]["columns"]] == ["id", "x1", "x2", "colour", "note"]
    assert "scikit-learn" in meta["versions"]


def test_metrics_count_requests_errors_latency_and_drift(run: Path, server: str) -> None:
    call(f"{server}/predict", _test_rows(run).head(30).to_json(orient="records").encode())
    call(f"{server}/predict", b"{broken", "application/json")
    status, text = call(f"{server}/metrics")
    assert status == 200
    values = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert values['mlestar_requests_total{endpoint="/predict",status="200"}'] >= 1
    assert values['mlestar_requests_total{endpoint="/predict",status="400"}'] >= 1
    assert values["mlestar_request_errors_total"] >= 1
    assert values["mlestar_predict_latency_seconds_count"] >= 2
    assert values["mlestar_rows_predicted_total"] >= 30
    assert (
        'mlestar_feature_psi{feature="x1"}' in values and 'mlestar_feature_drift{feature="colour"}' in values
    )


def test_request_logging_writes_windows_without_free_text(run: Path, tmp_path: Path) -> None:
    model = load_run_model(run)
    log = RequestLog(tmp_path, model.schema, LogSettings(window_rows=40, exclude=("colour",)))
    rows = _test_rows(run).head(110)
    with running(build_app(ModelSlot(model), ServeSettings(), log), "127.0.0.1", free_port()) as url:
        for start in range(0, 110, 25):
            call(f"{url}/predict", rows.iloc[start : start + 25].to_json(orient="records").encode())
    logged = read_logged(tmp_path)
    assert logged is not None and len(logged) == 110
    # windows close once past 40 rows (50, 50); the last 10 rows are written when the server stops
    assert [int(p.stem.rsplit("-", 1)[1]) for p in log.written] == [50, 50, 10]
    assert "note" not in logged.columns and "colour" not in logged.columns  # free text and excluded
    assert {"x1", "x2", "_pred_0", "_time"} <= set(logged.columns)
    expected = _submission(run).set_index("id").loc[logged["id"], "label"].to_numpy()
    np.testing.assert_allclose(logged["_pred_0"].to_numpy(), expected, rtol=1e-9)
