"""The fixed parts of a built-in script: header, load, train, predict and main blocks.

The train block's last part, its Combiner, comes from combiners.py.
"""

from __future__ import annotations

from mlestar.engineers.builtin.combiners import combiner_code
from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.engineers.builtin.pysrc import literal


def header(title: str, notes: list[str], profile: ProfileView, seed: int) -> str:
    lists = "\n".join(f"{name} = {literal(values)}" for name, values in profile.header_lists().items())
    body = "\n".join(notes).strip("\n")
    doc = f'"""{title}\n\n{body}\n"""' if body else f'"""{title}"""'
    return f'''{doc}

from __future__ import annotations

import copy
import os
import time
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd

INPUT = Path("input")
OUTPUT = Path("output")
SEED = int(os.environ.get("MLESTAR_SEED", "{seed}"))
THREADS = int(os.environ.get("MLESTAR_THREADS", "1"))
TIME_BUDGET = float(os.environ.get("MLESTAR_TIME_BUDGET", "600"))
"""Seconds this script should finish within (soft): tuning and early stopping stay inside it."""
SAVE_MODEL = os.environ.get("MLESTAR_SAVE_MODEL") == "1"
PROBLEM = {literal(profile.problem_type)}
N_OUTPUTS = {profile.n_outputs}
ID_COLUMN = {literal(profile.id_column)}
{lists}
'''


LOAD = '''def load_inputs() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """The harness's tables, encoded answers and folds (-1: a row this run leaves out)."""
    train = pd.read_parquet(INPUT / "train.parquet")
    test = pd.read_parquet(INPUT / "test.parquet")
    return train, test, np.load(INPUT / "target.npy"), np.load(INPUT / "folds.npy")
'''

_FIT_HELPERS = '''def take(x: Any, rows: np.ndarray) -> Any:
    return x.iloc[rows] if isinstance(x, pd.DataFrame) else x[rows]


def fit_model(model: Any, x: Any, y: np.ndarray) -> Any:
    """A fitted copy of the model; one copy per column when there are several answer columns."""
    if y.ndim == 2:
        return [copy.deepcopy(model).fit(x, y[:, j]) for j in range(y.shape[1])]
    return copy.deepcopy(model).fit(x, y)


def predict_outputs(model: Any, x: Any) -> np.ndarray:
    """Predictions shaped (rows, N_OUTPUTS) as the harness expects."""
    if isinstance(model, list):
        return np.column_stack([predict_column(m, x) for m in model])
    if PROBLEM == "multiclass":
        probabilities = np.zeros((x.shape[0], N_OUTPUTS))
        probabilities[:, np.asarray(model.classes_, dtype=int)] = model.predict_proba(x)
        return probabilities
    return predict_column(model, x).reshape(-1, 1)


def predict_column(model: Any, x: Any) -> np.ndarray:
    """The positive class's probability, or the predicted number."""
    if PROBLEM in ("binary", "multilabel"):
        return model.predict_proba(x)[:, 1]
    return np.asarray(model.predict(x), dtype=float)


def cross_fit(model: Any, x: Any, target: np.ndarray, folds: np.ndarray, x_test: Any) -> tuple:
    """One fit per harness fold: out-of-fold predictions and the folds' mean prediction on test."""
    oof = np.full((len(target), N_OUTPUTS), np.nan)
    test_pred = np.zeros((x_test.shape[0], N_OUTPUTS))
    fitted = []
    n_folds = int(folds.max()) + 1
    for k in range(n_folds):
        fit_rows, valid_rows = np.flatnonzero((folds >= 0) & (folds != k)), np.flatnonzero(folds == k)
        fold_model = fit_model(model, take(x, fit_rows), target[fit_rows])
        oof[valid_rows] = predict_outputs(fold_model, take(x, valid_rows))
        test_pred += predict_outputs(fold_model, x_test) / n_folds
        fitted.append(fold_model)
    return oof, test_pred, fitted


def train_and_validate(models: dict[str, tuple[str, Any]], inputs: dict[str, Any], inputs_test: dict[str, Any],
                       target: np.ndarray, folds: np.ndarray, frames: tuple[pd.DataFrame, pd.DataFrame]) -> tuple:
    """Cross-fit every member on the harness folds, then combine the members (frames: the feature
    tables of train and test, for combiners that also read the rows)."""
    member_oof, member_test, fitted = {}, {}, {}
    for name, (view, model) in models.items():
        start = time.time()
        member_oof[name], member_test[name], fitted[name] = cross_fit(
            model, inputs[view], target, folds, inputs_test[view]
        )
        print(f"{name}: cross-fitted in {time.time() - start:.1f}s", flush=True)
    combiner = Combiner().fit(member_oof, target, folds, frames[0])
    return combiner.out_of_fold(member_oof, frames[0]), combiner.combine(member_test, frames[1]), fitted, combiner
'''


def train_block(combine: str) -> str:
    imports, combiner = combiner_code(combine)
    return (imports + "\n\n\n" if imports else "") + _FIT_HELPERS + "\n\n" + combiner


PREDICT = '''class Predictor:
    """The fitted solution: features, views, every fold model of every member, and their combiner."""

    def __init__(self, features: Any, views: dict[str, Any], member_views: dict[str, str], fitted: dict[str, list],
                 combiner: Any) -> None:
        self.features, self.views, self.member_views = features, views, member_views
        self.fitted, self.combiner = fitted, combiner

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predictions for rows shaped like test.parquet (their files, if any, live where test's do)."""
        x = self.features.transform(frame, "test")
        member_pred = {}
        for name, view in self.member_views.items():
            inputs = self.views[view].transform(x)
            member_pred[name] = np.mean([predict_outputs(m, inputs) for m in self.fitted[name]], axis=0)
        return self.combiner.combine(member_pred, x)


def save_outputs(oof: np.ndarray, test_pred: np.ndarray, predictor: Predictor) -> None:
    OUTPUT.mkdir(exist_ok=True)
    np.save(OUTPUT / "oof.npy", oof)
    np.save(OUTPUT / "test.npy", test_pred)
    if SAVE_MODEL:
        with open(OUTPUT / "model.pkl", "wb") as handle:
            cloudpickle.dump(predictor, handle)
'''

MAIN = """def main() -> None:
    start = time.time()
    train, test, target, folds = load_inputs()
    features = FeatureMaker().fit(pd.concat([train, test], ignore_index=True))
    x_train, x_test = features.transform(train, "train"), features.transform(test, "test")
    views, inputs, inputs_test = fit_views(x_train, x_test, VIEWS)
    models = make_models(inputs, target, folds)
    oof, test_pred, fitted, combiner = train_and_validate(models, inputs, inputs_test, target, folds, (x_train, x_test))
    member_views = {name: view for name, (view, _) in models.items()}
    save_outputs(oof, test_pred, Predictor(features, views, member_views, fitted, combiner))
    print(f"done in {time.time() - start:.1f}s", flush=True)


if __name__ == "__main__":
    main()
"""

FIT_VIEWS = '''def fit_views(x_train: pd.DataFrame, x_test: pd.DataFrame, names: tuple[str, ...]) -> tuple[dict, dict, dict]:
    """Fit each view once on train and test inputs together; split its output back into the two."""
    views, inputs, inputs_test = make_views(names), {}, {}
    rows = np.arange(len(x_train) + len(x_test))
    for name, view in views.items():
        both = view.fit_transform(pd.concat([x_train, x_test], ignore_index=True))
        inputs[name], inputs_test[name] = take(both, rows[: len(x_train)]), take(both, rows[len(x_train) :])
    return views, inputs, inputs_test
'''
