"""AutoGluon baseline: fit a task's tables within a wall-clock budget and write a submission.

Runs in bench/.envs/autogluon (AutoGluon 1.6.3, no torch, no ray). As ANCHORS.md: best_quality
presets, no torch models, log1p targets for RMSLE, the raw text column for a text-only task (AutoGluon
builds its own n-gram features). DyStack is skipped when the fit time is under a minute. Bagging folds are fitted one after the other in this process
(`sequential_local`) and DyStack's sub-fit stays in-process, so Ray is never started.

A row per pixel (millions of test rows) does not fit a 5-minute budget as it stands: on 200,000
training pixels the bagged fit ran out of time fold after fold, a random forest then fitted past
the limit, and the run was killed at 570 s with no submission. There the fit gets a seeded sample
sized to its budget (task_tables.row_cap: ROWS_PER_FIT_SECOND rows per second of fit, taken
evenly from every picture) and the families too slow to predict millions of rows are left out
(LARGE_TEST_EXCLUDED), so the comparison exists.

    python autogluon_run.py PUBLIC --out DIR --budget SECONDS --seed N --metric NAME
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from autogluon.tabular import TabularPredictor
from task_tables import (
    LARGE_TEST_ROWS,
    Clock,
    TaskTables,
    capped_rows,
    fit_targets,
    normalized,
    parse_args,
    prediction_kind,
    read_task,
    report,
    row_cap,
    write_submission,
)

REFIT_SHARE = 0.3
"""With millions of test rows, the bagged models are refitted once on all the rows (AutoGluon's
high_quality preset: one model per family to predict with, not one per fold); this share of the
fit time is left for that refit, which AutoGluon runs after its time limit (a fifth overran a
5-minute budget by 17 s under a load average of 12). DyStack is skipped
then: on a row per pixel its holdout sub-fit fitted no model in its share of a 5-minute run."""
LARGE_TEST_EXCLUDED = ("RF", "XT", "KNN")
"""Families left out with millions of test rows: a forest of deep trees (or a neighbour search)
predicts millions of rows in minutes, not seconds; the boosted families remain."""
DYSTACK_MIN_S = 60.0
"""Below this fit time DyStack's holdout sub-fit leaves nothing for the full fit: skip it."""
AG_METRIC = {
    "label": "accuracy",
    "proba": "log_loss",
    "log_regression": "root_mean_squared_error",
    "regression": "root_mean_squared_error",
}


def _fit(
    train: pd.DataFrame,
    target: str,
    kind: str,
    metric: str,
    seconds: float,
    seed: int,
    path: Path,
    large_test: bool = False,
) -> TabularPredictor:
    """Fit as ANCHORS.md did; if DyStack's sub-fit leaves no model (seen on text under load),
    fit again without it in the time that is left rather than give up."""
    started = time.monotonic()
    try:
        dystack = seconds >= DYSTACK_MIN_S and not large_test
        return _fit_once(train, target, kind, metric, seconds, seed, path, dystack, large_test)
    except Exception as e:  # AutoGluon raises AssertionError("Learner is already fit.") here
        left = seconds - (time.monotonic() - started)
        if left < 20:
            raise
        print(
            f"AutoGluon failed ({type(e).__name__}: {e}); refitting without DyStack in {left:.0f} s",
            flush=True,
        )
        again = path.with_name(path.name + "-nodystack")
        return _fit_once(train, target, kind, metric, left, seed, again, False, large_test)


def _fit_once(
    train: pd.DataFrame,
    target: str,
    kind: str,
    metric: str,
    seconds: float,
    seed: int,
    path: Path,
    dystack: bool,
    large_test: bool,
) -> TabularPredictor:
    eval_metric = "roc_auc" if metric in ("roc_auc", "mean_roc_auc") else AG_METRIC[kind]
    problem = "regression" if kind.endswith("regression") else None
    predictor = TabularPredictor(
        label=target, eval_metric=eval_metric, problem_type=problem, path=str(path), verbosity=2
    )
    refit = {"refit_full": "best", "set_best_to_refit_full": True} if large_test else {}
    predictor.fit(
        train,
        time_limit=seconds * (1 - REFIT_SHARE) if large_test else seconds,
        presets="high_quality" if large_test else "best_quality",
        **refit,
        dynamic_stacking="auto" if dystack else False,
        excluded_model_types=["NN_TORCH", "FASTAI", *(LARGE_TEST_EXCLUDED if large_test else ())],
        ag_args_ensemble={"fold_fitting_strategy": "sequential_local", "model_random_seed": seed},
        ds_args={"memory_safe_fits": False},
    )
    return predictor


def _predict(
    tables: TaskTables, predictor: TabularPredictor, target: str, kind: str
) -> dict[str, np.ndarray]:
    test = tables.test[list(tables.features)]
    if kind == "label":
        return {target: predictor.predict(test).to_numpy()}
    if kind == "proba":
        proba = predictor.predict_proba(test)
        proba.columns = [str(c) for c in proba.columns]
        if tables.label:
            return dict(
                zip(tables.targets, normalized(proba[list(tables.targets)].to_numpy()).T, strict=True)
            )
        return {target: proba[proba.columns[-1]].to_numpy()}  # binary: the positive class
    values = predictor.predict(test).to_numpy(dtype=float)
    return {target: np.clip(np.expm1(values), 0, None) if kind == "log_regression" else values}


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    clock = Clock(args.budget, args.started)
    tables, kind = read_task(args.public), prediction_kind(args.metric)
    report(read_s=round(clock.elapsed(), 1), train_rows=len(tables.train), test_rows=len(tables.test))
    columns: dict[str, np.ndarray] = {}
    workdir = Path(tempfile.mkdtemp(prefix="ag-", dir=args.out if args.out.exists() else None))
    try:
        targets = fit_targets(tables)
        for i, target in enumerate(targets):
            train = tables.train[[*tables.features, target]].dropna(subset=[target])
            if kind == "log_regression":
                train = train.assign(**{target: np.log1p(train[target].astype(float))})
            seconds = clock.fit_seconds(len(targets) - i, len(tables.test))
            large = len(tables.test) > LARGE_TEST_ROWS
            if large:  # a row per pixel: as many rows as the fit gets through in its budget
                train = capped_rows(train, row_cap(seconds), args.seed)
            predictor = _fit(train, target, kind, args.metric, seconds, args.seed, workdir / target, large)
            report(
                target=target,
                fit_budget_s=round(seconds, 1),
                fit_rows=len(train),
                best=predictor.model_best,
                models=len(predictor.model_names()),
            )
            predicting = time.monotonic()
            columns.update(_predict(tables, predictor, target, kind))
            report(target=target, predict_s=round(time.monotonic() - predicting, 1), rows=len(tables.test))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # bagged models weigh hundreds of MB
    write_submission(tables, columns, args.out / "submission.csv")
    report(done=True, wall_s=round(clock.elapsed(), 1), text_column=tables.text_column)


if __name__ == "__main__":
    main()
