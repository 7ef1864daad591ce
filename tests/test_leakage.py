"""Leakage checks: each static pattern is caught, clean scripts pass, a leaky column is reported."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlestar.checks.leakage import dynamic_leaks, single_column_score, static_leaks
from mlestar.engineers.builtin import BuiltinEngineer

sys.path.insert(0, str(Path(__file__).parent))  # the shared tiny tasks live beside this file
from test_builtin_tasks import make_task  # noqa: E402

TRAIN_ONLY = ["Transported", "secret_score"]
ANSWERS = ["Transported"]

CLEAN = """
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.feature_extraction.text import TfidfVectorizer

train = pd.read_parquet("input/train.parquet")
test = pd.read_parquet("input/test.parquet")
y = np.load("input/target.npy")
folds = np.load("input/folds.npy")
y_label = train["Transported"]
x = train.drop(columns=["Transported", "secret_score"])
vectorizer = TfidfVectorizer().fit(pd.concat([train["text"], test["text"]]))
features = FeatureMaker().fit(train, test)
for k in range(5):
    fit_rows, valid_rows = folds != k, folds == k
    model = LogisticRegression().fit(x[fit_rows], y[fit_rows])
    model.predict_proba(x[valid_rows])
"""

LEAKY = {
    "reads the private answers": 'answers = pd.read_csv("../private/answers.csv")\n',
    "reads an absolute path": 'extra = pd.read_csv("/data/competition/train_full.csv")\n',
    "fits on validation rows": "model = LogisticRegression().fit(x_val, y_val)\n",
    "fits on test rows": "model.fit(X_test, y)\n",
    "fits with test answers": "model.fit(x_train, y_test)\n",
    "uses a train-only column": 'features = ["Age", "secret_score"]\n',
    "target statistics over all rows": 'train["te"] = train.groupby("Cabin")["Transported"].transform("mean")\n',
    "answer column in a feature list": 'x = train[["Age"]].assign(t=train["Transported"])\nfeatures = ["Age", "Transported"]\n',
    "answers stored as a column": 'y = np.load("input/target.npy")\ntrain["answer"] = y\n',
}


def test_clean_script_passes() -> None:
    assert static_leaks(CLEAN, TRAIN_ONLY, ANSWERS) == []


@pytest.mark.parametrize("pattern", sorted(LEAKY))
def test_each_leak_pattern_is_caught(pattern: str) -> None:
    findings = static_leaks(CLEAN + LEAKY[pattern], TRAIN_ONLY, ANSWERS)
    assert findings, pattern
    assert all(f.startswith("line ") for f in findings)


def test_unparsable_script_reports_nothing() -> None:
    assert static_leaks("def broken(:\n", TRAIN_ONLY) == []


def _data_dir(tmp_path: Path, leak: bool) -> tuple[Path, dict]:
    rng = np.random.default_rng(0)
    n = 400
    target = rng.integers(0, 2, n)
    frame = pd.DataFrame({"noise": rng.normal(size=n), "city": rng.choice(["a", "b", "c"], n)})
    if leak:
        frame["status"] = np.where(target == 1, "gone", "stayed")
    frame.to_parquet(tmp_path / "train.parquet")
    np.save(tmp_path / "target.npy", target)
    np.save(tmp_path / "folds.npy", np.arange(n) % 5)
    kinds = {"noise": "numeric", "city": "categorical", "status": "categorical"}
    profile = {"features": list(frame.columns), "columns": {c: {"kind": kinds[c]} for c in frame.columns}}
    return tmp_path, profile


def test_dynamic_check_reports_a_column_that_gives_the_answer_away(tmp_path: Path) -> None:
    data_dir, profile = _data_dir(tmp_path, leak=True)
    findings = dynamic_leaks(data_dir, profile)
    assert len(findings) == 1 and "'status'" in findings[0]


def test_dynamic_check_is_quiet_on_honest_columns(tmp_path: Path) -> None:
    data_dir, profile = _data_dir(tmp_path, leak=False)
    assert dynamic_leaks(data_dir, profile) == []


def test_columns_are_judged_once_even_by_callers_at_the_same_time(tmp_path: Path, monkeypatch) -> None:
    """A run judges the columns beside its first scripts; the check stage, coming while that is
    under way or after it, waits for that answer instead of judging again."""
    import threading
    import time

    from mlestar.checks import leakage

    data_dir, profile = _data_dir(tmp_path, leak=True)
    calls = []

    def slow_judging(data_dir: Path, profile: dict) -> list[str]:
        calls.append(data_dir)
        time.sleep(0.2)  # long enough that the second caller comes while the first is judging
        return dynamic_leaks(data_dir, profile)

    monkeypatch.setattr(leakage, "dynamic_leaks", slow_judging)
    answers: list[list[str]] = []
    first = threading.Thread(target=lambda: answers.append(leakage.column_leaks(data_dir, profile)))
    first.start()
    time.sleep(0.05)
    answers.append(leakage.column_leaks(data_dir, profile))
    first.join()
    answers.append(leakage.column_leaks(data_dir, dict(profile)))  # an equal profile: judged already
    assert len(calls) == 1
    assert answers[0] == answers[1] == answers[2] and "'status'" in answers[0][0]


def test_single_column_score_for_regression() -> None:
    rng = np.random.default_rng(1)
    x = pd.Series(rng.normal(size=500))
    folds = np.arange(500) % 5
    assert single_column_score(x, (3 * x).to_numpy(), folds) > 0.99
    assert single_column_score(x, rng.normal(size=500), folds) < 0.2


def test_builtin_scripts_are_clean(tmp_path: Path) -> None:
    engineer = BuiltinEngineer()
    task = make_task(tmp_path, "binary")
    script = engineer.draft(task.ctx, engineer.retrieve(task.ctx, 1)[0])
    report = engineer.check_leakage(task.ctx, script)
    assert report.leaks == () and report.fixed_code is None


def test_engineer_reports_a_too_good_column_for_review(tmp_path: Path) -> None:
    engineer = BuiltinEngineer()
    task = make_task(tmp_path, "binary")
    train = pd.read_parquet(task.ctx.data_dir / "train.parquet")
    train["outcome_code"] = np.where(np.load(task.ctx.data_dir / "target.npy") == 1, "Y", "N")
    train.to_parquet(task.ctx.data_dir / "train.parquet")
    profile = {**task.ctx.profile, "features": [*task.ctx.profile["features"], "outcome_code"]}
    profile["columns"] = {**profile["columns"], "outcome_code": {"kind": "categorical", "n_unique": 2}}
    ctx = type(task.ctx)(task.spec, profile, 7, 1, 60.0, task.ctx.data_dir)
    script = engineer.draft(ctx, engineer.retrieve(ctx, 1)[0])
    report = engineer.check_leakage(ctx, script)
    assert any("outcome_code" in leak and "review" in leak for leak in report.leaks)
    assert report.fixed_code is None


def test_engineer_drops_a_train_only_column_used_as_a_feature(tmp_path: Path) -> None:
    engineer = BuiltinEngineer()
    task = make_task(tmp_path, "binary")
    # An inconsistent profile lists a train-only column as a feature: the script would use it.
    profile = {
        **task.ctx.profile,
        "features": [*task.ctx.profile["features"], "bonus"],
        "train_only": ["label", "bonus"],
    }
    profile["columns"] = {**profile["columns"], "bonus": {"kind": "numeric", "n_unique": 50, "min": 0.0}}
    ctx = type(task.ctx)(task.spec, profile, 7, 1, 60.0, task.ctx.data_dir)
    script = engineer.draft(ctx, engineer.retrieve(ctx, 1)[0])
    report = engineer.check_leakage(ctx, script)
    assert any("'bonus'" in leak for leak in report.leaks)
    assert report.fixed_code is not None and '"bonus"' not in report.fixed_code and '"bonus"' in script
