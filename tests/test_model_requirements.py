"""The final model's pip requirements: the base stack and the ML libraries of the model, pinned."""

from __future__ import annotations

import pickle

import pytest

from mlestar.tracking.final_model import requirements

pytest.importorskip("lightgbm")


def names(lines: list[str]) -> set[str]:
    return {line.split("==")[0] for line in lines}


def test_the_libraries_come_from_the_scripts_that_made_the_model() -> None:
    scripts = ["import lightgbm\nfrom sklearn.linear_model import Ridge\n", "import numpy as np\n"]
    got = requirements(b"not read when the scripts are known", scripts)
    assert {
        "mlflow",
        "cloudpickle",
        "numpy",
        "pandas",
        "pyarrow",
        "lightgbm",
        "scikit-learn",
        "scipy",
    } <= names(got)
    assert not {"xgboost", "catboost", "optuna"} & names(got)
    assert all("==" in line for line in got)


def test_without_scripts_the_pickle_names_them() -> None:
    from sklearn.linear_model import Ridge

    got = names(requirements(pickle.dumps(Ridge())))
    assert "scikit-learn" in got and "lightgbm" not in got
