"""A scripted engineer for driving the search in tests: fast numpy scripts with chosen scores.

Each script predicts the answers plus noise of a chosen size, so the harness's score is under the
test's control: less noise scores better. Behaviours (failing drafts, failing merges, a missing
block, plans that only make things worse) are switched on by constructor arguments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mlestar.engineers.base import (
    AblationResult,
    BlockChoice,
    Candidate,
    EngineerFailure,
    EnsembleMember,
    EnsemblePlan,
    LeakageReport,
    PlanOutcome,
    TaskContext,
    Usage,
    Variant,
)

TEMPLATE = '''"""Scripted test solution: the answers plus noise."""

import time
from pathlib import Path

import numpy as np
import pandas as pd

SEED = {seed}
FOLD_NOISE = {fold_noise}
ROWS_ANSWER = {rows_answer}


# %% block: load
def load():
    y = np.load("input/target.npy").astype(float)
    folds = np.load("input/folds.npy")
    n_test = len(pd.read_parquet("input/test.parquet"))
    return y.reshape(len(y), -1), folds, n_test


# %% block: features
def features(y):
    return y


# %% block: model
NOISE = {noise}
FAIL = {fail}
SLEEP = {sleep}


# %% block: train
def train(y, folds, n_test):
    time.sleep(SLEEP)
    if FAIL:
        raise RuntimeError("scripted failure")
    salt = int(np.flatnonzero(folds == 0)[:5].sum()) if FOLD_NOISE else 0  # another split, other noise
    rng = np.random.default_rng(SEED + salt)
    oof = y + rng.normal(0.0, NOISE, y.shape)
    oof[folds < 0] = np.nan
    test = np.full((n_test, y.shape[1]), float(np.nanmean(y)))
    if ROWS_ANSWER:  # the script's own answer, from the rows it is given
        test = np.full((n_test, y.shape[1]), float(np.nanmean(y[folds >= 0]) + NOISE))
    return oof, test


# %% block: main
def main():
    y, folds, n_test = load()
    oof, test = train(features(y), folds, n_test)
    Path("output").mkdir(exist_ok=True)
    np.save("output/oof.npy", oof)
    np.save("output/test.npy", test)


if __name__ == "__main__":
    main()
'''


def script(
    noise: float,
    fail: bool = False,
    seed: int = 0,
    sleep: float = 0.0,
    fold_noise: bool = False,
    rows_answer: bool = False,
) -> str:
    return TEMPLATE.format(
        noise=noise, fail=fail, seed=seed, sleep=sleep, fold_noise=fold_noise, rows_answer=rows_answer
    )


def noise_of(code: str) -> float:
    return float(re.search(r"NOISE = ([0-9.]+)", code).group(1))  # type: ignore[union-attr]


@dataclass
class ScriptedEngineer:
    name: str = "scripted"
    drafts: dict[str, float | str] = field(default_factory=lambda: {"a": 0.5, "b": 0.6, "c": 0.7})
    """Candidate name -> noise, or "fail" (script raises) or "raise" (the engineer fails)."""
    merge_gain: float = 0.9
    merge_fails: bool = False
    plan_gains: list[float] = field(default_factory=lambda: [0.95, 0.8, 1.2, 0.9])
    """Noise multiplier of the k-th plan of each inner loop (> 1: the plan makes things worse)."""
    ablation_gain: float = 2.0
    """Noise multiplier of the ablation variant (< 1: taking the part out helps)."""
    missing_block: bool = False
    debug_fixes: bool = True
    leak: bool = False
    sleep: float = 0.0
    """Seconds every script sleeps, to spend budget."""
    families: dict[str, str] = field(default_factory=dict)
    """Candidate name -> model family (default: its own)."""
    draft_sleeps: dict[str, float] = field(default_factory=dict)
    """Candidate name -> seconds its scripts sleep (overrides `sleep`): to reorder finishing."""
    fold_noise: bool = False
    """Scripts draw other noise on other splits (as real models do), so repeats differ."""
    rows_answer: bool = False
    """Test answers depend on the script and the rows it is given (the mean of the rows in its
    folds, plus its noise): each script answers otherwise, and a final fit on every row otherwise
    than its search on a subsample."""
    plan_sleeps: list[float] = field(default_factory=list)
    """Seconds the k-th plan's script sleeps (overrides `sleep`; unset past the list's end)."""
    calls: list[str] = field(default_factory=list)
    plans_seen: list[list[PlanOutcome]] = field(default_factory=list)
    """The history each plan_next call was given."""
    ensembles_seen: list[list[PlanOutcome]] = field(default_factory=list)
    """The history each plan_ensemble call was given."""
    screening_seen: list[int] = field(default_factory=list)
    """Rows of ctx.screening each merge call saw."""

    def _call(self, role: str) -> None:
        self.calls.append(role)

    def retrieve(self, ctx: TaskContext, m: int) -> list[Candidate]:
        self._call("retrieve")
        return [Candidate(n, f"model {n}", family=self.families.get(n, "")) for n in list(self.drafts)[:m]]

    def draft(self, ctx: TaskContext, candidate: Candidate) -> str:
        self._call("draft")
        spec = self.drafts[candidate.name]
        sleep = self.draft_sleeps.get(candidate.name, self.sleep)
        if spec == "raise":
            raise EngineerFailure("scripted: no draft")
        if spec == "fail":
            return script(
                0.5, fail=True, sleep=sleep, fold_noise=self.fold_noise, rows_answer=self.rows_answer
            )
        return script(float(spec), sleep=sleep, fold_noise=self.fold_noise, rows_answer=self.rows_answer)

    def merge(self, ctx: TaskContext, base: str, other: str, other_candidate: Candidate) -> str:
        self._call("merge")
        self.screening_seen.append(len(ctx.screening))
        gain = noise_of(base) * self.merge_gain
        return script(
            gain,
            fail=self.merge_fails,
            sleep=self.sleep,
            fold_noise=self.fold_noise,
            rows_answer=self.rows_answer,
        )

    def check_data_usage(self, ctx: TaskContext, code: str) -> str | None:
        self._call("check_data_usage")
        return None

    def check_leakage(self, ctx: TaskContext, code: str) -> LeakageReport:
        self._call("check_leakage")
        if self.leak:
            fixed = script(noise_of(code) * 1.1, fold_noise=self.fold_noise, rows_answer=self.rows_answer)
            return LeakageReport(("scripted leak",), fixed_code=fixed)
        return LeakageReport(())

    def ablate(self, ctx: TaskContext, code: str, previous: list[str]) -> list[Variant]:
        self._call("ablate")
        variant = script(
            noise_of(code) * self.ablation_gain,
            sleep=self.sleep,
            fold_noise=self.fold_noise,
            rows_answer=self.rows_answer,
        )
        return [Variant("noisier", "double the noise", "model", variant)]

    def summarize_ablation(self, ctx: TaskContext, results: list[AblationResult]) -> str:
        self._call("summarize_ablation")
        return "; ".join(f"{r.variant.name}: {r.impact}" for r in results)

    def pick_block(self, ctx: TaskContext, code: str, summary: str, refined: list[str]) -> BlockChoice:
        self._call("pick_block")
        return BlockChoice("nowhere" if self.missing_block else "model", "plan 0")

    def plan_next(self, ctx: TaskContext, code: str, block: str, history: list[PlanOutcome]) -> str:
        self._call("plan_next")
        self.plans_seen.append(list(history))
        return f"plan {len(history)}"

    def settle(self, ctx: TaskContext, script: str) -> str:
        return script

    def implement(self, ctx: TaskContext, code: str, block: str, plan: str) -> str:
        self._call("implement")
        k = int(plan.split()[-1])
        gain = self.plan_gains[k % len(self.plan_gains)]
        sleep = self.plan_sleeps[k] if k < len(self.plan_sleeps) else self.sleep
        return f"NOISE = {noise_of(code) * gain:.6f}\nFAIL = False\nSLEEP = {sleep}\n"

    def plan_ensemble(
        self, ctx: TaskContext, members: list[EnsembleMember], history: list[PlanOutcome]
    ) -> EnsemblePlan:
        self._call("plan_ensemble")
        self.ensembles_seen.append(list(history))
        kinds = ["average", "greedy", "stacking"]
        kind = kinds[len(history) % len(kinds)]
        return EnsemblePlan(kind, f"{kind} of the best solutions")

    def debug(self, ctx: TaskContext, code: str, error: str) -> str:
        self._call("debug")
        return code.replace("FAIL = True", "FAIL = False") if self.debug_fixes else code

    def take_usage(self) -> Usage:
        return Usage()
