"""Small Kaggle-style task folders for tests: make_task(tmp_path, kind=...) -> the task folder.

Kinds (each a few dozen seeded rows):
    binary_labels       string ids "0001_01", bool target True/False, accuracy
    binary_proba        integer ids, 0/1 target, sample of probabilities, ROC AUC
    multiclass_proba    a text column, label "author" in {EAP, HPL, MWS}, one probability column per class
    multiclass_labels   one label column "species", accuracy
    regression          sampleSubmission.csv, RMSE
    multi_target        two targets, per-row files in train/<id>/geometry.xyz and test/<id>/...
    multilabel          three 0/1 label columns, mean column-wise ROC AUC
    jsonl               JSON lines tables, MAE
    zipped              train.csv.zip, test.zip holding test.csv, sample_submission.csv.zip
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from tests.builders import write_task

N_TRAIN = 40
N_TEST = 12

WORDS = [
    "the",
    "night",
    "was",
    "dark",
    "and",
    "old",
    "strange",
    "house",
    "stood",
    "silent",
    "above",
    "shadowed",
    "sea",
]


def _description(evaluation: str) -> str:
    return f"# Overview\n\nA small test task.\n\n## Evaluation\n\n{evaluation}\n\n## Data\n\nSee the files.\n"


def _features(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "num": rng.normal(size=n).round(3),
            "cat": rng.choice(["a", "b", "c"], size=n),
            "flag": rng.choice([True, False], size=n),
        }
    )


def _split(frame: pd.DataFrame, answers: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    train = frame.iloc[:N_TRAIN].reset_index(drop=True)
    test = frame.iloc[N_TRAIN:].drop(columns=answers).reset_index(drop=True)
    return train, test


def _binary_labels(rng: np.random.Generator) -> dict[str, Any]:
    n = N_TRAIN + N_TEST
    frame = _features(rng, n)
    frame.insert(0, "PassengerId", [f"{i:04d}_01" for i in range(n)])
    frame["Transported"] = rng.choice([True, False], size=n)
    train, test = _split(frame, ["Transported"])
    sample = pd.DataFrame({"PassengerId": test["PassengerId"], "Transported": False})
    desc = _description(
        "Submissions are evaluated based on their [classification accuracy](https://x.org/acc)."
    )
    return {"train.csv": train, "test.csv": test, "sample_submission.csv": sample, "description.md": desc}


def _binary_proba(rng: np.random.Generator) -> dict[str, Any]:
    n = N_TRAIN + N_TEST
    frame = _features(rng, n)
    frame.insert(0, "id", np.arange(1, n + 1))
    frame["target"] = rng.integers(0, 2, n)
    train, test = _split(frame, ["target"])
    sample = pd.DataFrame({"id": test["id"], "target": 0.5})
    desc = _description(
        "Submissions are evaluated on area under the ROC curve between the predicted probability and the target."
    )
    return {"train.csv": train, "test.csv": test, "sample_submission.csv": sample, "description.md": desc}


def _multiclass_proba(rng: np.random.Generator) -> dict[str, Any]:
    n = N_TRAIN + N_TEST
    text = [" ".join(rng.choice(WORDS, size=8)) for _ in range(n)]
    frame = pd.DataFrame({"id": [f"id{i:05d}" for i in range(n)], "text": text})
    frame["author"] = rng.choice(["EAP", "HPL", "MWS"], size=n)
    train, test = _split(frame, ["author"])
    sample = pd.DataFrame({"id": test["id"], "EAP": 0.4, "HPL": 0.3, "MWS": 0.3})
    desc = _description(
        "Submissions are evaluated using multi-class logarithmic loss. Each id has one true class."
    )
    return {"train.csv": train, "test.csv": test, "sample_submission.csv": sample, "description.md": desc}


def _multiclass_labels(rng: np.random.Generator) -> dict[str, Any]:
    n = N_TRAIN + N_TEST
    frame = _features(rng, n)
    frame.insert(0, "Id", np.arange(n))
    frame["species"] = rng.choice(["setosa", "versicolor", "virginica"], size=n)
    train, test = _split(frame, ["species"])
    sample = pd.DataFrame({"Id": test["Id"], "species": "setosa"})
    desc = _description("The metric is accuracy: the share of rows whose species is right.")
    return {"train.csv": train, "test.csv": test, "sample_submission.csv": sample, "description.md": desc}


def _regression(rng: np.random.Generator) -> dict[str, Any]:
    n = N_TRAIN + N_TEST
    frame = _features(rng, n)
    frame.insert(0, "Id", np.arange(100, 100 + n))
    frame["SalePrice"] = (rng.gamma(3, 10_000, n)).round(1)
    train, test = _split(frame, ["SalePrice"])
    sample = pd.DataFrame({"Id": test["Id"], "SalePrice": 180000.0})
    desc = _description(
        "Submissions are scored on the Root-Mean-Squared-Error (RMSE) between predicted and observed values."
    )
    return {"train.csv": train, "test.csv": test, "sampleSubmission.csv": sample, "description.md": desc}


def _multi_target(rng: np.random.Generator) -> dict[str, Any]:
    n = N_TRAIN + N_TEST
    frame = _features(rng, n).drop(columns=["cat", "flag"])
    frame.insert(0, "id", np.arange(1, n + 1))
    frame["formation"] = rng.random(n).round(4)
    frame["bandgap"] = (rng.random(n) * 5).round(4)
    train, test = _split(frame, ["formation", "bandgap"])
    test["id"] = np.arange(1, N_TEST + 1)  # ids restart in test, as in per-row folder layouts
    sample = pd.DataFrame({"id": test["id"], "formation": 0.1779, "bandgap": 1.8892})
    desc = _description(
        "Submissions are evaluated on the column-wise [root mean squared logarithmic error](https://x.org)."
    )
    files: dict[str, Any] = {
        "train.csv": train,
        "test.csv": test,
        "sample_submission.csv": sample,
        "description.md": desc,
    }
    for part, table in (("train", train), ("test", test)):
        for i in table["id"]:
            files[f"{part}/{i}/geometry.xyz"] = f"atom 0.0 0.0 {i}.0 Al\n"
    return files


def _multilabel(rng: np.random.Generator) -> dict[str, Any]:
    n = N_TRAIN + N_TEST
    frame = _features(rng, n)
    frame.insert(0, "id", [f"r{i}" for i in range(n)])
    for col in ("toxic", "obscene", "insult"):
        frame[col] = rng.integers(0, 2, n)
    train, test = _split(frame, ["toxic", "obscene", "insult"])
    sample = pd.DataFrame({"id": test["id"], "toxic": 0.5, "obscene": 0.5, "insult": 0.5})
    desc = _description("Submissions are evaluated on the mean column-wise ROC AUC.")
    return {"train.csv": train, "test.csv": test, "sample_submission.csv": sample, "description.md": desc}


def _jsonl(rng: np.random.Generator) -> dict[str, Any]:
    files = _regression(rng)
    files["train.jsonl"] = files.pop("train.csv")
    files["test.jsonl"] = files.pop("test.csv")
    files["description.md"] = _description("Submissions are evaluated on Mean Absolute Error (MAE).")
    return files


def _zipped(rng: np.random.Generator) -> dict[str, Any]:
    files = _binary_labels(rng)
    files["train.csv.zip"] = ("train.csv", files.pop("train.csv"))
    files["test.zip"] = ("test.csv", files.pop("test.csv"))
    files["sample_submission.csv.zip"] = ("sample_submission.csv", files.pop("sample_submission.csv"))
    return files


KINDS: dict[str, Callable[[np.random.Generator], dict[str, Any]]] = {
    "binary_labels": _binary_labels,
    "binary_proba": _binary_proba,
    "multiclass_proba": _multiclass_proba,
    "multiclass_labels": _multiclass_labels,
    "regression": _regression,
    "multi_target": _multi_target,
    "multilabel": _multilabel,
    "jsonl": _jsonl,
    "zipped": _zipped,
}


def make_task(
    tmp_path: Path,
    kind: str = "binary_labels",
    *,
    name: str | None = None,
    task_yaml: dict[str, Any] | None = None,
    description: str | None = None,
    seed: int = 0,
) -> Path:
    """Write a task folder of the given kind under tmp_path and return it."""
    task_dir = tmp_path / (name or kind)
    task_dir.mkdir(parents=True)  # a second task of one kind needs its own name
    files = KINDS[kind](np.random.default_rng(seed))
    if description is not None:
        files["description.md"] = description
    if task_yaml is not None:
        files["task.yaml"] = yaml.safe_dump(task_yaml)
    return write_task(task_dir, files)
