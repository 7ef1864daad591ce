"""The fallback engineer makes progress from scripts a model wrote: generic edits of the settings
its named blocks hold, ablations, a sped-up debug of a timed-out script; and the built-in
engineer's own line for its own scripts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlestar import blocks
from mlestar.engineers.base import EngineerFailure, PlanOutcome, TaskContext
from mlestar.engineers.builtin import BuiltinEngineer
from mlestar.engineers.fallback import FallbackEngineer, edits
from mlestar.engineers.fallback.knobs import find_knobs
from mlestar.engineers.llm.gate import script_findings
from mlestar.task.profile import profile_task
from tests.llm_support import SCRIPT, context, spec

MODEL_SCRIPT = SCRIPT.replace(
    "from sklearn.linear_model import Ridge",
    "from lightgbm import LGBMRegressor\nfrom sklearn.linear_model import Ridge",
).replace(
    "# %% block: train",
    '# %% block: model\nPARAMS = {"learning_rate": 0.05, "num_leaves": 31}\n'
    "booster = LGBMRegressor(\n    n_estimators=300,\n    random_state=SEED,\n)\nRIDGE_ALPHA = 1.0\n\n\n# %% block: train",
)


def _fallback() -> FallbackEngineer:
    return FallbackEngineer(BuiltinEngineer())


def _ctx(tmp: Path) -> TaskContext:
    return context(tmp)


@pytest.mark.parametrize(
    ("code", "written", "defaults"),
    [
        ("x = LGBMRegressor(n_estimators=300, learning_rate=0.05)", {("n_estimators", 300.0), ("learning_rate", 0.05)}, {("num_leaves", 31.0)}),
        ("x = Ridge(alpha=-1e-3)", {("alpha", -0.001)}, set()),
        ("x = Ridge()", set(), {("alpha", 1.0)}),
        ("x = Ridge(**opts)", set(), set()),  # anything may hide in **opts: nothing is added
        ("x = Ridge(alpha=ALPHA)", set(), set()),  # computed: left alone
        ("x = Whatever(n_estimators=50)", {("n_estimators", 50.0)}, set()),
        ('p = {"eta": 0.3, "max_depth": 6, "objective": "reg:squarederror"}', {("eta", 0.3), ("max_depth", 6.0)}, set()),
        ("N_ESTIMATORS = 400\nLR = 0.1\nSEED = 3\nname = 'x'", {("N_ESTIMATORS", 400.0), ("LR", 0.1)}, set()),
    ],
)  # fmt: skip
def test_knobs_are_found_in_any_code(
    code: str, written: set[tuple[str, float]], defaults: set[tuple[str, float]]
) -> None:
    found = find_knobs(f"import os\n\n# %% block: model\n{code}\n", "model")
    assert {(k.name, k.value) for k in found if k.explicit} == written
    assert defaults <= {(k.name, k.value) for k in found if not k.explicit}
    if not defaults:
        assert "Ridge" not in code or all(k.explicit for k in found)


def test_knobs_of_one_block_only() -> None:
    assert [k.name for k in find_knobs(MODEL_SCRIPT, "features")] == []
    names = [k.name for k in find_knobs(MODEL_SCRIPT, "model") if k.explicit]
    assert names == ["learning_rate", "num_leaves", "n_estimators", "RIDGE_ALPHA"]


def test_each_move_changes_the_settings_it_names_and_keeps_the_script_valid() -> None:
    seen = {}
    for move in edits.MOVES:
        found = edits.edit(MODEL_SCRIPT, "model", move)
        if found is None:
            continue
        revised = blocks.replace_block(MODEL_SCRIPT, "model", found.body)
        assert script_findings(revised) == [] and blocks.block_names(revised) == blocks.block_names(
            MODEL_SCRIPT
        )
        assert blocks.get_block(revised, "train") == blocks.get_block(MODEL_SCRIPT, "train")
        seen[move.name] = found.body
    assert 'PARAMS = {"learning_rate": 0.05' in seen["more-rounds-lower-rate"]  # no rounds beside it
    assert "n_estimators=600" in seen["more-rounds-lower-rate"]
    assert "learning_rate=0.05" in seen["more-rounds-lower-rate"]  # LightGBM's default, halved
    assert "RIDGE_ALPHA = 3.0" in seen["stronger-regularisation"]
    assert "reg_lambda=1.0" in seen["stronger-regularisation"]  # an absent penalty starts at 1.0
    assert "subsample_freq=1" in seen["row-and-column-sampling"]  # LightGBM samples rows only with it
    assert "more-neighbours" not in seen and "more-trees" not in seen  # no kNN; boosting has a rate


def test_a_plan_carries_its_move_and_is_carried_out_again_the_same_way(tmp_path: Path) -> None:
    fb = _fallback()
    ctx = _ctx(tmp_path)
    choice = fb.pick_block(ctx, MODEL_SCRIPT, "summary", [])
    assert choice.block == "model" and choice.plan.startswith(
        "Generic edit (more-rounds-lower-rate) of block model"
    )
    body = fb.implement(ctx, MODEL_SCRIPT, "model", choice.plan)
    assert body == fb.implement(ctx, MODEL_SCRIPT, "model", choice.plan)
    history = [PlanOutcome(choice.plan, 0.5, 0.6)]
    second = fb.plan_next(ctx, MODEL_SCRIPT, "model", history)
    assert second.startswith("Generic edit (stronger-regularisation)")
    tried = [PlanOutcome(p, 0.5, 0.6) for p in (choice.plan, second)]
    assert fb.plan_next(ctx, MODEL_SCRIPT, "model", tried).startswith("Generic edit (weaker-regularisation)")
    with pytest.raises(EngineerFailure, match="for block model, not train"):
        fb.implement(ctx, MODEL_SCRIPT, "train", choice.plan)


def test_plans_run_out_when_every_move_was_tried(tmp_path: Path) -> None:
    fb, ctx = _fallback(), _ctx(tmp_path)
    history: list[PlanOutcome] = []
    while True:
        try:
            plan = fb.plan_next(ctx, MODEL_SCRIPT, "model", history)
        except EngineerFailure as e:
            assert "no generic edit of block model is left" in str(e)
            break
        history.append(PlanOutcome(plan, None, 0.6))
    assert 4 <= len(history) <= len(edits.MOVES)


def test_generic_ablation_takes_out_rounds_or_penalty(tmp_path: Path) -> None:
    variants = _fallback().ablate(_ctx(tmp_path), MODEL_SCRIPT, [])
    assert [v.name for v in variants] == ["model-fewer-rounds", "train-weak-penalty"]
    assert "n_estimators=75" in variants[0].code and "Ridge(alpha=0.1)" in variants[1].code
    assert all(blocks.block_names(v.code) == blocks.block_names(MODEL_SCRIPT) for v in variants)


def test_a_timed_out_model_script_is_debugged_with_fewer_rounds(tmp_path: Path) -> None:
    fb, ctx = _fallback(), _ctx(tmp_path)
    faster = fb.debug(ctx, MODEL_SCRIPT, "timed out after 60 s")
    assert "n_estimators=150" in faster and "n_estimators=300" not in faster
    with pytest.raises(EngineerFailure):
        fb.debug(ctx, MODEL_SCRIPT, "KeyError: 'd'")


def test_a_script_without_settings_cannot_be_refined_generically(tmp_path: Path) -> None:
    fb, ctx = _fallback(), _ctx(tmp_path)
    plain = SCRIPT.replace("Ridge(alpha=1.0)", "Ridge(alpha=ALPHA)").replace(
        "SEED = ", "ALPHA = 1.0\nSEED = "
    )
    with pytest.raises(EngineerFailure, match="no block holds a setting"):
        fb.pick_block(ctx, plain, "summary", [])


def _profiled(tmp: Path) -> TaskContext:
    """A context with a real task profile, as the built-in engineer needs."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(160, 3)), columns=["x1", "x2", "x3"]).assign(id=range(160))
    frame["y"] = frame["x1"] - frame["x2"]
    train, test = frame.iloc[:120], frame.iloc[120:].drop(columns=["y"])
    task = spec(tmp)
    return TaskContext(task, profile_task(task, train, test, tmp), 7, 1, 60.0, tmp / "data")


def test_built_in_scripts_stay_with_the_built_in_engineer(tmp_path: Path) -> None:
    fb, ctx = _fallback(), _profiled(tmp_path)
    card = fb.retrieve(ctx, 1)[0]
    script = fb.draft(ctx, card)
    choice = fb.pick_block(ctx, script, "summary", [])
    assert not choice.plan.startswith("Generic edit")
    body = fb.implement(ctx, script, choice.block, choice.plan)
    assert body == BuiltinEngineer().implement(ctx, script, choice.block, choice.plan)
