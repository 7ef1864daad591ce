"""The model cards: every family runs inside a script, and each card says where it applies."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from mlestar.engineers.builtin import BuiltinEngineer
from mlestar.engineers.builtin import cards as cards_package
from mlestar.engineers.builtin.cards import rank_cards
from mlestar.engineers.builtin.recipe import read_recipe
from mlestar.execution.base import Executor

sys.path.insert(0, str(Path(__file__).parent))  # the shared tiny tasks live beside this file
from test_builtin_tasks import check_outputs, make_task, run_script  # noqa: E402

FAMILIES_NEEDED = {"neighbours", "kernel", "linear_margin", "discriminant", "naive_bayes_table", "neural"}


@pytest.fixture(scope="module")
def engineer() -> BuiltinEngineer:
    return BuiltinEngineer()


@pytest.mark.parametrize(
    "kind",
    [
        "binary",
        pytest.param("regression", marks=pytest.mark.slow),
        pytest.param("multilabel", marks=pytest.mark.slow),
    ],
)
def test_every_new_family_runs_as_a_member(
    tmp_path: Path, engineer: BuiltinEngineer, kind: str, script_executor: Executor
) -> None:
    """The cards of these families that apply, merged into one script (one run covers them all):
    the contract holds and every member's predictions are finite (a NaN would spoil the average)."""
    task = make_task(tmp_path, kind)
    candidates = [
        c
        for c in engineer.retrieve(task.ctx, 50)
        if engineer.cards[c.name].family in FAMILIES_NEEDED | {"linear"}
    ]
    script = engineer.draft(task.ctx, candidates[0])
    for candidate in candidates[1:]:
        script = engineer.merge(task.ctx, script, engineer.draft(task.ctx, candidate), candidate)
    members = [m.card for m in read_recipe(script, engineer.cards).model.members]
    assert members == [c.name for c in candidates]
    oof, test = run_script(task, script, tmp_path / "attempt", script_executor, budget_s=30)
    check_outputs(task, oof, test)


def test_the_new_families_are_there_for_tables(engineer: BuiltinEngineer, tmp_path: Path) -> None:
    ctx = make_task(tmp_path, "binary").ctx
    families = {engineer.cards[c.name].family for c in engineer.retrieve(ctx, 50)}
    assert families >= FAMILIES_NEEDED


def test_cards_say_where_they_apply(engineer: BuiltinEngineer, tmp_path: Path) -> None:
    profile = dict(make_task(tmp_path, "binary").ctx.profile)

    def applicable(**changes: object) -> set[str]:
        return {r.card.name for r in rank_cards(engineer.cards, {**profile, **changes}, 600.0)}

    small, large = applicable(), applicable(n_train=150_000)
    assert {"svm_rbf", "knn", "lda", "qda", "gaussian_nb", "mlp", "linear_cv"} <= small
    assert "svm_rbf" not in large and "knn" not in large and "lightgbm" in large  # cost grows with rows
    regression = applicable(problem_type="regression")
    assert {"knn", "svm_rbf", "mlp", "linear_cv"} <= regression
    assert not {"lda", "qda", "gaussian_nb"} & regression  # classifiers only
    assert "qda" not in applicable(n_train=60)  # needs rows per class


@pytest.mark.slow
def test_tuned_regularisation_is_chosen_inside_the_fold(
    engineer: BuiltinEngineer, tmp_path: Path, script_executor: Executor
) -> None:
    """linear_cv picks its penalty by cross-validation on each training fold: no time box, no search
    by the harness, so the same script gives the same predictions."""
    task = make_task(tmp_path, "binary")
    candidate = next(c for c in engineer.retrieve(task.ctx, 50) if c.name == "linear_cv")
    script = engineer.draft(task.ctx, candidate)
    assert "GridSearchCV(" in script and "timeout" not in script
    first = run_script(task, script, tmp_path / "one", script_executor)
    second = run_script(task, script, tmp_path / "two", script_executor)
    np.testing.assert_array_equal(first[0], second[0])


RANDOMISED = re.compile(
    r"""solver\s*=\s*["'](liblinear|sag|saga)["']|SGD\w+\(|MLP\w+\(|RandomForest\w+\(|ExtraTrees\w+\("""
)
"""Estimators that draw random numbers as they fit: without random_state they differ run to run."""


def test_every_randomised_estimator_in_a_card_is_seeded() -> None:
    """A card whose estimator shuffles as it fits (liblinear's dual solver, SAG, SGD, forests, MLPs)
    passes random_state: an unseeded one made a text solution differ from its own rerun."""
    cards = sorted(Path(cards_package.__file__).with_suffix("").glob("*.yaml"))  # cards.py's folder
    assert len(cards) > 20
    for card in cards:
        for line in card.read_text().splitlines():
            if RANDOMISED.search(line) and "random_state" not in line and "import" not in line:
                data = yaml.safe_load(card.read_text())
                seed_param = data.get("seed_param") or ""
                assert seed_param == "random_state", f"{card.name}: {line.strip()}"
