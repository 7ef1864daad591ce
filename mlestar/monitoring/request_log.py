"""Opt-in logging of served requests, in windows, to RUN_DIR/monitoring/requests/.

Each window is one parquet file of the rows the server answered (in the schema's columns and
types) with their predictions (`_pred_0`, `_pred_1`, ...) and arrival time (`_time`). A window
closes after `window_rows` rows or `window_s` seconds, and when the server stops. Free text is
left out unless asked for, and so is any column whose name looks like a secret or a column the
user excludes.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mlestar.monitoring.schema import DataSchema

REQUESTS_DIR = Path("monitoring") / "requests"
PRED_PREFIX = "_pred_"
TIME_COLUMN = "_time"
_SECRET_NAME = re.compile(r"pass(word)?|secret|token|api[_-]?key|credential|ssn|card[_-]?number", re.I)


@dataclass(frozen=True)
class LogSettings:
    window_rows: int = 1000
    window_s: float = 3600.0
    include_text: bool = False
    exclude: tuple[str, ...] = ()


@dataclass
class _Window:
    frames: list[pd.DataFrame] = field(default_factory=list)
    rows: int = 0
    opened: float = 0.0


def logged_columns(schema: DataSchema, settings: LogSettings) -> list[str]:
    """The schema columns a window keeps: no secrets, no excluded columns, text only when asked."""
    keep = []
    for col in schema.columns:
        if col.name in settings.exclude or _SECRET_NAME.search(col.name):
            continue
        if col.kind == "text" and not settings.include_text:
            continue
        keep.append(col.name)
    return keep


class RequestLog:
    """Thread-safe: the server answers requests from several threads."""

    def __init__(self, run_dir: Path, schema: DataSchema, settings: LogSettings) -> None:
        self.folder = run_dir / REQUESTS_DIR
        self.settings = settings
        self.columns = logged_columns(schema, settings)
        self._lock = threading.Lock()
        self._window = _Window()
        self.written: list[Path] = []

    def record(self, frame: pd.DataFrame, predictions: np.ndarray) -> None:
        now = time.time()
        rows = frame[[c for c in self.columns if c in frame.columns]].reset_index(drop=True)
        pred = np.asarray(predictions, dtype=float).reshape(len(rows), -1)
        rows = rows.assign(
            **{f"{PRED_PREFIX}{j}": pred[:, j] for j in range(pred.shape[1])}, **{TIME_COLUMN: now}
        )
        with self._lock:
            if not self._window.frames:
                self._window.opened = now
            self._window.frames.append(rows)
            self._window.rows += len(rows)
            full = self._window.rows >= self.settings.window_rows
            if full or now - self._window.opened >= self.settings.window_s:
                self._flush_locked()

    def close(self) -> None:
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        window, self._window = self._window, _Window()
        if not window.frames:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(window.opened))
        path = self.folder / f"window-{stamp}-{int(window.opened * 1000) % 1000:03d}-{window.rows}.parquet"
        tmp = path.with_suffix(".tmp")
        pd.concat(window.frames, ignore_index=True).to_parquet(tmp, index=False)
        os.replace(tmp, path)
        self.written.append(path)


def read_logged(run_dir: Path, last: int | None = None) -> pd.DataFrame | None:
    """The logged windows (the last `last` of them), oldest first; None when nothing was logged."""
    files = sorted((run_dir / REQUESTS_DIR).glob("window-*.parquet"))
    if last is not None:
        files = files[-last:]
    if not files:
        return None
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def logged_predictions(frame: pd.DataFrame) -> np.ndarray | None:
    cols = sorted(
        (c for c in frame.columns if str(c).startswith(PRED_PREFIX)), key=lambda c: int(c[len(PRED_PREFIX) :])
    )
    return frame[cols].to_numpy(dtype=float) if cols else None
