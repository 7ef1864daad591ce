"""Every role of the built-in engineer on tiny tasks (no script runs here: see test_builtin_tasks)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mlestar.blocks import block_names, get_block, replace_block, validate
from mlestar.engineers.base import (
    AblationResult,
    Candidate,
    EngineerFailure,
    EnsembleMember,
    PlanOutcome,
    TaskContext,
)
from mlestar.engineers.builtin import BuiltinEngineer
from mlestar.engineers.builtin.recipe import read_recipe
from mlestar.engineers.builtin.refinements import parse_plan

sys.path.insert(0, str(Path(__file__).parent))  # the shared tiny tasks live beside this file
from test_builtin_tasks import KINDS, Task, make_task  # noqa: E402

ORDER = ["load", "features", "preprocess", "model", "train", "predict", "main"]


@pytest.fixture(scope="module")
def engineer() -> BuiltinEngineer:
    return BuiltinEngineer()


@pytest.fixture(scope="module")
def tasks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Task]:
    return {kind: make_task(tmp_path_factory.mktemp(kind), kind) for kind in KINDS}


def members(engineer: BuiltinEngineer, script: str) -> list[str]:
    """The member names a built-in script trains, read back the way every role reads a script."""
    return [m.name for m in read_recipe(script, engineer.cards).model.members]


def _differing_blocks(a: str, b: str) -> list[str]:
    return [name for name in block_names(a) if get_block(a, name) != get_block(b, name)]


def test_retrieve_ranks_cards_for_the_task(engineer: BuiltinEngineer, tasks: dict[str, Task]) -> None:
    binary = [c.name for c in engineer.retrieve(tasks["binary"].ctx, 4)]
    assert binary[0] == "lightgbm" and len(binary) == 4 and len(set(binary)) == 4
    text = [c.name for c in engineer.retrieve(tasks["multiclass"].ctx, 3)]
    assert text[0] == "nb_words" and all(n not in ("lightgbm", "catboost") for n in text)
    regression = [c.name for c in engineer.retrieve(tasks["regression"].ctx, 20)]
    assert "nb_words" not in regression and "lightgbm" in regression
    first = engineer.retrieve(tasks["binary"].ctx, 2)[0]
    assert "def make_models" in first.example and first.summary


@pytest.mark.parametrize("kind", KINDS)
def test_draft_is_valid_ordered_and_deterministic(
    engineer: BuiltinEngineer, tasks: dict[str, Task], kind: str
) -> None:
    ctx = tasks[kind].ctx
    candidates = engineer.retrieve(ctx, 2)
    script = engineer.draft(ctx, candidates[0])
    validate(script, expected=ORDER)
    assert script == engineer.draft(ctx, candidates[0])
    assert 'os.environ.get("MLESTAR_SEED", "7")' in script and "MLESTAR_THREADS" in script
    assert engineer.draft(ctx, candidates[1]) != script


def test_draft_accepts_candidates_named_elsewhere(engineer: BuiltinEngineer, tasks: dict[str, Task]) -> None:
    script = engineer.draft(
        tasks["binary"].ctx, Candidate("XGBoost classifier", "found on the web", source="web")
    )
    assert members(engineer, script) == ["xgboost"]


def test_merge_adds_the_other_members(engineer: BuiltinEngineer, tasks: dict[str, Task]) -> None:
    ctx = tasks["binary"].ctx
    first, second = engineer.retrieve(ctx, 2)
    base, other = engineer.draft(ctx, first), engineer.draft(ctx, second)
    merged = engineer.merge(ctx, base, other, second)
    validate(merged, expected=ORDER)
    assert members(engineer, merged) == [first.name, second.name]
    with pytest.raises(EngineerFailure):
        engineer.merge(ctx, merged, other, second)
    with pytest.raises(EngineerFailure):
        engineer.merge(ctx, "# %% block: load\nx = 1\n", other, second)


def test_data_usage_adds_row_files_only_when_unused(
    engineer: BuiltinEngineer, tasks: dict[str, Task]
) -> None:
    ctx = tasks["multi_target"].ctx
    script = engineer.draft(ctx, engineer.retrieve(ctx, 1)[0])
    revised = engineer.check_data_usage(ctx, script)
    assert revised is not None and block_names(revised) == ["load", "files", *ORDER[1:]]
    assert "train/{id}/points.xyz" in revised and "file_features(frame, split)" in get_block(
        revised, "features"
    )
    assert engineer.check_data_usage(ctx, revised) is None
    binary = tasks["binary"].ctx
    assert engineer.check_data_usage(binary, engineer.draft(binary, engineer.retrieve(binary, 1)[0])) is None


def test_data_usage_adds_text_statistics_for_tree_models(
    engineer: BuiltinEngineer, tasks: dict[str, Task]
) -> None:
    task = tasks["multiclass"]
    profile = {**task.ctx.profile, "features": ["text", "score"]}
    profile["columns"] = {**profile["columns"], "score": {"kind": "numeric", "n_unique": 50, "min": 0.0}}
    ctx = TaskContext(task.spec, profile, 7, 1, 60.0, task.ctx.data_dir)
    script = engineer.draft(ctx, Candidate("lightgbm", ""))
    assert "add_text_stats" in get_block(script, "features")  # a table model drafts with the text's numbers
    recipe = engineer._recipe(script)
    without = engineer._render(
        ctx, recipe.with_(families=tuple(f for f in recipe.families if "text" not in f))
    )
    assert "add_text_stats" not in get_block(without, "features")
    revised = engineer.check_data_usage(ctx, without)
    assert revised is not None and "add_text_stats" in get_block(revised, "features")


@pytest.mark.parametrize("kind", KINDS)
def test_ablation_variants_differ_in_exactly_one_block(
    engineer: BuiltinEngineer, tasks: dict[str, Task], kind: str
) -> None:
    ctx = tasks[kind].ctx
    candidates = engineer.retrieve(ctx, 2)
    script = engineer.merge(
        ctx, engineer.draft(ctx, candidates[0]), engineer.draft(ctx, candidates[1]), candidates[1]
    )
    script = engineer.check_data_usage(ctx, script) or script
    variants = engineer.ablate(ctx, script, [])
    assert variants, kind
    for variant in variants:
        validate(variant.code, expected=block_names(script))
        assert _differing_blocks(script, variant.code) == [variant.block]


def test_ablation_skips_blocks_measured_on_the_same_script(
    engineer: BuiltinEngineer, tasks: dict[str, Task]
) -> None:
    ctx = tasks["binary"].ctx
    candidates = engineer.retrieve(ctx, 2)
    script = engineer.merge(
        ctx, engineer.draft(ctx, candidates[0]), engineer.draft(ctx, candidates[1]), candidates[1]
    )
    variants = engineer.ablate(ctx, script, [])
    results = [
        AblationResult(v, 0.80 - 0.01 * i, 0.82, lower_is_better=False) for i, v in enumerate(variants)
    ]
    summary = engineer.summarize_ablation(ctx, results)
    assert summary.count("- block ") == len(variants) and "impact +0.02000" in summary
    assert engineer.ablate(ctx, script, [summary]) == []


def test_pick_block_follows_impact_then_refined(engineer: BuiltinEngineer, tasks: dict[str, Task]) -> None:
    ctx = tasks["binary"].ctx
    script = engineer.draft(ctx, engineer.retrieve(ctx, 1)[0])
    summary = (
        "Ablation of the current solution (score 0.80000, higher is better), most impactful first:\n"
        "- block features: with raw columns only, the score is 0.70000: impact +0.10000 (the part helps)\n"
    )
    choice = engineer.pick_block(ctx, script, summary, [])
    assert choice.block == "features" and parse_plan(choice.plan) is not None
    second = engineer.pick_block(ctx, script, summary, ["features"]).block
    assert second != "features"
    # Round after round, blocks take turns: none is picked again while another has had fewer turns,
    # and the most impactful one starts each new turn.
    refined: list[str] = []
    for _ in range(8):
        refined.append(engineer.pick_block(ctx, script, summary, refined).block)
    turns = {b: refined.count(b) for b in set(refined)}
    assert len(turns) > 1 and max(turns.values()) - min(turns.values()) <= 1
    assert refined[len(turns)] == "features"


@pytest.mark.parametrize("kind", KINDS)
def test_every_plan_implements_into_a_valid_script(
    engineer: BuiltinEngineer, tasks: dict[str, Task], kind: str
) -> None:
    ctx = tasks[kind].ctx
    script = engineer.check_data_usage(
        ctx, engineer.draft(ctx, engineer.retrieve(ctx, 1)[0])
    ) or engineer.draft(ctx, engineer.retrieve(ctx, 1)[0])
    tried = 0
    for block in engineer.refinable_blocks(ctx, script):
        history: list[PlanOutcome] = []
        for _ in range(8):
            try:
                plan = engineer.plan_next(ctx, script, block, history)
            except EngineerFailure:
                break
            body = engineer.implement(ctx, script, block, plan)
            refined = replace_block(script, block, body)
            validate(refined, expected=block_names(script))
            assert _differing_blocks(script, refined) == [block]
            history.append(PlanOutcome(plan, None, 0.5))
            tried += 1
    assert tried >= 3


def test_plans_build_on_the_best_previous_plan(engineer: BuiltinEngineer, tasks: dict[str, Task]) -> None:
    ctx = tasks["binary"].ctx
    script = engineer.draft(ctx, engineer.retrieve(ctx, 1)[0])
    first = engineer.plan_next(ctx, script, "features", [])
    second = engineer.plan_next(ctx, script, "features", [PlanOutcome(first, 0.5, 0.6)])  # worse
    assert parse_plan(second)[1] != parse_plan(first)[1] and len(parse_plan(second)[1]) == 1  # type: ignore[index]
    third = engineer.plan_next(
        ctx, script, "features", [PlanOutcome(first, 0.5, 0.6), PlanOutcome(second, 0.7, 0.6)]
    )
    assert parse_plan(third)[1][0] == parse_plan(second)[1][0] and len(parse_plan(third)[1]) == 2  # type: ignore[index]
    tuned = "[plan: model +tuned]"
    assert "+tune_longer" in engineer.plan_next(ctx, script, "model", [PlanOutcome(tuned, 0.7, 0.6)])


def test_longer_tuning_is_proposed_only_for_a_space_of_several_settings(
    engineer: BuiltinEngineer, tasks: dict[str, Task]
) -> None:
    # Naive Bayes on words tunes one setting: the first study covers it, twice the trials add nothing.
    ctx = tasks["multiclass"].ctx
    nb = next(c for c in engineer.retrieve(ctx, 20) if c.name == "nb_words")
    script = engineer.draft(ctx, nb)
    tuned = [PlanOutcome("[plan: model +tuned]", 0.5, 0.6)]  # it helped (log loss)
    assert "tune_longer" not in engineer.plan_next(ctx, script, "model", tuned)
    body = engineer.implement(ctx, script, "model", "[plan: model +tuned]")
    refined = engineer.settle(ctx, replace_block(script, "model", body))
    assert "tune_longer" not in engineer.plan_next(ctx, refined, "model", tuned)


def test_implement_refuses_plans_for_another_block_or_unknown(
    engineer: BuiltinEngineer, tasks: dict[str, Task]
) -> None:
    ctx = tasks["binary"].ctx
    script = engineer.draft(ctx, engineer.retrieve(ctx, 1)[0])
    with pytest.raises(EngineerFailure):
        engineer.implement(ctx, script, "model", "[plan: features +group_sizes]")
    with pytest.raises(EngineerFailure):
        engineer.implement(ctx, script, "model", "rewrite everything as a neural network")
    body = engineer.implement(ctx, script, "model", "Tune the hyperparameters with Optuna.")
    assert "def tune(" in body


def test_ensemble_plans_go_from_cheap_to_dear(engineer: BuiltinEngineer, tasks: dict[str, Task]) -> None:
    ctx = tasks["binary"].ctx
    members = [EnsembleMember(f"n{i}", "plan", 0.80 + i / 100) for i in range(5)]
    history: list[PlanOutcome] = []
    kinds = []
    while True:
        try:
            plan = engineer.plan_ensemble(ctx, members, history)
        except EngineerFailure:
            break
        kinds.append(plan.kind)
        history.append(PlanOutcome(plan.plan, 0.8, 0.8))
    assert kinds == ["average", "greedy", "stacking"] * 2
    assert engineer.plan_ensemble(ctx, members, []).members[0] == "n4"


def test_debug_resets_the_failing_block(engineer: BuiltinEngineer, tasks: dict[str, Task]) -> None:
    ctx = tasks["binary"].ctx
    script = engineer.draft(ctx, engineer.retrieve(ctx, 1)[0])
    tuned = replace_block(script, "model", engineer.implement(ctx, script, "model", "[plan: model +tuned]"))
    line = tuned[: tuned.index("def tune(")].count("\n") + 3
    error = f'Traceback (most recent call last):\n  File "/run/attempts/x/solution.py", line {line}, in tune\nValueError: boom'
    fixed = engineer.debug(ctx, tuned, error)
    assert "def tune(" not in fixed and _differing_blocks(tuned, fixed) == ["model"]


def test_debug_drops_a_member_whose_package_is_missing(
    engineer: BuiltinEngineer, tasks: dict[str, Task]
) -> None:
    ctx = tasks["binary"].ctx
    first, second = engineer.retrieve(ctx, 2)
    merged = engineer.merge(ctx, engineer.draft(ctx, first), engineer.draft(ctx, second), second)
    fixed = engineer.debug(ctx, merged, "ModuleNotFoundError: No module named 'catboost'")
    assert "catboost" in members(engineer, merged) and members(engineer, fixed) == ["lightgbm"]
    lighter = engineer.debug(ctx, merged, "MemoryError: Unable to allocate 3.2 GiB")
    assert len(members(engineer, lighter)) < len(members(engineer, merged))
    with pytest.raises(EngineerFailure):
        engineer.debug(ctx, "print('not ours')\n", "KeyError: 'x'")


def test_user_cards_are_honoured(tmp_path: Path, tasks: dict[str, Task]) -> None:
    card = (Path(__file__).parents[1] / "mlestar/engineers/builtin/cards/extra_trees.yaml").read_text()
    (tmp_path / "mine.yaml").write_text(
        card.replace("name: extra_trees", "name: my_trees").replace("strength: 0.8", "strength: 2.0")
    )
    engineer = BuiltinEngineer(card_dirs=(tmp_path,))
    [first] = engineer.retrieve(tasks["binary"].ctx, 1)
    assert first.name == "my_trees" and first.source == "user"
    assert members(engineer, engineer.draft(tasks["binary"].ctx, first)) == ["my_trees"]


def test_bad_user_card_is_a_clear_error(tmp_path: Path) -> None:
    from mlestar.errors import ConfigError

    (tmp_path / "bad.yaml").write_text("name: broken\n")
    with pytest.raises(ConfigError, match="expected fields"):
        BuiltinEngineer(card_dirs=(tmp_path,))
    with pytest.raises(ConfigError, match="expected a folder"):
        BuiltinEngineer(card_dirs=(tmp_path / "missing",))


def test_usage_is_always_zero(engineer: BuiltinEngineer) -> None:
    usage = engineer.take_usage()
    assert (usage.input_tokens, usage.output_tokens, usage.cost_usd, usage.calls) == (0, 0, 0.0, 0)


def test_a_harmful_part_is_undone_first(engineer: BuiltinEngineer, tasks: dict[str, Task]) -> None:
    ctx = tasks["binary"].ctx
    first, second = engineer.retrieve(ctx, 2)
    merged = engineer.merge(ctx, engineer.draft(ctx, first), engineer.draft(ctx, second), second)
    summary = (
        "Ablation of the current solution (score 0.80000, higher is better), most impactful first:\n"
        "- block features: with raw columns only, the score is 0.75000: impact +0.05000 (the part helps)\n"
        f"- block model: with without the {second.name} member, the score is 0.81000: impact -0.01000 (the part hurts)\n"
    )
    choice = engineer.pick_block(ctx, merged, summary, [])
    assert choice.block == "model" and parse_plan(choice.plan) == ("model", ("undo",))
    undone = replace_block(merged, "model", engineer.implement(ctx, merged, "model", choice.plan))
    assert members(engineer, undone) == [first.name]
    follow_up = engineer.plan_next(ctx, merged, "model", [PlanOutcome(choice.plan, 0.81, 0.80)])
    assert parse_plan(follow_up)[1][0] == "undo" and len(parse_plan(follow_up)[1]) == 2  # type: ignore[index]
    assert engineer.pick_block(ctx, merged, summary, ["model"]).block != "files"


@pytest.mark.parametrize("kind", KINDS)
def test_every_card_drafts_a_script_that_compiles_cleanly(
    engineer: BuiltinEngineer, tasks: dict[str, Task], kind: str
) -> None:
    import warnings

    ctx = tasks[kind].ctx
    candidates = engineer.retrieve(ctx, 50)
    assert len(candidates) >= 3
    for candidate in candidates:
        script = engineer.draft(ctx, candidate)
        script = engineer.check_data_usage(ctx, script) or script
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            compile(script, candidate.name, "exec")
        validate(script)


def test_a_plan_is_never_proposed_twice(engineer: BuiltinEngineer, tasks: dict[str, Task]) -> None:
    ctx = tasks["binary"].ctx
    script = engineer.draft(ctx, engineer.retrieve(ctx, 1)[0])
    history = [
        PlanOutcome("[plan: model +tuned]", 0.7, 0.6),
        PlanOutcome("[plan: model +tuned +tune_longer]", 0.7, 0.6),
    ]
    proposed = parse_plan(engineer.plan_next(ctx, script, "model", history))
    assert proposed is not None and set(proposed[1]) not in ({"tuned"}, {"tuned", "tune_longer"})
    assert proposed[1][0] == "tuned"
