"""Boosted members choose their number of rounds from the data: each fit watches a share of its own
rows to find its best round, so pure noise stops far below the cap and a clean signal uses about
all of it; the same seed gives the same rounds and predictions. EarlyStopped's fit returns the model
refitted with the rounds it found (and keeps them as rounds_); inside target encoding's Pipeline it
is a whole estimator instead (fit returns it, it predicts through the refitted model)."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlestar.blocks import get_block, replace_block
from mlestar.engineers.base import EngineerFailure
from mlestar.engineers.builtin import BuiltinEngineer
from mlestar.engineers.builtin import members as mem
from mlestar.engineers.builtin.cards import load_cards
from mlestar.engineers.builtin.members import read_model

sys.path.insert(0, str(Path(__file__).parent))  # the shared tiny tasks live beside this file
from test_builtin_tasks import make_task  # noqa: E402

CARDS = load_cards()
BOOSTED = sorted(name for name, card in CARDS.items() if card.boosting)
CAP = 200
"""Rounds the tests allow: small enough to fit in a second, large enough to tell stopping apart."""
LEARNING_RATE = {"lightgbm": 0.1, "xgboost": 0.1, "catboost": 0.2}
"""Fast enough that a clean signal keeps improving until the cap and noise is overfitted at once."""


def build(card_name: str, problem_type: str, seed: int = 1, options: tuple[str, ...] = ()) -> Any:
    """The member make_models returns for this card, from the rendered model block itself."""
    (model,) = build_members((card_name,), problem_type, seed, options)
    return model


def build_members(
    card_names: tuple[str, ...], problem_type: str, seed: int = 1, options: tuple[str, ...] = ()
) -> list[Any]:
    """The members make_models returns for one model block holding these cards, in their order (the
    bare EarlyStopped: target encoding's Pipeline, when in `options`, is unwrapped)."""
    members = []
    for card_name in card_names:
        member = mem.member_for(CARDS[card_name], problem_type, 1000)
        count = "iterations" if "iterations" in member.settings else "n_estimators"
        settings = {**member.settings, count: CAP, "learning_rate": LEARNING_RATE[card_name]}
        members.append(mem.Member(member.name, card_name, tuple(sorted(settings.items()))))
    spec = mem.ModelSpec(tuple(members), options)
    block = mem.render_model(spec, CARDS, problem_type, "rmse" if "regression" in problem_type else "auc")
    namespace: dict[str, Any] = {"np": np, "pd": pd, "copy": copy, "Any": Any, "SEED": seed, "THREADS": 1}
    namespace["take"] = lambda x, rows: x.iloc[rows] if isinstance(x, pd.DataFrame) else x[rows]
    namespace["category_columns"] = lambda frame: []
    exec(compile("from __future__ import annotations\n" + block, "model_block", "exec"), namespace)
    inputs = {view: None for view in namespace["VIEWS"]}
    models = [model for _view, model in namespace["make_models"](inputs, np.zeros(1), np.zeros(1)).values()]
    models = [m.steps[-1][1] if hasattr(m, "steps") else m for m in models]
    for card_name, model in zip(card_names, models, strict=True):
        assert type(model).__name__ == "EarlyStopped", f"{card_name} is not wrapped in EarlyStopped"
    return models


def table(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"x{i}" for i in range(6)])


@pytest.mark.parametrize("card_name", BOOSTED)
def test_noise_stops_early_and_a_clean_signal_uses_the_cap(card_name: str) -> None:
    x = table(1200)
    clean = x["x0"] * 2 + np.sin(3 * x["x1"]) + x["x2"] * x["x3"]
    noise = np.random.default_rng(5).normal(size=len(x))
    on_noise, on_signal = build(card_name, "regression"), build(card_name, "regression")
    refits = on_noise.fit(x, noise), on_signal.fit(x, clean.to_numpy())
    assert on_noise.rounds_ < CAP / 2, f"{card_name} kept {on_noise.rounds_} rounds of {CAP} on noise"
    assert on_signal.rounds_ >= 0.9 * CAP, f"{card_name} stopped at {on_signal.rounds_} of {CAP} on a signal"
    # fit returns the model refitted on every row with the rounds found, a tenth more for a tenth more rows.
    count = "iterations" if card_name == "catboost" else "n_estimators"
    for stopper, refit in zip((on_noise, on_signal), refits, strict=True):
        assert type(refit).__name__ != "EarlyStopped"
        assert refit.get_params()[count] == int(stopper.rounds_ * 1.1) + 1


@pytest.mark.parametrize("card_name", BOOSTED)
def test_classes_stop_early_on_noise_and_keep_every_class(card_name: str) -> None:
    x = table(900, seed=1)
    labels = np.random.default_rng(2).integers(0, 3, len(x))
    labels[:3], labels[3] = 3, 4  # rare classes: the one of a single row must not be watched away
    stopper = build(card_name, "multiclass")
    assert stopper.fit(x, labels).predict_proba(x).shape == (len(x), 5)
    assert stopper.rounds_ < CAP / 2


@pytest.mark.parametrize("card_name", BOOSTED)
def test_the_same_seed_gives_the_same_rounds_and_predictions(card_name: str) -> None:
    x = table(600, seed=3)
    y = (x["x0"] + np.random.default_rng(4).normal(size=len(x)) > 0).astype(int).to_numpy()
    first, again, other = [build(card_name, "binary", seed) for seed in (1, 1, 2)]
    refits = [stopper.fit(x, y) for stopper in (first, again, other)]
    assert first.rounds_ == again.rounds_
    np.testing.assert_array_equal(refits[0].predict_proba(x), refits[1].predict_proba(x))
    assert not np.array_equal(refits[0].predict_proba(x), refits[2].predict_proba(x))


@pytest.mark.parametrize("card_name", [name for name in BOOSTED if CARDS[name].view == "trees"])
def test_in_a_pipeline_early_stopping_is_a_whole_estimator_that_predicts_the_same(card_name: str) -> None:
    """Target encoding's Pipeline keeps its last step and predicts through it: there EarlyStopped's fit
    returns itself and it predicts what the refitted model it holds predicts."""
    x = table(600, seed=3)
    y = (x["x0"] + np.random.default_rng(4).normal(size=len(x)) > 0).astype(int).to_numpy()
    lean, whole = build(card_name, "binary"), build(card_name, "binary", options=("target_encoding",))
    refit = lean.fit(x, y)
    assert whole.fit(x, y) is whole and whole.rounds_ == lean.rounds_
    np.testing.assert_array_equal(whole.predict_proba(x), refit.predict_proba(x))


def test_members_of_several_libraries_in_one_block_each_stop_with_their_own() -> None:
    """One EarlyStopped for the block: told each member's library, it stops each the way that library
    does, and on the same rows and seed finds the rounds a block of that library alone finds."""
    x = table(600, seed=6)
    noise = np.random.default_rng(7).normal(size=len(x))
    y = (x["x0"] + x["x1"] * x["x2"] + noise > 0).astype(int).to_numpy()
    together = build_members(tuple(BOOSTED), "binary")
    for card_name, model in zip(BOOSTED, together, strict=True):
        assert model.flavour == card_name
        alone = build(card_name, "binary")
        refit, refit_alone = model.fit(x, y), alone.fit(x, y)
        assert model.rounds_ == alone.rounds_ < CAP, card_name
        np.testing.assert_array_equal(refit.predict_proba(x), refit_alone.predict_proba(x))


def test_slower_learning_halves_the_rate_once_and_raises_the_cap(tmp_path: Path) -> None:
    """The refinement that replaced the early-stopping option: early stopping is always on, so what is
    left to try is a slower rate with room for more rounds (and only once)."""
    engineer = BuiltinEngineer()
    ctx = make_task(tmp_path, "binary").ctx
    script = engineer.draft(ctx, next(c for c in engineer.retrieve(ctx, 20) if c.name == "lightgbm"))
    slower = engineer.implement(ctx, script, "model", "[plan: model +slower_learning]")
    before, after = read_model(get_block(script, "model")), read_model(slower)
    (old,), (new,) = [m.settings for m in before.members], [m.settings for m in after.members]
    assert new["learning_rate"] == old["learning_rate"] / 2
    assert new["n_estimators"] == 4 * old["n_estimators"]
    with pytest.raises(EngineerFailure, match="changes nothing"):
        engineer.implement(
            ctx, replace_block(script, "model", slower), "model", "[plan: model +slower_learning]"
        )
