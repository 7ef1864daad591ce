"""`mlestar monitor RUN_DIR [NEW_DATA]`: new or logged data compared with the run's reference.

It reports schema findings (validate.py), per-feature drift and prediction drift (drift.py),
label drift and the live metric when answers are present, and writes monitor.json and
monitor.html. The verdict is the exit status: 0 when nothing is wrong, 1 when a column drifts,
the predictions drift, the table has errors or the live metric is worse beyond noise.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlestar.errors import ConfigError, TaskError
from mlestar.metrics import get_metric
from mlestar.monitoring.drift import ALPHA, PSI_MIN, ColumnDrift, drift_of
from mlestar.monitoring.live_metric import LiveMetric, live_metric, validation_draws
from mlestar.monitoring.request_log import logged_predictions, read_logged
from mlestar.monitoring.schema import describe_column
from mlestar.monitoring.validate import Finding, check_frame
from mlestar.serving.loaded import ServedModel, load_run_model
from mlestar.task.files import read_table

REPORTS_DIR = Path("monitoring") / "reports"
REFERENCE_PREDICTIONS = Path("monitoring") / "reference_predictions.npy"


@dataclass(frozen=True)
class MonitorSettings:
    alpha: float = ALPHA
    psi_min: float = PSI_MIN
    labels: Path | None = None
    """A table of answers joined to the new rows by the id column."""
    last_windows: int | None = None
    out_dir: Path | None = None
    seed: int = 0


@dataclass(frozen=True)
class MonitorResult:
    source: str
    n_rows: int
    findings: tuple[Finding, ...]
    features: tuple[ColumnDrift, ...]
    predictions: tuple[ColumnDrift, ...]
    labels: tuple[ColumnDrift, ...]
    live: LiveMetric | None
    missing: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Column -> (training missing rate, new missing rate)."""
    created: float = field(default_factory=time.time)

    @property
    def drifted(self) -> list[str]:
        return [d.column for d in (*self.features, *self.predictions, *self.labels) if d.drifted]

    @property
    def status(self) -> str:
        if any(f.severity == "error" for f in self.findings):
            return "invalid"
        if self.drifted:
            return "drift"
        return "degraded" if self.live is not None and self.live.degraded else "ok"

    @property
    def exit_code(self) -> int:
        return 0 if self.status == "ok" else 1

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "source": self.source,
            "n_rows": self.n_rows,
            "created": self.created,
            "drifted": self.drifted,
            "findings": [f.to_json() for f in self.findings],
            "features": [d.to_json() for d in self.features],
            "predictions": [d.to_json() for d in self.predictions],
            "labels": [d.to_json() for d in self.labels],
            "live_metric": self.live.to_json() if self.live else None,
            "missing": {k: list(v) for k, v in self.missing.items()},
        }


def monitor_run(run_dir: Path, new_data: Path | None, settings: MonitorSettings) -> MonitorResult:
    model = load_run_model(run_dir)
    frame, source, logged = _new_rows(run_dir, model, new_data, settings)
    if settings.labels is not None:
        frame = _join_labels(model, frame, settings.labels)
    checked = check_frame(model.schema, frame)
    present = [c for c in model.schema.features if c.name in checked.frame.columns]
    features = drift_of([(c, checked.frame[c.name]) for c in present], settings.alpha, settings.psi_min)
    pred = logged if logged is not None else (model.predict(checked.frame) if checked.ok else None)
    predictions = _prediction_drift(run_dir, model, pred, settings) if pred is not None else []
    labels, live = _label_checks(model, frame, pred, settings)
    missing = {c.name: (c.missing_rate, float(frame[c.name].isna().mean())) for c in present}
    return MonitorResult(
        source,
        len(frame),
        checked.findings,
        tuple(features),
        tuple(predictions),
        tuple(labels),
        live,
        missing,
    )


def _new_rows(
    run_dir: Path, model: ServedModel, new_data: Path | None, settings: MonitorSettings
) -> tuple[pd.DataFrame, str, np.ndarray | None]:
    if new_data is not None:
        return read_table(new_data, model.spec.id_column), str(new_data), None
    logged = read_logged(run_dir, settings.last_windows)
    if logged is None:
        raise ConfigError(
            f"expected NEW_DATA or logged requests in {run_dir / 'monitoring' / 'requests'}, found neither: "
            "pass a table, or serve with --log-requests"
        )
    return logged, "logged requests", logged_predictions(logged)


def _join_labels(model: ServedModel, frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    spec = model.spec
    if not spec.id_column or spec.id_column not in frame.columns:
        raise ConfigError(
            f"expected the id column {spec.id_column!r} in the new rows to join --labels on; found none"
        )
    labels = read_table(path, spec.id_column)
    answers = [c for c in spec.train_target_columns if c in labels.columns]
    if not answers:
        raise ConfigError(
            f"expected answer column(s) {list(spec.train_target_columns)} in --labels {path}, found {list(labels.columns)}"
        )
    keyed = labels[[spec.id_column, *answers]].drop_duplicates(spec.id_column)
    base = frame.drop(columns=[c for c in answers if c in frame.columns])
    return base.merge(keyed, on=spec.id_column, how="inner")


def _prediction_drift(
    run_dir: Path, model: ServedModel, pred: np.ndarray, settings: MonitorSettings
) -> list[ColumnDrift]:
    reference = reference_predictions(run_dir, model)
    names = _output_names(model)
    pairs = []
    for j in range(min(reference.shape[1], pred.shape[1])):
        col = describe_column(names[j], pd.Series(reference[:, j]))
        pairs.append((col, pd.Series(pred[:, j])))
    return drift_of(pairs, settings.alpha, settings.psi_min)


def reference_predictions(run_dir: Path, model: ServedModel) -> np.ndarray:
    """The model's predictions on the run's test table: what serving should look like (cached)."""
    path = run_dir / REFERENCE_PREDICTIONS
    if path.is_file():
        return np.load(path)
    pred = model.predict(pd.read_parquet(run_dir / "data" / "test.parquet"))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, pred)
    return pred


def _output_names(model: ServedModel) -> list[str]:
    """One name per column of the prediction array: the classes of a multi-class task, else the
    submission's prediction columns (binary: the probability of the positive class)."""
    spec = model.spec
    names = (
        spec.classes if spec.n_outputs > len(spec.target_columns) and spec.classes else spec.target_columns
    )
    return [f"prediction:{n}" for n in names]


def _label_checks(
    model: ServedModel, frame: pd.DataFrame, pred: np.ndarray | None, settings: MonitorSettings
) -> tuple[list[ColumnDrift], LiveMetric | None]:
    from mlestar.prepare import encode_target

    spec = model.spec
    if not all(c in frame.columns for c in spec.train_target_columns):
        return [], None
    labelled = frame[list(spec.train_target_columns)].notna().all(axis=1).to_numpy()
    targets = [(t, frame.loc[labelled, t.name]) for t in model.schema.targets]
    drift = drift_of(targets, settings.alpha, settings.psi_min)
    if pred is None or not labelled.any():
        return drift, None
    try:
        y = encode_target(spec, frame.loc[labelled].reset_index(drop=True))
    except TaskError as exc:
        raise ConfigError(f"expected answers like the training ones in the new rows: {exc}") from None
    metric = get_metric(spec.metric)
    validation = model.facts.get("validation_score")
    reference = validation_draws(Path(model.source), metric, model.facts.get("final_node"), settings.seed + 1)
    live = live_metric(metric, y, pred[labelled], validation, reference, settings.seed)
    return drift, live


def write_report(result: MonitorResult, run_dir: Path, out_dir: Path | None, title: str) -> Path:
    """monitor.json and monitor.html in out_dir (default RUN_DIR/monitoring/reports/<time>/)."""
    from mlestar.monitoring.html import render_page

    folder = out_dir or run_dir / REPORTS_DIR / time.strftime("%Y%m%d-%H%M%S", time.gmtime(result.created))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "monitor.json").write_text(json.dumps(result.to_json(), indent=1))
    (folder / "monitor.html").write_text(render_page(result, title))
    return folder


def summary_lines(result: MonitorResult) -> list[str]:
    lines = [f"{result.status}: {result.n_rows} rows from {result.source}"]
    lines += [f"  {f.severity}: {f.message}" for f in result.findings]
    for d in (*result.features, *result.predictions, *result.labels):
        mark = "DRIFT" if d.drifted else "ok   "
        lines.append(f"  {mark} {d.column:<28} {d.test:<4} p={d.p_value:.2g} psi={d.psi:.3f} n={d.n}")
    if result.live is not None:
        lv = result.live
        lines.append(
            f"  live {lv.metric} {lv.value:.5g} [{lv.low:.5g}, {lv.high:.5g}] on {lv.n} rows; "
            f"validation {lv.validation if lv.validation is None else f'{lv.validation:.5g}'}"
            + (" (worse beyond noise)" if lv.degraded else "")
        )
    return lines
