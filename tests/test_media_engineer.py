"""How the built-in engineer handles media tasks: intake's row files reach the profile, drafts read
the files, fast models lead on wide picture tables under short budgets, the files block has plans
of its own, and per-pixel tasks get their own script."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from skimage.color import rgb2hsv
from sklearn.metrics import roc_auc_score

from mlestar.blocks import block_names, get_block
from mlestar.engineers.base import TaskContext
from mlestar.engineers.builtin import BuiltinEngineer
from mlestar.engineers.builtin.ablation import ablated
from mlestar.engineers.builtin.cards import estimated_seconds, load_cards, media_width_factor, rank_cards
from mlestar.engineers.builtin.catalogue import Context, entries_for
from mlestar.engineers.builtin.media import pixel_script, render
from mlestar.engineers.builtin.media.kit.images import hue_saturation_value
from mlestar.engineers.builtin.media.options import read_options
from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.engineers.builtin.recipe import read_recipe
from mlestar.engineers.builtin.refinements import apply_plan
from mlestar.execution.base import Executor
from mlestar.metrics import get_metric
from mlestar.task import load_task_tables
from tests.media_attempts import run_draft
from tests.media_tasks import (
    jpg_bytes,
    pages_task,
    scans_task,
    sounds_task,
    stripes_task,
    tagged_pictures_task,
    task_context,
)


@pytest.fixture(scope="module")
def stripes(tmp_path_factory: pytest.TempPathFactory) -> TaskContext:
    return task_context(stripes_task(tmp_path_factory.mktemp("stripes") / "task", n_train=40, n_test=10))


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> TaskContext:
    return task_context(pages_task(tmp_path_factory.mktemp("pages") / "task"))


def test_hue_saturation_value_matches_scikit_image() -> None:
    rgb = np.random.default_rng(0).random((20, 20, 3)).astype(np.float32)
    rgb[0, 0] = 0.5  # grey: no hue
    assert np.allclose(hue_saturation_value(rgb.reshape(-1, 3)), rgb2hsv(rgb).reshape(-1, 3), atol=1e-5)


def test_the_profile_carries_intakes_row_files_and_a_look_at_them(stripes: TaskContext) -> None:
    files = stripes.profile["files"]
    assert files == [{"train": "train.zip/train/{id}", "test": "test.zip/test/{id}", "kind": "image"}]
    assert stripes.profile["media"]["image"] == {"width": 16.0, "height": 16.0, "channels": 3.0}


def test_sound_files_are_listed_once(tmp_path: Path) -> None:
    ctx = task_context(sounds_task(tmp_path / "task", n_train=12, n_test=4))
    assert [f["kind"] for f in ctx.profile["files"]] == ["audio"]
    assert ctx.profile["media"]["audio"]["rate"] == 8000.0


def test_per_pixel_tables_name_their_pictures(pages: TaskContext) -> None:
    spec = pages.spec
    entry = spec.row_files[0]
    assert entry == {"train": "train/{id}.png", "test": "test/{id}.png", "kind": "image", "per": "pixel",
                     "key": "image", "row": "row", "col": "col"}  # fmt: skip
    assert "image" not in pages.profile["features"]  # a key, not an input
    assert "the built-in engineer reads only the table columns" not in " ".join(spec.notes)


def test_drafts_read_the_pictures(stripes: TaskContext) -> None:
    engineer = BuiltinEngineer()
    candidates = engineer.retrieve(stripes, 2)
    script = engineer.draft(stripes, candidates[0])
    assert "files" in block_names(script) and render.is_media_block(get_block(script, "files"))
    assert "import mlestar" not in script and "from mlestar" not in script
    recipe = read_recipe(script, engineer.cards)
    assert recipe.media is not None and recipe.media.image_size == 32


def test_short_budgets_rank_the_fast_model_first_on_wide_picture_tables(stripes: TaskContext) -> None:
    profile = {**stripes.profile, "n_train": 15_000}
    short = [r.card.name for r in rank_cards(load_cards(), profile, 75.0)]
    long = [r.card.name for r in rank_cards(load_cards(), profile, 450.0)]
    assert short[0] == "linear" and long[0] == "lightgbm"
    assert media_width_factor(profile) == pytest.approx(456 / 60)  # the picture features' columns
    assert media_width_factor({**profile, "files": []}) == 1.0  # tables without files: costs as before


def test_the_files_block_has_plans_and_an_undo(stripes: TaskContext) -> None:
    engineer = BuiltinEngineer()
    script = engineer.draft(stripes, engineer.retrieve(stripes, 1)[0])
    recipe = read_recipe(script, engineer.cards)
    c = Context(ProfileView(stripes.profile), engineer.cards, 60.0, False)
    keys = [e.key for e in entries_for("files", recipe, c)]
    assert "image_64" in keys and "pca_64" in keys and "files_off" not in keys and "mels_64" not in keys
    assert ablated("files", recipe, c) is None  # defaults: nothing to undo, and never off
    block, bigger = apply_plan("On the files block: bigger. [plan: files +image_64 +pca_64]", recipe, c)
    assert block == "files" and bigger.media is not None and bigger.media.image_size == 64
    refined = engineer.implement(stripes, script, "files", "[plan: files +image_64]")
    assert read_options(refined).image_size == 64
    undone = ablated("files", bigger, c)
    assert undone is not None and render.is_default(c.profile, undone[0].media)


def test_per_pixel_tasks_get_their_own_script(pages: TaskContext) -> None:
    engineer = BuiltinEngineer()
    candidates = engineer.retrieve(pages, 4)
    assert [c.name for c in candidates] == list(pixel_script.MODELS)
    script = engineer.draft(pages, candidates[0])
    assert block_names(script) == ["load", "files", "model", "train", "predict", "main"]
    assert "def pixel_table(" in script and "LGBMRegressor(" in script and "from mlestar" not in script
    compile(script, "solution.py", "exec")


def run_first_draft(
    folder: Path, tmp_path: Path, executor: Executor, edit: Callable[[str], str] = lambda text: text
) -> tuple[Path, Path, Any]:
    """The engineer's first draft for the task, changed by `edit`, run as the harness runs it; (its
    folder, the run's data folder, the task's tables)."""
    work, data = run_draft(task_context(folder), tmp_path, executor, edit=edit)
    return work, data, load_task_tables(folder)[1]


def test_scans_the_kit_cannot_decode_are_learned_from_their_bytes(
    tmp_path: Path, script_executor: Executor
) -> None:
    # Before, such files gave no columns at all and every draft failed on an empty table.
    work, data, _ = run_first_draft(scans_task(tmp_path / "task"), tmp_path, script_executor)
    script = (work / "solution.py").read_text()
    assert "def volume_table(" in script and "def image_table(" not in script
    oof, answers = np.load(work / "output" / "oof.npy")[:, 0], np.load(data / "target.npy")
    assert roc_auc_score(answers, oof) > 0.8  # brightness is in the 16-bit words: the prior is 0.5
    assert np.isfinite(np.load(work / "output" / "test.npy")).all()


def test_the_pixel_script_cleans_pages_better_than_copying_them(
    tmp_path: Path, script_executor: Executor
) -> None:
    work, data, tables = run_first_draft(pages_task(tmp_path / "task"), tmp_path, script_executor)
    oof, answers = np.load(work / "output" / "oof.npy")[:, 0], np.load(data / "target.npy")
    pixels = tables.train["pixel"].to_numpy()
    copy_rmse = float(np.sqrt(np.mean((pixels - answers) ** 2)))
    assert float(np.sqrt(np.mean((oof - answers) ** 2))) < 0.5 * copy_rmse
    test_pred = np.load(work / "output" / "test.npy")
    assert test_pred.shape == (len(tables.test), 1) and np.isfinite(test_pred).all()
    assert (work / "output" / "model.pkl").is_file()


def test_label_lists_per_picture_have_one_output_per_label(tmp_path: Path) -> None:
    ctx = task_context(tagged_pictures_task(tmp_path / "task", n_train=24, n_test=6))
    assert ctx.spec.problem_type == "multilabel" and ctx.spec.label_separator == " "
    assert ctx.spec.n_outputs == len(ctx.spec.classes or ()) == 4 == ctx.profile["n_outputs"]


def test_pixels_are_split_into_folds_by_picture(tmp_path: Path) -> None:
    many = load_task_tables(pages_task(tmp_path / "many", n_train=10, n_test=1, shape=(12, 16)))[0]
    few = load_task_tables(pages_task(tmp_path / "few", n_train=4, n_test=1, shape=(12, 16)))[0]
    assert many.group_column == "image" and many.sources["group_column"] == "inferred"
    assert few.group_column is None  # too few pictures for five folds of their own


def test_large_pixel_tables_keep_a_sample_of_every_picture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    from mlestar.task import rows

    folder = pages_task(tmp_path / "task", n_train=5, n_test=1, shape=(12, 16))
    monkeypatch.setattr(rows, "MAX_TRAIN_PIXELS", 5 * 40)
    _, tables = load_task_tables(folder)
    train = tables.train
    assert train.groupby("image").size().to_dict() == {str(i): 40 for i in range(1, 6)}
    clean = np.asarray(Image.open(folder / "train_cleaned" / "3.png"), dtype=np.float32) / 255
    page = train[train["image"] == "3"]
    assert np.allclose(
        page["value"], clean[page["row"] - 1, page["col"] - 1], atol=1e-6
    )  # answers at the same pixels
    assert len(tables.test) == 12 * 16  # test pictures stay whole


def _picture_folder(folder: Path, train_path: str, with_path_column: bool) -> Path:
    """Six labelled training pictures at train_path.format(...) and three test pictures in test/."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    (folder / "description.md").write_text("Name the kind of picture. Scored on accuracy.")
    labels = ["cat", "dog", "cat", "owl", "dog", "owl"]
    rows = []
    for i, label in enumerate(labels):
        key = f"{'abc'[i % 3]}{i}"
        relative = train_path.format(label=label, id=key, first=key[0], shard=f"{i % 3:03d}")
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_bytes(jpg_bytes(rng.integers(0, 255, (8, 8), dtype=np.uint8)))
        rows.append(
            {
                "id": key,
                "label": label,
                **({"file_name": relative.split("/", 1)[1]} if with_path_column else {}),
            }
        )
    (folder / "test").mkdir()
    for key in ("t1", "t2", "t3"):
        (folder / "test" / f"{key}.jpg").write_bytes(jpg_bytes(rng.integers(0, 255, (8, 8), dtype=np.uint8)))
    pd.DataFrame(rows).to_csv(folder / "train.csv", index=False)
    pd.DataFrame({"id": ["t1", "t2", "t3"], "label": "cat"}).to_csv(
        folder / "sample_submission.csv", index=False
    )
    return folder


@pytest.mark.parametrize(
    ("train_path", "with_path_column", "template"),
    [
        ("train/{label}/{id}.jpg", False, "train/{label}/{id}.jpg"),  # one folder per class
        ("train/{shard}/{id}.jpg", True, "train/{file_name}"),  # a column holds the path
        ("train/{first}/{id}.jpg", False, "train/{id[0]}/{id}.jpg"),  # folders by the key's first letter
    ],
)
def test_training_pictures_found_through_another_column_of_their_row(
    tmp_path: Path, train_path: str, with_path_column: bool, template: str
) -> None:
    ctx = task_context(_picture_folder(tmp_path / "task", train_path, with_path_column))
    assert ctx.spec.row_files == ({"train": template, "test": "test/{id}.jpg", "kind": "image"},)
    assert ctx.profile["media"]["image"]["width"] == 8.0  # the pictures were read through the template


def test_label_lists_scored_by_micro_f1_are_scored_on_the_label_columns(tmp_path: Path) -> None:
    # The harness holds one 0/1 column per label and a probability per label; the grader reads the
    # lists the submission writes from them (labels at 0.5 or more). Both must score alike.
    ctx = task_context(tagged_pictures_task(tmp_path / "task", n_train=24, n_test=6, lists_f1=True))
    assert ctx.spec.metric == "f1_micro_sets" and ctx.spec.problem_type == "multilabel"
    classes = list(ctx.spec.classes or ())
    _, tables = load_task_tables(tmp_path / "task")
    lists = tables.train["labels"].astype(str).tolist()
    truth = np.array([[c in cell.split() for c in classes] for cell in lists], dtype=float)
    proba = np.clip(truth * 0.4 + np.random.default_rng(0).uniform(0, 0.7, truth.shape), 0, 1)
    written = [" ".join(c for c, p in zip(classes, row, strict=True) if p >= 0.5) for row in proba]
    metric = get_metric("f1_micro_sets")
    on_columns = metric.score(truth, proba)
    on_lists = metric.score(np.array(lists)[:, None], np.array(written)[:, None])
    assert on_columns == pytest.approx(on_lists) and 0 < on_columns < 1
    assert metric.score(truth, truth) == 1.0


def test_many_labels_of_picture_files_put_a_model_that_fits_first(tmp_path: Path) -> None:
    # The first script on per-row files runs alone and without a time box: with a label each and a
    # short budget the boosted trees (a model per label) would take it all.
    ctx = task_context(tagged_pictures_task(tmp_path / "task", n_train=24, n_test=6))
    cards, profile = load_cards(), {**ctx.profile, "n_train": 200}  # rows enough for every card
    one = {**profile, "n_outputs": 1}
    assert estimated_seconds(cards["lightgbm"], profile) == pytest.approx(
        4 * estimated_seconds(cards["lightgbm"], one)
    )
    short = [r.card for r in rank_cards(cards, profile, 30.0)]
    assert estimated_seconds(short[0], profile) <= 15.0 and short[0].name != "lightgbm"
    assert short.index(cards["linear"]) < short.index(cards["lightgbm"])
    fitting = [estimated_seconds(c, profile) <= 15.0 for c in short]
    assert fitting == sorted(fitting, reverse=True)  # every card that fits before any that does not
    assert [r.card.name for r in rank_cards(cards, profile, 900.0)][0] == "lightgbm"  # time enough
