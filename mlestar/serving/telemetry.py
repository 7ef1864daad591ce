"""What /metrics reports, in Prometheus text: requests, errors, latency, rows, drift gauges.

Written by hand (the format is a few lines of text) so serving needs no metrics library.
"""

from __future__ import annotations

import threading
from collections import Counter, deque

import pandas as pd

from mlestar.monitoring.drift import drift_of
from mlestar.monitoring.schema import DataSchema

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DRIFT_ROWS = 5000
"""Served rows kept for the drift gauges (the most recent ones)."""


class Telemetry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, int]] = Counter()
        self.rows = 0
        self.buckets = [0] * len(BUCKETS)
        self.latency_sum = 0.0
        self.latency_count = 0
        self.recent: deque[pd.DataFrame] = deque()
        self._recent_rows = 0

    def observe(self, endpoint: str, status: int, seconds: float, rows: int = 0) -> None:
        with self._lock:
            self.requests[(endpoint, status)] += 1
            self.rows += rows
            if endpoint == "/predict":
                self.latency_sum += seconds
                self.latency_count += 1
                for i, bound in enumerate(BUCKETS):
                    if seconds <= bound:
                        self.buckets[i] += 1

    def served(self, frame: pd.DataFrame) -> None:
        """Keep the latest rows for the drift gauges."""
        with self._lock:
            self.recent.append(frame)
            self._recent_rows += len(frame)
            while self._recent_rows - len(self.recent[0]) >= DRIFT_ROWS:
                self._recent_rows -= len(self.recent.popleft())

    def render(self, schema: DataSchema, version: str | None) -> str:
        with self._lock:
            requests = dict(self.requests)
            rows, buckets = self.rows, list(self.buckets)
            lsum, lcount = self.latency_sum, self.latency_count
            recent = pd.concat(list(self.recent), ignore_index=True) if self.recent else None
        lines = ["# HELP mlestar_requests_total Requests answered, by endpoint and status.",
                 "# TYPE mlestar_requests_total counter"]  # fmt: skip
        for (endpoint, status), n in sorted(requests.items()):
            lines.append(f'mlestar_requests_total{{endpoint="{endpoint}",status="{status}"}} {n}')
        errors = sum(n for (_, status), n in requests.items() if status >= 400)
        lines += ["# HELP mlestar_request_errors_total Requests answered with a 4xx or 5xx status.",
                  "# TYPE mlestar_request_errors_total counter", f"mlestar_request_errors_total {errors}",
                  "# HELP mlestar_rows_predicted_total Rows answered by /predict.",
                  "# TYPE mlestar_rows_predicted_total counter", f"mlestar_rows_predicted_total {rows}"]  # fmt: skip
        lines += _histogram(buckets, lsum, lcount)
        lines += _drift_gauges(schema, recent)
        lines += ["# HELP mlestar_model_info The model being served.", "# TYPE mlestar_model_info gauge",
                  f'mlestar_model_info{{task="{_label(schema.task)}",version="{_label(version or "run")}"}} 1']  # fmt: skip
        return "\n".join(lines) + "\n"


def _histogram(buckets: list[int], total: float, count: int) -> list[str]:
    name = "mlestar_predict_latency_seconds"
    lines = [f"# HELP {name} Time to answer /predict.", f"# TYPE {name} histogram"]
    lines += [f'{name}_bucket{{le="{bound}"}} {n}' for bound, n in zip(BUCKETS, buckets, strict=True)]
    lines += [f'{name}_bucket{{le="+Inf"}} {count}', f"{name}_sum {total:.6f}", f"{name}_count {count}"]
    return lines


def _drift_gauges(schema: DataSchema, recent: pd.DataFrame | None) -> list[str]:
    lines = ["# HELP mlestar_feature_psi Population stability index of recent served rows against training.",
             "# TYPE mlestar_feature_psi gauge",
             "# HELP mlestar_feature_drift 1 when a feature of recent served rows has drifted.",
             "# TYPE mlestar_feature_drift gauge"]  # fmt: skip
    if recent is None:
        return lines
    pairs = [(c, recent[c.name]) for c in schema.features if c.name in recent.columns]
    for d in drift_of(pairs):
        lines.append(f'mlestar_feature_psi{{feature="{_label(d.column)}"}} {d.psi:.6f}')
        lines.append(f'mlestar_feature_drift{{feature="{_label(d.column)}"}} {int(d.drifted)}')
    return lines


def _label(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
