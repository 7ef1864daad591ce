"""The one door to mlflow: importing it with telemetry off, opening a client, naming stores.

mlflow is imported here, inside functions, so `import mlestar` stays fast (mlflow costs seconds).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import warnings
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

if TYPE_CHECKING:
    from mlflow import MlflowClient

LOCAL_DB = "mlflow.db"
LOCAL_ARTIFACTS = "mlartifacts"

# MLflow's own HTTP retries (7 by default, exponential) would hold the sender thread for minutes
# on a dead server; the tracker retries with its own backoff instead. A user's setting wins.
_HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}


def load_mlflow() -> ModuleType:
    """Import mlflow with its telemetry switched off (it looks up a host on import otherwise)."""
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    for name, value in _HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)
    import mlflow

    _quiet()
    return mlflow


@functools.cache
def _quiet() -> None:
    """No progress bars or chatter from a background thread over the search's live panel (once)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    if "MLFLOW_LOGGING_LEVEL" not in os.environ:
        logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("mlflow.pyfunc").addFilter(_drop_pickle_advice)
    # Integer columns are what the test table has; the hint about missing values is noise here.
    warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer", category=UserWarning)


def _drop_pickle_advice(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("Passing a Python object as `python_model`")


def local_store_uri(run_dir: Path) -> str:
    """The store kept inside the run folder when no tracking URI is given."""
    return f"sqlite:///{(run_dir / LOCAL_DB).resolve()}"


def resolve_uri(tracking_uri: str | None, run_dir: Path) -> str:
    return tracking_uri or local_store_uri(run_dir)


def artifact_root(tracking_uri: str, run_dir: Path) -> str | None:
    """Where a new experiment keeps its artifacts; None lets the store decide (servers do).

    A bare SQLite store would otherwise put artifacts in ./mlruns of whatever folder the process
    happens to run in; keep them beside the database instead.
    """
    if tracking_uri == local_store_uri(run_dir):
        return (run_dir / LOCAL_ARTIFACTS).resolve().as_uri()
    parsed = urlparse(tracking_uri)
    if parsed.scheme == "sqlite" and parsed.path not in ("", "/:memory:"):
        db = Path(tracking_uri.removeprefix("sqlite:///"))
        return (db.parent / LOCAL_ARTIFACTS).resolve().as_uri()
    return None


def connect(tracking_uri: str) -> MlflowClient:
    """A client bound to one store (tracking and registry), never to mlflow's global URI."""
    mlflow = load_mlflow()
    return mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def display_uri(tracking_uri: str) -> str:
    """The URI with any user:password@ removed, for reports."""
    return re.sub(r"://[^/@\s]+@", "://***@", tracking_uri)


def is_transient(exc: BaseException) -> bool:
    """Worth retrying later: the store is down, slow, busy or failing on its side (5xx)."""
    if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError | NotADirectoryError):
        return False  # a local file problem: waiting will not fix it
    if isinstance(exc, OSError):  # connection refused or reset, timeouts, unreachable networks
        return True
    status = _http_status(exc)
    if status is not None:
        return status >= 500 or status == 429
    return type(exc).__name__ in ("OperationalError", "DatabaseError", "InterfaceError")


def _http_status(exc: BaseException) -> int | None:
    getter: Any = getattr(exc, "get_http_status_code", None)
    if getter is None:
        return None
    try:
        return int(getter())
    except (TypeError, ValueError):
        return None


def short_error(exc: BaseException, limit: int = 200) -> str:
    """One line; for an HTTP failure, the request and the root cause ("[Errno 111] Connection refused")."""
    text = " ".join(str(exc).split())
    cause = re.search(r"\[Errno -?\d+\][^'\")]*", text)
    if len(text) > limit:
        text = text[:limit] + " …" + (f" {cause.group(0).strip()}" if cause else "")
    return f"{type(exc).__name__}: {text}"
