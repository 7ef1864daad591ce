"""Experiment tracking in MLflow (with serving/, the only parts of mlestar that import mlflow, lazily).

sink.py             MlflowTracker: follows the journal live, sends from a background thread
sync.py             sync_run: re-sends a finished run's journal (`mlestar track RUN_DIR`)
writer.py           StoreWriter: journal records -> parent run + nested runs, idempotently
records.py          node records -> tags, params, metrics, artifact texts (pure)
run_facts.py        events -> the parent run's params and tags (pure)
datasets.py         data/ files -> MLflow dataset inputs with SHA-256 digests
final_model.py      model/model.pkl -> a registered pyfunc model
                    (the pyfunc wrapper itself lives in mlestar/serving/)
tree.py             read_tree: the search tree read back from MLflow alone
scrub.py            secrets kept out of every param, tag and artifact
backend.py          importing mlflow (telemetry off), clients, store locations
"""

from mlestar.tracking.final_model import FinalModel, log_final_model, registered_name
from mlestar.tracking.report import SyncReport, TrackingReport, Unlogged
from mlestar.tracking.sink import Backoff, MlflowTracker
from mlestar.tracking.sync import sync_run
from mlestar.tracking.tree import read_tree

__all__ = [
    "Backoff",
    "FinalModel",
    "MlflowTracker",
    "SyncReport",
    "TrackingReport",
    "Unlogged",
    "log_final_model",
    "read_tree",
    "registered_name",
    "sync_run",
]
