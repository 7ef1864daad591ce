"""New training data -> the new run's task folder and a holdout that neither model sees.

The task folder pins every decision of the old run's task in a task.yaml (name, columns,
classes, metric, submission layout), so the new run answers the same question the same way; its
test table and sample submission are the old run's, so both runs' submissions are comparable.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from mlestar.errors import ConfigError
from mlestar.monitoring.schema import DataSchema
from mlestar.monitoring.validate import check_frame
from mlestar.task.spec import TaskSpec

MIN_HOLDOUT = 20


@dataclass(frozen=True)
class Split:
    fit: pd.DataFrame
    holdout: pd.DataFrame


def split_new_data(spec: TaskSpec, schema: DataSchema, frame: pd.DataFrame, share: float, seed: int) -> Split:
    """Check the new rows, then hold out `share` of them (stratified by class, whole groups kept)."""
    missing = [c for c in spec.train_target_columns if c not in frame.columns]
    if missing:
        raise ConfigError(f"expected the answer column(s) {missing} in --data, found {list(frame.columns)}")
    checked = check_frame(schema, frame)
    if not checked.ok:
        raise ConfigError(
            "expected --data to match the run's schema: " + "; ".join(f.message for f in checked.errors)
        )
    if not 0.0 < share < 1.0:
        raise ConfigError(f"expected --holdout between 0 and 1, found {share}")
    n_hold = int(round(len(frame) * share))
    if n_hold < MIN_HOLDOUT or len(frame) - n_hold < MIN_HOLDOUT:
        raise ConfigError(
            f"expected at least {MIN_HOLDOUT} rows for the holdout and for training, found {len(frame)} rows "
            f"in --data with --holdout {share}: give more rows"
        )
    held = _holdout_rows(spec, frame, n_hold, seed)
    return Split(frame.loc[~held].reset_index(drop=True), frame.loc[held].reset_index(drop=True))


def _holdout_rows(spec: TaskSpec, frame: pd.DataFrame, n_hold: int, seed: int) -> np.ndarray:
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    index = np.arange(len(frame))
    mask = np.zeros(len(frame), dtype=bool)
    if spec.group_column and spec.group_column in frame.columns:
        splitter = GroupShuffleSplit(n_splits=1, test_size=n_hold / len(frame), random_state=seed)
        _, held = next(splitter.split(index, groups=frame[spec.group_column].astype(str)))
        mask[held] = True
        return mask
    labels = (
        frame[spec.label_column or spec.train_target_columns[0]]
        if spec.problem_type.is_classification
        else None
    )
    stratify = (
        labels.astype(str) if labels is not None and labels.astype(str).value_counts().min() >= 2 else None
    )
    _, held = train_test_split(index, test_size=n_hold, random_state=seed, stratify=stratify)
    mask[held] = True
    return mask


def write_task(old_run: Path, spec: TaskSpec, fit: pd.DataFrame, task_dir: Path) -> None:
    """The new run's task folder: the fit rows, the old test table and submission, the old choices."""
    task_dir.mkdir(parents=True, exist_ok=False)
    fit.to_parquet(task_dir / "train.parquet", index=False)
    shutil.copyfile(old_run / "data" / "test.parquet", task_dir / "test.parquet")
    shutil.copyfile(old_run / "submission.csv", task_dir / "sample_submission.csv")
    (task_dir / "description.md").write_text(spec.description or f"# {spec.name}\n")
    for extra in spec.extra_paths:  # per-row files and images stay where they are
        source = spec.task_dir / extra
        if source.exists() and not (task_dir / extra).exists():
            (task_dir / extra).parent.mkdir(parents=True, exist_ok=True)
            (task_dir / extra).symlink_to(source.resolve())
    (task_dir / "task.yaml").write_text(yaml.safe_dump(pinned_choices(spec), sort_keys=False))


def pinned_choices(spec: TaskSpec) -> dict[str, object]:
    """The old task's decisions, as task.yaml keys."""
    choices: dict[str, object] = {
        "name": spec.name,
        "train": "train.parquet",
        "test": "test.parquet",
        "sample_submission": "sample_submission.csv",
        "id_column": spec.id_column,
        "target_columns": list(spec.target_columns),
        "train_target_columns": list(spec.train_target_columns),
        "label_column": spec.label_column,
        "problem_type": str(spec.problem_type),
        "metric": spec.metric,
        "lower_is_better": spec.lower_is_better,
        "classes": list(spec.classes) if spec.classes else None,
        "group_column": spec.group_column,
        "extra_paths": list(spec.extra_paths),
        "submission": {
            "columns": list(spec.submission.columns),
            "value_kind": spec.submission.value_kind,
            "row_order": spec.submission.row_order,
            "dtypes": list(spec.submission.dtypes),
        },
    }
    return {k: v for k, v in choices.items() if v is not None and v != []}
