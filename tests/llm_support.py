"""Shared pieces of the LLM tests: a task context, sample scripts, a recording fallback engineer,
and replies in the formats the prompts ask for."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mlestar import blocks
from mlestar.engineers.base import (
    AblationResult,
    BlockChoice,
    Candidate,
    EnsembleMember,
    EnsemblePlan,
    LeakageReport,
    PlanOutcome,
    TaskContext,
    Usage,
    Variant,
)
from mlestar.task.spec import TaskSpec
from tests.builders import build_spec

FAKE_KEY = "sk-test-FAKE-KEY-0123456789abcdef"

SCRIPT = '''"""Ridge regression on the numeric columns."""
import os

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge

SEED = int(os.environ.get("MLESTAR_SEED", "42"))


# %% block: load
train = pd.read_parquet("input/train.parquet")
test = pd.read_parquet("input/test.parquet")
y = np.load("input/target.npy")
folds = np.load("input/folds.npy")


# %% block: features
cols = [c for c in test.columns if c != "id"]
X, X_test = train[cols].to_numpy(float), test[cols].to_numpy(float)


# %% block: train
oof = np.full((len(train), 1), np.nan)
test_pred = np.zeros((len(test), 1))
n_folds = len(set(folds[folds >= 0]))
for k in sorted(set(folds[folds >= 0])):
    fit, val = (folds >= 0) & (folds != k), folds == k
    model = Ridge(alpha=1.0).fit(X[fit], y[fit])
    oof[val, 0] = model.predict(X[val])
    test_pred[:, 0] += model.predict(X_test) / n_folds


# %% block: save
os.makedirs("output", exist_ok=True)
np.save("output/oof.npy", oof)
np.save("output/test.npy", test_pred)
'''

FEATURES_V2 = """cols = [c for c in test.columns if c != "id"]
X, X_test = train[cols].to_numpy(float), test[cols].to_numpy(float)
X, X_test = np.hstack([X, X**2]), np.hstack([X_test, X_test**2])
"""


def solution(cols: str = '["a", "b", "c"]', ridge: float = 1.0, squares: bool = False) -> str:
    """A numpy-only solution script in the house style (fast under a light fork server)."""
    extra = "\nX, X_test = np.hstack([X, X**2]), np.hstack([X_test, X_test**2])" if squares else ""
    return f'''"""Ridge regression by normal equations."""
import os

import numpy as np
import pandas as pd

SEED = int(os.environ.get("MLESTAR_SEED", "42"))


# %% block: load
train = pd.read_parquet("input/train.parquet")
test = pd.read_parquet("input/test.parquet")
y = np.load("input/target.npy").astype(float).reshape(-1)
folds = np.load("input/folds.npy")


# %% block: features
cols = {cols}
X, X_test = train[cols].to_numpy(float), test[cols].to_numpy(float){extra}


# %% block: model
RIDGE = {ridge}


def fit_predict(X_fit, y_fit, X_new):
    A = np.hstack([X_fit, np.ones((len(X_fit), 1))])
    w = np.linalg.solve(A.T @ A + RIDGE * np.eye(A.shape[1]), A.T @ y_fit)
    return [np.hstack([x, np.ones((len(x), 1))]) @ w for x in X_new]


# %% block: train
oof = np.full((len(train), 1), np.nan)
test_pred = np.zeros((len(test), 1))
ks = sorted(set(folds[folds >= 0]))
for k in ks:
    fit, val = (folds >= 0) & (folds != k), folds == k
    p_val, p_test = fit_predict(X[fit], y[fit], [X[val], X_test])
    oof[val, 0] = p_val
    test_pred[:, 0] += p_test / len(ks)


# %% block: save
os.makedirs("output", exist_ok=True)
np.save("output/oof.npy", oof)
np.save("output/test.npy", test_pred)
'''


def fenced(code: str, label: str = "python") -> str:
    return f"```{label}\n{code.rstrip()}\n```"


def spec(tmp: Path, description: str = "Predict y from the numeric columns x1..x3.") -> TaskSpec:
    return build_spec(tmp, "regression", sample=True, name="toy-regression", description=description)


def context(tmp: Path, description: str = "Predict y from the numeric columns x1..x3.") -> TaskContext:
    profile = {"n_train": 120, "n_test": 40, "columns": {"x1": "numeric", "x2": "numeric", "x3": "numeric"}}
    return TaskContext(spec(tmp, description), profile, 7, 1, 60.0, tmp / "data")


ROLE_LINE = re.compile(r"Your role: (\w+)\.")


def role_of(messages: list[dict[str, Any]]) -> str:
    """The role a request was made for, read from its system message."""
    for m in messages:
        found = ROLE_LINE.search(str(m.get("content", "")))
        if found:
            return found.group(1)
    return "?"


class RecordingFallback:
    """A fallback engineer that answers every role with a fixed value and notes each call."""

    name = "fallback"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def retrieve(self, ctx: TaskContext, m: int) -> list[Candidate]:
        self.calls.append("retrieve")
        cards = [Candidate("ridge", "linear"), Candidate("lightgbm", "trees"), Candidate("knn", "neighbours")]
        return cards[:m]

    def draft(self, ctx: TaskContext, candidate: Candidate) -> str:
        self.calls.append("draft")
        return SCRIPT

    def merge(self, ctx: TaskContext, base: str, other: str, other_candidate: Candidate) -> str:
        self.calls.append("merge")
        return base

    def check_data_usage(self, ctx: TaskContext, script: str) -> str | None:
        self.calls.append("check_data_usage")
        return None

    def check_leakage(self, ctx: TaskContext, script: str) -> LeakageReport:
        self.calls.append("check_leakage")
        return LeakageReport(())

    def ablate(self, ctx: TaskContext, script: str, previous: list[str]) -> list[Variant]:
        self.calls.append("ablate")
        return []

    def summarize_ablation(self, ctx: TaskContext, results: list[AblationResult]) -> str:
        self.calls.append("summarize_ablation")
        return "fallback summary"

    def pick_block(self, ctx: TaskContext, script: str, summary: str, refined: list[str]) -> BlockChoice:
        self.calls.append("pick_block")
        return BlockChoice("features", "fallback plan")

    def plan_next(self, ctx: TaskContext, script: str, block: str, history: list[PlanOutcome]) -> str:
        self.calls.append("plan_next")
        return "fallback next plan"

    def settle(self, ctx: TaskContext, script: str) -> str:
        return script

    def implement(self, ctx: TaskContext, script: str, block: str, plan: str) -> str:
        self.calls.append("implement")
        return FEATURES_V2

    def plan_ensemble(
        self, ctx: TaskContext, members: list[EnsembleMember], history: list[PlanOutcome]
    ) -> EnsemblePlan:
        self.calls.append("plan_ensemble")
        return EnsemblePlan("average", "fallback average")

    def debug(self, ctx: TaskContext, script: str, error: str) -> str:
        self.calls.append("debug")
        return script

    def take_usage(self) -> Usage:
        return Usage()


def cards_json(names: list[str]) -> str:
    cards = [{"name": n, "summary": f"{n} works well", "example": f"model = {n}()"} for n in names]
    return json.dumps(cards)


class GoodModel:
    """A model that answers every role usably, reading what each prompt shows. Its draft number
    `broken_draft` fails when run (a column that does not exist), so debug is asked too."""

    def __init__(self, broken_draft: int | None = 1) -> None:
        self.broken_draft = broken_draft
        self.asked: dict[str, int] = {}

    def answer(self, role: str, prompt: str) -> str:
        n = self.asked.get(role, 0)
        self.asked[role] = n + 1
        if role == "retrieve":
            return self._cards(prompt)
        if role == "draft":
            ridge = (3.0, 10.0, 30.0, 100.0)[n % 4]
            return fenced(
                solution(cols='["a", "b", "d"]') if n == self.broken_draft else solution(ridge=ridge)
            )
        if role == "merge":
            return fenced("# %% block: model\n" + blocks.get_block(solution(ridge=1.0 / (n + 2)), "model"))
        if role == "implement":
            block = re.search(r"PLAN for block ([\w-]+)", prompt).group(1)  # type: ignore[union-attr]
            return fenced(blocks.get_block(solution(ridge=1.0 / (n + 2), squares=block == "features"), block))
        if role == "pick_block":
            done = re.search(r"Blocks refined in earlier rounds: ([^.]*)\.", prompt)
            refined = done.group(1).split(", ") if done else []
            block = next((b for b in ("model", "features", "train", "save") if b not in refined), "model")
            return json.dumps({"block": block, "plan": f"Improve the {block} block."})
        kinds = ("average", "greedy", "stacking")
        return {
            "check": "OK",
            "check_data_usage": "ALL DATA USED",
            "check_leakage": '{"leakage": false, "findings": []}',
            "ablate": "VARIANT: one-column\nBLOCK: features\nWHAT: only a\n"
            + fenced('cols = ["a"]\nX, X_test = train[cols].to_numpy(float), test[cols].to_numpy(float)'),
            "summarize_ablation": "Dropping columns b and c hurts most: the features block matters.",
            "plan_next": f"Lower the ridge penalty further, step {n}.",
            "plan_ensemble": json.dumps(
                {"kind": kinds[n % 3], "members": [], "plan": f"{kinds[n % 3]} of all"}
            ),
            "debug": fenced(solution(squares=True)),
        }[role]

    @staticmethod
    def _cards(prompt: str) -> str:
        if "Model cards available:" in prompt:  # choose among the cards shown
            menu = prompt.split("Model cards available:", 1)[1]
            return json.dumps(re.findall(r"^- ([\w.-]+):", menu, re.M)[:3])
        return cards_json(["ridge-normal-equations", "ridge-strong", "ridge-weak"])
