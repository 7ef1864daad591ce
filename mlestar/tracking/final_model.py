"""The run's final model as an MLflow pyfunc, registered under the task's name.

Logged through an explicit client (MLflow 3 "logged model" + registry), never through mlflow's
global tracking URI, so several stores can be used from one process. Requirements are listed
explicitly (pinned to what is installed) so logging does not spend seconds inferring them.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlestar.run_layout import RunLayout
from mlestar.tracking.records import TAG_MODEL_ID, TAG_MODEL_VERSION, TAG_RUN_ID

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient

    from mlestar.task.spec import TaskSpec

EXAMPLE_ROWS = 5
_BASE_REQUIREMENTS = ("mlflow", "cloudpickle", "numpy", "pandas", "pyarrow")
_MODEL_LIBRARIES = {
    "sklearn": "scikit-learn",
    "lightgbm": "lightgbm",
    "xgboost": "xgboost",
    "catboost": "catboost",
    "scipy": "scipy",
    "optuna": "optuna",
}
"""Module -> the distribution that installs it, for the libraries a pickled predictor may refer to
(a fixed table: asking importlib for every installed distribution takes seconds)."""
_PICKLE_LOCK = threading.Lock()


@dataclass(frozen=True)
class FinalModel:
    name: str
    version: str
    model_id: str

    @property
    def uri(self) -> str:
        """What `mlflow models serve -m` and `mlflow.pyfunc.load_model` take."""
        return f"models:/{self.name}/{self.version}"


def registered_name(task_name: str) -> str:
    """The registry refuses '/' and ':' in names."""
    return re.sub(r"[/:]", "-", task_name).strip() or "mlestar-model"


def prepare_model_logging() -> None:
    """Compute ahead what logging a model computes once per process. mlflow checks a model's
    requirements against the installed packages through a map of every installed distribution's
    files: seconds, which the sending thread spends early (beside the scripts) instead of at the
    run's close. Only a head start: any failure is met again, and reported, when the model is logged."""
    with contextlib.suppress(Exception):
        from mlflow.utils import requirements_utils

        requirements_utils._init_modules_to_packages_map()


def log_final_model(
    client: MlflowClient,
    *,
    experiment_id: str,
    parent_run_id: str,
    run_dir: Path,
    name: str,
    run_key: str,
    spec: TaskSpec | None = None,
) -> FinalModel:
    """Log RUN_DIR/model/model.pkl as a pyfunc on the parent run and register it as `name`.

    Idempotent: a parent run that already carries a registered version is left as it is.
    """
    tags = client.get_run(parent_run_id).data.tags
    if TAG_MODEL_VERSION in tags and TAG_MODEL_ID in tags:
        return FinalModel(name, tags[TAG_MODEL_VERSION], tags[TAG_MODEL_ID])
    if spec is None:
        from mlestar.task.spec import TaskSpec

        spec = TaskSpec.load(run_dir / "task.json")
    model_id = tags.get(TAG_MODEL_ID) or _log_model(
        client, experiment_id, parent_run_id, run_dir, spec, run_key
    )
    version = _register(client, name, model_id, parent_run_id, run_key)
    client.set_tag(parent_run_id, TAG_MODEL_VERSION, version)
    return FinalModel(name, version, model_id)


def _log_model(
    client: MlflowClient, experiment_id: str, parent_run_id: str, run_dir: Path, spec: TaskSpec, run_key: str
) -> str:
    from mlflow.entities import LoggedModelOutput, LoggedModelStatus

    logged = client.create_logged_model(
        experiment_id, name="model", source_run_id=parent_run_id, tags={TAG_RUN_ID: run_key}
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        save_pyfunc(
            folder,
            run_dir,
            spec,
            model_id=logged.model_id,
            parent_run_id=parent_run_id,
            artifact_location=logged.artifact_location,
        )
        client.log_model_artifacts(logged.model_id, str(folder))
    client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)
    client.log_outputs(parent_run_id, [LoggedModelOutput(logged.model_id, step=0)])
    client.set_tag(parent_run_id, TAG_MODEL_ID, logged.model_id)
    return str(logged.model_id)


def save_pyfunc(
    folder: Path,
    run_dir: Path,
    spec: TaskSpec,
    *,
    model_id: str | None = None,
    parent_run_id: str | None = None,
    artifact_location: str | None = None,
) -> None:
    """Write the pyfunc model folder (MLmodel, signature, input example, predictor) to folder."""
    import cloudpickle
    import mlflow.pyfunc
    from mlflow.models import Model, infer_signature

    from mlestar.handover import submission as submission_module
    from mlestar.serving import answer as answer_module
    from mlestar.serving import pyfunc_model
    from mlestar.task import spec as spec_module

    layout = RunLayout(run_dir)
    predictor_bytes = layout.model.read_bytes()
    example = example_rows(layout.data / "test.parquet")
    output = answer_module.answer(spec, cloudpickle.loads(predictor_bytes), example)
    mlflow_model = Model(
        artifact_path=artifact_location, model_uuid=model_id, run_id=parent_run_id, model_id=model_id
    )
    by_value = (pyfunc_model, answer_module, submission_module, spec_module)
    with _PICKLE_LOCK:  # the wrapper, the mapping and the spec by value: the model loads without mlestar
        for module in by_value:
            cloudpickle.register_pickle_by_value(module)
        try:
            mlflow.pyfunc.save_model(
                path=str(folder),
                python_model=pyfunc_model.SubmissionModel(spec),
                artifacts=_artifacts(run_dir, layout),
                signature=infer_signature(example, output),
                input_example=example,
                pip_requirements=requirements(predictor_bytes),
                mlflow_model=mlflow_model,
            )
        finally:
            for module in by_value:
                cloudpickle.unregister_pickle_by_value(module)


def _artifacts(run_dir: Path, layout: RunLayout) -> dict[str, str]:
    """The predictor, and the run's data schema when it has one (serving validates with it)."""
    from mlestar.monitoring.schema import SCHEMA_FILE, load_schema
    from mlestar.serving import pyfunc_model

    schema = run_dir / SCHEMA_FILE
    with contextlib.suppress(Exception):  # the model is still worth logging without a schema
        load_schema(run_dir)  # a run made before schemas gets one from its data folder
    artifacts = {pyfunc_model.PREDICTOR_ARTIFACT: str(layout.model)}
    if schema.is_file():
        artifacts[pyfunc_model.SCHEMA_ARTIFACT] = str(schema)
    return artifacts


def example_rows(test_path: Path, n: int = EXAMPLE_ROWS) -> pd.DataFrame:
    """The first n test rows, read without loading the whole table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    batch = next(pq.ParquetFile(test_path).iter_batches(batch_size=n), None)
    if batch is None:
        raise ValueError(f"expected test rows in {test_path}, found none")
    return pa.Table.from_batches([batch]).to_pandas().reset_index(drop=True)


def requirements(predictor_bytes: bytes) -> list[str]:
    """Pinned pip requirements: the base stack plus the ML libraries the pickle refers to."""
    import importlib.metadata as metadata

    names = list(_BASE_REQUIREMENTS)
    names += [dist for module, dist in _MODEL_LIBRARIES.items() if module.encode() in predictor_bytes]
    pinned = []
    for dist in dict.fromkeys(names):
        try:
            pinned.append(f"{dist}=={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            continue
    return pinned


def _register(client: MlflowClient, name: str, model_id: str, parent_run_id: str, run_key: str) -> str:
    """Create the registered model if needed and one version for this run (reused if it exists)."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        client.create_registered_model(name, description="Final models of mlestar runs on this task.")
    for version in client.search_model_versions(f"name = '{_quote(name)}' and run_id = '{parent_run_id}'"):
        return str(version.version)
    logged = client.get_logged_model(model_id)
    # The artifact location, not "models:/<id>": a SQLite registry resolves the latter through
    # mlflow's global tracking URI, which may name another store.
    created: Any = client.create_model_version(
        name,
        source=logged.artifact_location,
        run_id=parent_run_id,
        tags={TAG_RUN_ID: run_key},
        model_id=model_id,
        description=f"mlestar run {run_key}",
    )
    return str(created.version)


def _quote(text: str) -> str:
    return text.replace("'", "\\'")
