"""A new run folder laid out from a task: the task read, its data prepared, the folder renamed into
place only when complete, so bad input never leaves a half-written run folder behind."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from importlib import metadata

from mlestar import splits
from mlestar.config import RunConfig, config_to_json
from mlestar.journal import Journal
from mlestar.journal.events import InputsHashed, RunStarted
from mlestar.monitoring.schema import write_schema
from mlestar.prepare import hash_task_files, prepare_run_data
from mlestar.run_layout import RunLayout
from mlestar.task.load import TaskTables, load_task_tables
from mlestar.task.spec import TaskSpec

_VERSIONED = (
    "mlestar",
    "numpy",
    "pandas",
    "scikit-learn",
    "lightgbm",
    "xgboost-cpu",
    "catboost",
    "optuna",
    "scipy",
    "pyarrow",
)


def read_and_lay_out(config: RunConfig, layout: RunLayout, began: float) -> Callable[[], object]:
    """The task read and the run folder laid out whole, or no folder at all (a staging folder is
    renamed into place only when complete). Returns the writing of the monitoring schema, which
    the first script does not need (serving and `mlestar monitor` read it after the run)."""
    spec, tables = load_task_tables(config.task_dir, dict(config.overrides))
    staging = layout.root.with_name(f".{layout.root.name}.staging-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _lay_out(config.with_run_dir(layout.root), spec, tables, RunLayout(staging), began)
        os.replace(staging, layout.root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return partial(write_schema, spec, tables.train, tables.test, layout.root)


def _lay_out(config: RunConfig, spec: TaskSpec, tables: TaskTables, staging: RunLayout, began: float) -> None:
    staging.root.mkdir(parents=True)
    search = config.search
    rules = splits.rules_for(search, config.budget_s)
    with ThreadPoolExecutor(1) as side:  # read-only work beside the writing of the data
        profiled = side.submit(_profile, spec, tables)
        hashed = side.submit(hash_task_files, spec.task_dir)
        prepared = prepare_run_data(
            spec,
            tables,
            staging,
            search.n_folds,
            config.seed,
            search.subsample_rows,
            config.group_column or spec.group_column,
            rules,  # a flag, else task.yaml or what intake inferred
        )
        staging.config.write_text(json.dumps(config_to_json(config), indent=2))
        spec.save(staging.task)
        (staging.data / "profile.json").write_text(profiled.result())
        files = hashed.result()
    journal = Journal(staging.root)
    journal.record(
        RunStarted(
            prepare_s=time.time() - began,
            config=config_to_json(config),
            task=spec.to_json(),
            engineer=config.engineer,
            versions=_versions(),
            n_train=prepared.n_train,
            n_test=prepared.n_test,
            subsampled=prepared.subsampled,
            validation=prepared.validation,
        )
    )
    journal.record(InputsHashed(files=files, data=prepared.data_hashes))


def _profile(spec: TaskSpec, tables: TaskTables) -> str:
    from mlestar.task.profile import profile_task

    profile = profile_task(spec, tables.train, tables.test, spec.task_dir)
    return json.dumps(profile, indent=2, default=str)


def _versions() -> dict[str, str]:
    found = {}
    for name in _VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found
