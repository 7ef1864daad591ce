"""`mlestar monitor` on a real run: verdicts, report files, the MLflow run and the live metric."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlestar.cli import main
from mlestar.monitoring.monitor import MonitorSettings, monitor_run
from mlestar.tracking.backend import connect, local_store_uri
from tests.serving_support import real_run, shop_rows


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return real_run(tmp_path_factory)


def test_same_distribution_data_is_ok_and_the_live_metric_is_within_noise(run: Path, tmp_path: Path) -> None:
    shop_rows(300, 21).to_csv(tmp_path / "same.csv", index=False)
    result = monitor_run(run, tmp_path / "same.csv", MonitorSettings())
    assert result.status == "ok", result.drifted
    assert {d.column for d in result.features} == {"x1", "x2", "colour", "note"}
    assert result.predictions and result.labels
    assert result.live is not None and result.live.n == 300 and not result.live.degraded
    assert result.live.low <= result.live.value <= result.live.high


def test_shifted_data_drifts_and_the_cli_says_so(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shop_rows(300, 22, shift=1.0).drop(columns=["label"]).to_csv(tmp_path / "shifted.csv", index=False)
    out = tmp_path / "report"
    assert main(["monitor", str(run), str(tmp_path / "shifted.csv"), "--out", str(out)]) == 1
    report = json.loads((out / "monitor.json").read_text())
    assert report["status"] == "drift"
    assert {"x1", "colour", "prediction:label"} <= set(report["drifted"]) and "x2" not in report["drifted"]
    assert report["live_metric"] is None  # no answers in the new rows
    page = (out / "monitor.html").read_text()
    assert page.count("<svg") == len(report["features"]) + len(report["predictions"])
    assert "<script" not in page and "src=" not in page and "href=" not in page  # self-contained
    printed = capsys.readouterr().out
    assert "DRIFT x1" in printed and "mlflow run:" in printed
    runs = connect(local_store_uri(run)).search_runs(
        [e.experiment_id for e in connect(local_store_uri(run)).search_experiments()],
        filter_string="tags.`mlestar.kind` = 'monitor' and tags.`mlestar.status` = 'drift'",
    )
    assert runs and runs[0].data.metrics["drifted_columns"] == len(report["drifted"])


def test_a_flipped_concept_degrades_the_live_metric(run: Path, tmp_path: Path) -> None:
    new = shop_rows(300, 23, flip=True)
    new.drop(columns=["label"]).to_csv(tmp_path / "rows.csv", index=False)
    new[["id", "label"]].to_csv(tmp_path / "labels.csv", index=False)
    result = monitor_run(run, tmp_path / "rows.csv", MonitorSettings(labels=tmp_path / "labels.csv"))
    assert result.live is not None and result.live.degraded
    assert result.status in ("drift", "degraded") and result.exit_code == 1


def test_logged_requests_are_monitored_without_new_data(run: Path, tmp_path: Path) -> None:
    from mlestar.monitoring.request_log import LogSettings, RequestLog
    from mlestar.serving.loaded import load_run_model

    model = load_run_model(run)
    log = RequestLog(tmp_path, model.schema, LogSettings(window_rows=100))
    rows = shop_rows(250, 24, shift=1.0)
    log.record(rows, model.predict(rows))
    log.close()
    for name in ("task.json", "model", "data", "schema.json", "journal.jsonl"):  # the run, with this log
        (tmp_path / name).symlink_to(run / name)
    result = monitor_run(tmp_path, None, MonitorSettings())
    assert result.source == "logged requests" and result.n_rows == 250
    assert "x1" in result.drifted and "note" not in {d.column for d in result.features}  # text is not logged


def test_monitor_without_data_or_logs_is_a_user_error(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["monitor", str(run), "--no-tracking"]) == 2
    assert "expected NEW_DATA or logged requests" in capsys.readouterr().err
