"""The run's final model as an MLflow pyfunc, registered under the task's name.

Logged through an explicit client (MLflow 3 "logged model" + registry), never through mlflow's
global tracking URI, so several stores can be used from one process. Requirements are listed
explicitly (pinned to what is installed) so logging does not spend seconds inferring them.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlestar.journal.events import EXAMPLE_ROWS
from mlestar.run_layout import RunLayout
from mlestar.tracking.records import TAG_MODEL_ID, TAG_MODEL_VERSION, TAG_RUN_ID

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient

    from mlestar.task.spec import TaskSpec

_BASE_REQUIREMENTS = ("mlflow", "cloudpickle", "numpy", "pandas", "pyarrow")
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
    example_predictions: list[list[float]] | None = None,
    libraries: list[str] | None = None,
) -> FinalModel:
    """Log RUN_DIR/model/model.pkl as a pyfunc on the parent run and register it as `name`.

    example_predictions: the model's raw predictions of test.parquet's first rows, as the hand-over
    journals them (RunFinished); without them the model is loaded to make them. libraries: the ML
    libraries the model refers to, as the hand-over journals them; without them its bytes are searched.
    Idempotent: a parent run that already carries a registered version is left as it is.
    """
    tags = client.get_run(parent_run_id).data.tags
    if TAG_MODEL_VERSION in tags and TAG_MODEL_ID in tags:
        return FinalModel(name, tags[TAG_MODEL_VERSION], tags[TAG_MODEL_ID])
    if spec is None:
        from mlestar.task.spec import TaskSpec

        spec = TaskSpec.load(run_dir / "task.json")
    model_id = tags.get(TAG_MODEL_ID) or _log_model(
        client, experiment_id, parent_run_id, run_dir, spec, run_key, example_predictions, libraries
    )
    version = _register(client, name, model_id, parent_run_id, run_key)
    client.set_tag(parent_run_id, TAG_MODEL_VERSION, version)
    return FinalModel(name, version, model_id)


def _log_model(
    client: MlflowClient,
    experiment_id: str,
    parent_run_id: str,
    run_dir: Path,
    spec: TaskSpec,
    run_key: str,
    example_predictions: list[list[float]] | None,
    libraries: list[str] | None,
) -> str:
    from mlflow.entities import LoggedModelOutput, LoggedModelStatus

    logged = client.create_logged_model(
        experiment_id, name="model", source_run_id=parent_run_id, tags={TAG_RUN_ID: run_key}
    )
    save = functools.partial(
        save_pyfunc,
        run_dir=run_dir,
        spec=spec,
        model_id=logged.model_id,
        parent_run_id=parent_run_id,
        artifact_location=logged.artifact_location,
        example_predictions=example_predictions,
        libraries=libraries,
    )
    local = _local_folder(logged.artifact_location)
    if local is not None and not (local.exists() and any(local.iterdir())):
        save(local)  # the store is a folder here: the model is made in place, not made and copied
    else:
        with tempfile.TemporaryDirectory() as tmp:
            save(Path(tmp) / "model")
            client.log_model_artifacts(logged.model_id, str(Path(tmp) / "model"))
    client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)
    client.log_outputs(parent_run_id, [LoggedModelOutput(logged.model_id, step=0)])
    client.set_tag(parent_run_id, TAG_MODEL_ID, logged.model_id)
    return str(logged.model_id)


def _local_folder(artifact_location: str) -> Path | None:
    """The folder an artifact location names on this machine; None for a server's or a bucket's."""
    from mlflow.utils.file_utils import local_file_uri_to_path
    from mlflow.utils.uri import is_local_uri

    with contextlib.suppress(Exception):  # not a URI mlflow reads as local: upload through the client
        if is_local_uri(artifact_location, is_tracking_or_registry_uri=False):
            return Path(local_file_uri_to_path(artifact_location))
    return None


def save_pyfunc(
    folder: Path,
    run_dir: Path,
    spec: TaskSpec,
    *,
    model_id: str | None = None,
    parent_run_id: str | None = None,
    artifact_location: str | None = None,
    example_predictions: list[list[float]] | None = None,
    libraries: list[str] | None = None,
) -> None:
    """Write the pyfunc model folder (MLmodel, signature, input example, predictor) to folder."""
    import cloudpickle
    import mlflow.pyfunc
    import numpy as np
    from mlflow.models import Model, infer_signature

    from mlestar.handover import submission as submission_module
    from mlestar.serving import answer as answer_module
    from mlestar.serving import pyfunc_model
    from mlestar.task import spec as spec_module

    layout = RunLayout(run_dir)
    _check_pickle(layout.model)
    example = example_rows(layout.data / "test.parquet")
    if example_predictions is not None:
        output = answer_module.answer_from(spec, np.asarray(example_predictions, dtype=float), example)
    else:
        output = answer_module.answer(spec, _load_predictor(layout.model), example)
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
                artifacts=_schema_artifact(run_dir),
                signature=infer_signature(example, output),
                input_example=example,
                pip_requirements=requirements(layout.model, libraries),
                mlflow_model=mlflow_model,
            )
        finally:
            for module in by_value:
                cloudpickle.unregister_pickle_by_value(module)
    _add_predictor(folder, layout.model)


def _add_predictor(folder: Path, predictor: Path) -> None:
    """The predictor into the model's artifacts, as mlflow records an artifact, linked rather than
    copied where the disk allows: an ensemble of forests is hundreds of MB, and model.pkl is only
    ever replaced by a new file, never rewritten, so the link keeps the logged bytes."""
    from mlflow.models import Model
    from mlflow.pyfunc import FLAVOR_NAME
    from mlflow.pyfunc.model import (
        CONFIG_KEY_ARTIFACT_RELATIVE_PATH,
        CONFIG_KEY_ARTIFACT_URI,
        CONFIG_KEY_ARTIFACTS,
    )

    from mlestar.serving.pyfunc_model import PREDICTOR_ARTIFACT

    target = folder / "artifacts" / predictor.name
    target.parent.mkdir(exist_ok=True)
    try:
        os.link(predictor, target)
    except OSError:  # another disk, or links refused
        shutil.copyfile(predictor, target)
    model = Model.load(str(folder / "MLmodel"))
    model.model_size_bytes = (model.model_size_bytes or 0) + target.stat().st_size
    model.flavors[FLAVOR_NAME].setdefault(CONFIG_KEY_ARTIFACTS, {})[PREDICTOR_ARTIFACT] = {
        CONFIG_KEY_ARTIFACT_RELATIVE_PATH: f"artifacts/{predictor.name}",
        CONFIG_KEY_ARTIFACT_URI: str(predictor),
    }
    model.save(str(folder / "MLmodel"))


def _check_pickle(path: Path) -> None:
    """Scripts pickle with protocol 2 or later, whose first opcode is PROTO (0x80): a file that does
    not start so is not logged as a model (it is not loaded to find out)."""
    with path.open("rb") as f:
        if f.read(1) != b"\x80":
            raise ValueError(f"expected a pickled predictor in {path}, found a file that is not a pickle")


def _load_predictor(path: Path) -> Any:
    import cloudpickle

    with path.open("rb") as f:
        return cloudpickle.load(f)


def _schema_artifact(run_dir: Path) -> dict[str, str]:
    """The run's data schema when it has one (serving validates with it)."""
    from mlestar.monitoring.schema import SCHEMA_FILE, load_schema
    from mlestar.serving import pyfunc_model

    schema = run_dir / SCHEMA_FILE
    with contextlib.suppress(Exception):  # the model is still worth logging without a schema
        load_schema(run_dir)  # a run made before schemas gets one from its data folder
    return {pyfunc_model.SCHEMA_ARTIFACT: str(schema)} if schema.is_file() else {}


def example_rows(test_path: Path, n: int = EXAMPLE_ROWS) -> pd.DataFrame:
    """The first n test rows, read without loading the whole table."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    batch = next(pq.ParquetFile(test_path).iter_batches(batch_size=n), None)
    if batch is None:
        raise ValueError(f"expected test rows in {test_path}, found none")
    return pa.Table.from_batches([batch]).to_pandas().reset_index(drop=True)


def requirements(predictor: Path, libraries: list[str] | None = None) -> list[str]:
    """Pinned pip requirements: the base stack plus the ML libraries the pickle refers to, as the
    hand-over journaled them (found while it wrote the model) or, without them, found in it now."""
    import importlib.metadata as metadata

    from mlestar.handover.libraries import libraries_in

    names = [*_BASE_REQUIREMENTS, *(libraries_in([predictor]) if libraries is None else libraries)]
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
