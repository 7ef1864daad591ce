"""Per-pixel scripts are refined: their settings read back from the blocks, the roles plan on
them block by block, and a refined script runs and answers differently (tiny pages made here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cloudpickle
import numpy as np
import pandas as pd
import pytest

from mlestar.blocks import get_block, replace_block
from mlestar.engineers.base import EngineerFailure, PlanOutcome, TaskContext
from mlestar.engineers.builtin import BuiltinEngineer
from mlestar.engineers.builtin.media import pixel_plans, pixel_script, render
from mlestar.engineers.builtin.media.options import MediaOptions, same_for
from mlestar.engineers.builtin.media.pixel_recipe import LIGHTGBM, RIDGE, PixelRecipe, read_pixel_recipe
from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.execution.base import Executor, Limits
from mlestar.task import load_task_tables
from mlestar.task.profile import profile_task
from tests.media_tasks import pages_task


@dataclass(frozen=True)
class Run:
    ctx: TaskContext
    task: Path
    train: pd.DataFrame


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A prepared run of a task with six small pages to clean (four to train on, in two folds: each
    script fits twice, not four times)."""
    from mlestar.prepare import prepare_run_data
    from mlestar.run_layout import RunLayout

    root = tmp_path_factory.mktemp("pixels")
    task = pages_task(root / "task", n_train=4, n_test=2)
    spec, tables = load_task_tables(task)
    layout = RunLayout(root / "run")
    prepare_run_data(spec, tables, layout, n_folds=2, seed=0, subsample_rows=30_000)
    profile = profile_task(spec, tables.train, tables.test, task)
    return Run(TaskContext(spec, profile, 0, 1, 60.0, layout.data), task, tables.train)


def _draft(run: Run, name: str = LIGHTGBM) -> str:
    engineer = BuiltinEngineer()
    candidate = next(c for c in engineer.retrieve(run.ctx, 2) if c.name == name)
    return engineer.draft(run.ctx, candidate)


def test_pixel_scripts_read_back_the_settings_they_were_written_with(run: Run) -> None:
    profile = ProfileView(run.ctx.profile)
    for name in (LIGHTGBM, RIDGE):
        recipe = read_pixel_recipe(_draft(run, name))
        assert recipe.with_(media=None) == pixel_script.draft_recipe(name)
        assert recipe.media is not None and same_for(
            ("pixels",), recipe.media, render.default_options(profile)
        )
    changed = PixelRecipe(
        LIGHTGBM,
        trees=400,
        learning_rate=0.05,
        early_stopping=True,
        residual=True,
        train_pixels=400_000,
        media=MediaOptions(pixel_windows=(3, 7, 15, 31)),  # a per-pixel block holds its own options only
    )
    assert read_pixel_recipe(pixel_script.render_script(profile, changed, 0)) == changed
    with pytest.raises(EngineerFailure):
        read_pixel_recipe("# %% block: load\nx = 1\n")


def test_the_roles_refine_each_block_of_a_pixel_script_in_turn(run: Run) -> None:
    engineer, script = BuiltinEngineer(), _draft(run)
    assert read_pixel_recipe(script).residual  # the draft learns each pixel's change
    assert engineer.ablate(run.ctx, script, []) == []
    assert engineer.refinable_blocks(run.ctx, script) == ["model", "files"]  # few pixels: no more_pixels
    seen = []
    for refined in ([], ["model"]):
        choice = engineer.pick_block(run.ctx, script, "Ablation: nothing to ablate.", refined)
        body = engineer.implement(run.ctx, script, choice.block, choice.plan)
        seen.append((choice.block, read_pixel_recipe(replace_block(script, choice.block, body))))
    (model, longer), (files, wider) = seen
    assert (model, files) == ("model", "files")
    assert (longer.trees, longer.learning_rate, longer.early_stopping) == (400, 0.05, True)
    assert wider.media is not None and wider.media.pixel_windows == (3, 7, 15, 31)
    # The ridge regression has no boosting to refine, but may learn the change as well.
    ridge = _draft(run, RIDGE)
    choice = engineer.pick_block(run.ctx, ridge, "", [])
    assert choice.plan.endswith("[plan: model +residual]")
    body = engineer.implement(run.ctx, ridge, "model", choice.plan)
    assert read_pixel_recipe(replace_block(ridge, "model", body)).residual
    with pytest.raises(EngineerFailure, match="no refinement left"):
        engineer.plan_next(run.ctx, ridge, "model", [PlanOutcome(choice.plan, 0.2, 0.1)])


def test_a_plan_that_helped_is_kept_and_the_next_entry_added(run: Run) -> None:
    engineer, script = BuiltinEngineer(), _draft(run)
    first = engineer.pick_block(run.ctx, script, "", [])
    assert first.block == "model" and first.plan.endswith("[plan: model +longer]")
    pending = [PlanOutcome(first.plan, None, 0.06)]  # its batch runs together: no score yet
    assert engineer.plan_next(run.ctx, script, "model", pending).endswith("[plan: model +more_leaves]")
    helped = [PlanOutcome(first.plan, 0.05, 0.06)]  # an error: lower is better
    assert engineer.plan_next(run.ctx, script, "model", helped).endswith("[plan: model +longer +more_leaves]")
    hurt = [PlanOutcome(first.plan, 0.07, 0.06)]
    assert engineer.plan_next(run.ctx, script, "model", hurt).endswith("[plan: model +more_leaves]")
    direct = engineer.implement(run.ctx, script, "model", "[plan: model +direct]")
    assert not read_pixel_recipe(replace_block(script, "model", direct)).residual
    # Four pages of 720 pixels: the fits are not capped by the sample, so more pixels change nothing.
    with pytest.raises(EngineerFailure, match="no refinement left"):
        engineer.plan_next(run.ctx, script, "train", [])


def test_more_pixels_is_planned_only_where_the_sample_caps_a_fit(run: Run) -> None:
    recipe = PixelRecipe(LIGHTGBM, residual=True)
    defaults = render.default_options(ProfileView(run.ctx.profile))
    small, large = pixel_plans.Setting(defaults, 24_000), pixel_plans.Setting(defaults, 2_400_000)
    assert [e.key for e in pixel_plans.entries("train", recipe, small)] == []
    assert [e.key for e in pixel_plans.entries("train", recipe, large)] == ["more_pixels"]
    block, doubled = pixel_plans.apply_plan("[plan: train +more_pixels]", recipe, large)
    assert (block, doubled.train_pixels) == ("train", 400_000)


def test_pixel_scripts_are_not_merged_and_use_their_data_already(run: Run) -> None:
    engineer, script = BuiltinEngineer(), _draft(run)
    candidate = engineer.retrieve(run.ctx, 2)[1]
    with pytest.raises(EngineerFailure, match="ensemble"):
        engineer.merge(run.ctx, script, _draft(run, RIDGE), candidate)
    assert engineer.check_data_usage(run.ctx, script) is None


def _run_script(script: str, work: Path, run: Run, executor: Executor) -> tuple[np.ndarray, np.ndarray]:
    (work / "input").mkdir(parents=True)
    for name in ("train.parquet", "test.parquet", "target.npy", "folds.npy", "task.json"):
        (work / "input" / name).symlink_to(run.ctx.data_dir / name)
    (work / "input" / "files").symlink_to(run.task)
    (work / "solution.py").write_text(script)
    done = executor.run(work / "solution.py", work, Limits(timeout_s=300, env=(("MLESTAR_SAVE_MODEL", "1"),)))
    assert done.ok, done.stderr_tail[-2000:]
    return np.load(work / "output" / "oof.npy")[:, 0], np.load(work / "output" / "test.npy")


def test_a_refined_pixel_script_runs_and_answers_otherwise(
    run: Run, tmp_path: Path, script_executor: Executor, monkeypatch: pytest.MonkeyPatch
) -> None:
    engineer, draft = BuiltinEngineer(), _draft(run)
    refined = draft
    for plan in (
        "[plan: model +longer +more_leaves]",
        "[plan: files +wider_windows +more_scales]",
    ):
        block = plan.split()[1]
        refined = replace_block(refined, block, engineer.implement(run.ctx, refined, block, plan))
    assert "RESIDUAL = True" in get_block(refined, "model")
    assert "PIXEL_WINDOWS = (3, 5, 7, 11, 15, 23, 31)" in get_block(refined, "files")
    oof_draft, _ = _run_script(draft, tmp_path / "draft", run, script_executor)
    oof, test = _run_script(refined, tmp_path / "refined", run, script_executor)
    answers = np.load(run.ctx.data_dir / "target.npy").reshape(-1)
    copied = float(np.sqrt(np.mean((run.train["pixel"].to_numpy() - answers) ** 2)))
    assert float(np.sqrt(np.mean((oof - answers) ** 2))) < 0.5 * copied
    assert not np.allclose(oof, oof_draft)
    # The saved model answers as the script did: residual answers add the pixel back.
    monkeypatch.chdir(tmp_path / "refined")
    with open("output/model.pkl", "rb") as handle:
        predictor = cloudpickle.load(handle)
    frame = pd.read_parquet("input/test.parquet")
    assert np.allclose(predictor.predict(frame), test, atol=1e-6)
