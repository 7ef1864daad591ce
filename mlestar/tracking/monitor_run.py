"""A monitoring report as an MLflow run, in the monitored run's experiment.

Tagged mlestar.kind=monitor and mlestar.monitored_run (the run's key), so reports of one model
line up over time in the MLflow UI. Metrics: rows, drifted columns, each column's PSI and
p-value, the live metric; artifacts: monitor.json and monitor.html.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mlestar.tracking.backend import artifact_root, connect

KIND_MONITOR = "monitor"


def log_monitor_run(
    tracking_uri: str,
    run_dir: Path,
    experiment: str,
    run_key: str | None,
    report: dict[str, Any],
    folder: Path,
) -> str:
    """Log one monitoring report; returns the MLflow run id."""
    client = connect(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    experiment_id = (
        found.experiment_id if found is not None
        else client.create_experiment(experiment, artifact_location=artifact_root(tracking_uri, run_dir))
    )  # fmt: skip
    tags = {
        "mlestar.kind": KIND_MONITOR,
        "mlestar.status": str(report["status"]),
        "mlestar.source": str(report["source"])[:500],
    }
    if run_key:
        tags["mlestar.monitored_run"] = run_key
    run = client.create_run(str(experiment_id), tags=tags, run_name=f"monitor {folder.name}")
    run_id = run.info.run_id
    for name, value in _metrics(report).items():
        client.log_metric(run_id, name, value)
    for file in ("monitor.json", "monitor.html"):
        if (folder / file).is_file():
            client.log_artifact(run_id, str(folder / file))
    client.set_terminated(run_id, status="FINISHED")
    return str(run_id)


def _metrics(report: dict[str, Any]) -> dict[str, float]:
    metrics = {"rows": float(report["n_rows"]), "drifted_columns": float(len(report["drifted"]))}
    metrics["errors"] = float(sum(1 for f in report["findings"] if f["severity"] == "error"))
    for group in ("features", "predictions", "labels"):
        for d in report[group]:
            key = _key(d["column"])
            metrics[f"psi.{key}"] = float(d["psi"])
            metrics[f"p_value.{key}"] = float(d["p_value"])
    live = report.get("live_metric")
    if live:
        metrics["live_metric"] = float(live["value"])
    return metrics


def _key(name: str) -> str:
    """MLflow metric names allow letters, digits, _ - . / and spaces."""
    return re.sub(r"[^A-Za-z0-9_\-./ ]", "_", name)[:200]
