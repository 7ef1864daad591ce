"""The model registry side of serving: aliases (champion, challenger) and loading a version.

Every call goes through an explicit client on one store (tracking/backend.py), never through
mlflow's global URI. A version is loaded from its own artifacts: the pyfunc carries the pickled
predictor, the task spec and the schema, so no run folder is needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlestar.monitoring.schema import DataSchema
from mlestar.run_layout import RunLayout
from mlestar.serving.loaded import ServedModel
from mlestar.tracking.backend import connect, load_mlflow, resolve_uri
from mlestar.tracking.final_model import registered_name
from mlestar.tracking.records import KIND_RUN, TAG_KIND, TAG_MODEL_VERSION, TAG_RUN_ID, normalize, run_key

CHAMPION = "champion"
CHALLENGER = "challenger"


def store_of(run_dir: Path, tracking_uri: str | None = None) -> str:
    """The store a run was tracked to: the flag, else its config's URI, else its own folder's."""
    if tracking_uri:
        return tracking_uri
    config = RunLayout(run_dir).config
    configured = json.loads(config.read_text()).get("tracking_uri") if config.is_file() else None
    return resolve_uri(configured, run_dir)


def model_name(run_dir: Path) -> str:
    task = json.loads(RunLayout(run_dir).task.read_text())
    return registered_name(str(task.get("name") or run_dir.name))


def run_version(tracking_uri: str, run_dir: Path) -> str | None:
    """The registered version of a run's final model, or None when it was never registered."""
    key = journal_key(run_dir)
    if key is None:
        return None
    client = connect(tracking_uri)
    found = client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        filter_string=f"tags.`{TAG_RUN_ID}` = '{key}' and tags.`{TAG_KIND}` = '{KIND_RUN}'",
        max_results=1,
    )
    return found[0].data.tags.get(TAG_MODEL_VERSION) if found else None


def journal_key(run_dir: Path) -> str | None:
    """The run's stable key, as the tracker computes it from the journal's first record."""
    from mlestar.journal import Journal

    for record in Journal(run_dir).records():
        item = normalize(str(record.get("kind", "")), record)
        if item is not None:
            return run_key(*item)
    return None


def alias_version(tracking_uri: str, name: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    client = connect(tracking_uri)
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def set_alias(tracking_uri: str, name: str, alias: str, version: str) -> None:
    connect(tracking_uri).set_registered_model_alias(name, alias, version)


def load_version(tracking_uri: str, name: str, version: str) -> ServedModel:
    """A registered version, from its own artifacts (predictor, task spec, schema)."""
    mlflow = load_mlflow()
    client = connect(tracking_uri)
    found = client.get_model_version(name, version)
    source = found.source
    local = mlflow.artifacts.download_artifacts(artifact_uri=source, tracking_uri=tracking_uri)
    wrapper: Any = mlflow.pyfunc.load_model(local).unwrap_python_model()
    schema_json = getattr(wrapper, "schema_json", None)
    if not schema_json:
        raise ValueError(
            f"expected a schema with models:/{name}/{version}, found none (a model logged before schemas)"
        )
    facts: dict[str, Any] = {"registered_model": name}
    if found.run_id:
        facts["validation_score"] = client.get_run(found.run_id).data.metrics.get("final_score")
    schema = DataSchema.from_json(schema_json)
    return ServedModel(wrapper.spec, wrapper.predictor, schema, f"models:/{name}/{version}", version, facts)
