"""FLAML baseline: fit a task's tables within a wall-clock budget and write a submission.

Runs in bench/.envs/flaml (FLAML 2.8.0). As ANCHORS.md: `AutoML().fit(X, y, time_budget=…,
metric=…)`, log1p targets for RMSLE, and a word TF-IDF matrix for a text-only task.

    python flaml_run.py PUBLIC --out DIR --budget SECONDS --seed N --metric NAME
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from flaml import AutoML
from sklearn.feature_extraction.text import TfidfVectorizer
from task_tables import (
    Clock,
    TaskTables,
    fit_targets,
    normalized,
    parse_args,
    prediction_kind,
    read_task,
    report,
    write_submission,
)

FLAML_METRIC = {"label": "accuracy", "proba": "log_loss", "log_regression": "rmse", "regression": "rmse"}


def _features(tables: TaskTables):
    """(train X, test X): the tables' feature columns, or word TF-IDF for a text-only task."""
    if tables.text_column is None:
        cols = list(tables.features)
        return tables.train[cols], tables.test[cols]
    vec = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    text = tables.text_column
    x_train = vec.fit_transform(tables.train[text].fillna("").astype(str))
    return x_train, vec.transform(tables.test[text].fillna("").astype(str))


def _fit(x, y: np.ndarray, kind: str, metric: str, seconds: float, seed: int) -> AutoML:
    automl = AutoML()
    automl.fit(
        x,
        y,
        task="regression" if kind.endswith("regression") else "classification",
        metric="roc_auc" if metric in ("roc_auc", "mean_roc_auc") else FLAML_METRIC[kind],
        time_budget=seconds,
        seed=seed,
        verbose=0,
    )
    return automl


def _encoded(y: pd.Series, kind: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(y to fit, classes): class labels as 0..k-1, since some learners reject string labels."""
    if kind.endswith("regression"):
        y = y.astype(float)
        return (np.log1p(y) if kind == "log_regression" else y).to_numpy(), None
    classes, codes = np.unique(y.to_numpy(), return_inverse=True)
    return codes, classes


def _predict(
    tables: TaskTables, automl: AutoML, x_test, target: str, kind: str, classes: np.ndarray | None
) -> dict[str, np.ndarray]:
    if kind == "label" and classes is not None:
        return {target: classes[np.asarray(automl.predict(x_test), dtype=int)]}
    if kind == "proba" and classes is not None:
        proba = np.zeros((x_test.shape[0], len(classes)))
        proba[:, np.asarray(automl.classes_, dtype=int)] = np.asarray(automl.predict_proba(x_test))
        names = [str(c) for c in classes]
        if tables.label:
            order = [names.index(t) for t in tables.targets]
            return dict(zip(tables.targets, normalized(proba[:, order]).T, strict=True))
        return {target: proba[:, -1]}  # binary: the positive class
    values = np.asarray(automl.predict(x_test), dtype=float)
    return {target: np.clip(np.expm1(values), 0, None) if kind == "log_regression" else values}


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    clock = Clock(args.budget, args.started)
    tables, kind = read_task(args.public), prediction_kind(args.metric)
    report(read_s=round(clock.elapsed(), 1), train_rows=len(tables.train), test_rows=len(tables.test))
    x_train, x_test = _features(tables)
    columns: dict[str, np.ndarray] = {}
    targets = fit_targets(tables)
    for i, target in enumerate(targets):
        keep = tables.train[target].notna().to_numpy()
        y, classes = _encoded(tables.train[target][keep], kind)
        seconds = clock.fit_seconds(len(targets) - i, x_test.shape[0])
        automl = _fit(x_train[keep], y, kind, args.metric, seconds, args.seed)
        report(
            target=target,
            fit_budget_s=round(seconds, 1),
            best=automl.best_estimator,
            best_loss=automl.best_loss,
        )
        columns.update(_predict(tables, automl, x_test, target, kind, classes))
    write_submission(tables, columns, args.out / "submission.csv")
    report(done=True, wall_s=round(clock.elapsed(), 1), text_column=tables.text_column)


if __name__ == "__main__":
    main()
