"""The small CNN card for tiny pictures: offered only where torch imports, the pictures are small and
five fits fit the budget; its script is made of named blocks, and (marked cnn, with torch) it
learns a shape from the pictures through the harness's contract."""

from __future__ import annotations

import ast
import importlib.util
import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.metrics import accuracy_score, r2_score, roc_auc_score

from mlestar.blocks import block_names
from mlestar.engineers.base import EngineerFailure, TaskContext
from mlestar.engineers.builtin import BuiltinEngineer
from mlestar.engineers.builtin.media import cnn_script
from mlestar.engineers.builtin.media.pixel_recipe import is_pixel_script
from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.execution.base import Executor, Limits
from mlestar.task import load_task_tables
from tests.media_attempts import run_draft
from tests.media_tasks import stripes_task, task_context


@pytest.fixture(scope="module")
def stripes(tmp_path_factory: pytest.TempPathFactory) -> TaskContext:
    return task_context(stripes_task(tmp_path_factory.mktemp("stripes") / "task", n_train=40, n_test=10))


def with_torch(monkeypatch: pytest.MonkeyPatch, found: bool) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        if name == "torch":
            return object() if found else None
        return real(name, *args)

    monkeypatch.setattr(cnn_script.importlib.util, "find_spec", find_spec)


def test_without_torch_the_cnn_is_not_offered(stripes: TaskContext, monkeypatch: pytest.MonkeyPatch) -> None:
    with_torch(monkeypatch, found=False)
    names = [c.name for c in BuiltinEngineer().retrieve(stripes, 6)]
    assert names and cnn_script.NAME not in names


def test_with_torch_small_pictures_get_the_cnn_as_one_more_candidate(
    stripes: TaskContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_torch(monkeypatch, found=True)
    candidates = BuiltinEngineer().retrieve(stripes, 6)
    names = [c.name for c in candidates]
    assert names[1] == cnn_script.NAME and len(names) == 6  # the cards lead; screening decides
    assert candidates[1].family == "cnn"
    script = BuiltinEngineer().draft(stripes, candidates[1])
    assert block_names(script) == list(cnn_script.BLOCKS) and not is_pixel_script(script)
    tree = ast.parse(script)
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    assert {"make_network", "cross_fit", "pictures", "load_image", "FileReader", "Predictor"} <= defined
    assert "from mlestar" not in script and "torch.manual_seed(seed)" in script
    assert "torch.set_num_threads(THREADS)" in script and 'PROBLEM = "binary"' in script


def test_the_cnn_script_is_not_ablated_merged_or_refined(
    stripes: TaskContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_torch(monkeypatch, found=True)
    engineer = BuiltinEngineer()
    candidates = engineer.retrieve(stripes, 3)
    cnn, card = engineer.draft(stripes, candidates[1]), engineer.draft(stripes, candidates[0])
    assert engineer.ablate(stripes, cnn, []) == [] and engineer.check_data_usage(stripes, cnn) is None
    with pytest.raises(EngineerFailure, match="one network"):
        engineer.merge(stripes, card, cnn, candidates[1])
    with pytest.raises(EngineerFailure, match="no refinement plans"):
        engineer.pick_block(stripes, cnn, "", [])


def test_large_pictures_or_short_budgets_get_no_cnn(
    stripes: TaskContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_torch(monkeypatch, found=True)
    profile = dict(stripes.profile)
    assert cnn_script.offered(ProfileView(profile), 60.0)
    large = {**profile, "media": {"image": {"width": 256.0, "height": 256.0, "channels": 3.0}}}
    assert not cnn_script.offered(ProfileView(large), 60.0)
    many = {**profile, "n_train": 200_000}  # five fits of three epochs: about 20 CPU minutes
    assert not cnn_script.offered(ProfileView(many), 300.0)
    assert cnn_script.epochs_for(14_000, 300.0) >= cnn_script.MIN_EPOCHS  # the measured bench size fits


def test_label_lists_are_no_cnn_task(stripes: TaskContext) -> None:
    profile = {**stripes.profile, "problem_type": "multilabel", "n_outputs": 4}
    assert not cnn_script.is_cnn_task(ProfileView(profile))


def colours_task(folder: Path, n_train: int = 300, n_test: int = 60, seed: int = 0) -> Path:
    """Multi-class: which colour (red, green, blue) a noisy square on a grey picture has; the square
    sits anywhere, so a picture's mean colour tells little and the square's pixels tell all."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    (folder / "description.md").write_text("Name the colour of the square. Scored on accuracy.")
    names = ["red", "green", "blue"]
    labels = rng.integers(0, 3, n_train + n_test)
    for split, rows in (("train", range(n_train)), ("test", range(n_train, n_train + n_test))):
        with zipfile.ZipFile(folder / f"{split}.zip", "w") as zf:
            for i in rows:
                picture = rng.uniform(0.3, 0.7, (16, 16, 3))
                top, left = rng.integers(0, 11, 2)
                colour = np.full(3, 0.35)
                colour[labels[i]] = 0.65
                picture[top : top + 6, left : left + 6] = colour + rng.normal(0, 0.05, (6, 6, 3))
                buffer = io.BytesIO()
                Image.fromarray((np.clip(picture, 0, 1) * 255).astype(np.uint8)).save(buffer, format="PNG")
                zf.writestr(f"{split}/{i}.png", buffer.getvalue())
    pd.DataFrame(
        {"id": [f"{i}.png" for i in range(n_train)], "colour": [names[k] for k in labels[:n_train]]}
    ).to_csv(folder / "train.csv", index=False)
    pd.DataFrame({"id": [f"{i}.png" for i in range(n_train, n_train + n_test)], "colour": "red"}).to_csv(
        folder / "sample_submission.csv", index=False
    )
    return folder


def run_cnn(folder: Path, tmp_path: Path, executor: Executor) -> tuple[Path, Path, Any]:
    """The engineer's CNN script for the task, run as the harness runs it (torch is installed and
    the pictures are small: the CNN is offered)."""
    work, data = run_draft(task_context(folder), tmp_path, executor, candidate=cnn_script.NAME)
    return work, data, load_task_tables(folder)[1]


@pytest.mark.cnn
def test_the_cnn_tells_stripes_apart_out_of_fold(tmp_path: Path, script_executor: Executor) -> None:
    pytest.importorskip("torch")
    folder = stripes_task(tmp_path / "task", n_train=300, n_test=40)
    work, data, tables = run_cnn(folder, tmp_path, script_executor)
    oof, answers = np.load(work / "output" / "oof.npy"), np.load(data / "target.npy")
    assert oof.shape == (len(answers), 1)
    assert roc_auc_score(answers, oof[:, 0]) > 0.8  # the prior scores 0.5
    test_pred = np.load(work / "output" / "test.npy")
    assert test_pred.shape == (len(tables.test), 1) and ((test_pred >= 0) & (test_pred <= 1)).all()
    import cloudpickle

    with open(work / "output" / "model.pkl", "rb") as handle:
        predictor = cloudpickle.load(handle)
    import os

    here = os.getcwd()
    os.chdir(work)  # the predictor reads the pictures under ./input/files, as in the attempt
    try:
        again = predictor.predict(pd.read_parquet(work / "input" / "test.parquet"))
    finally:
        os.chdir(here)
    assert np.allclose(again, test_pred, atol=1e-6)
    (work / "output").rename(work / "first")
    done = script_executor.run(work / "solution.py", work, Limits(timeout_s=300))
    assert done.ok, done.stderr_tail[-2000:]
    assert np.array_equal(np.load(work / "output" / "oof.npy"), oof)  # seeded: a run repeats


@pytest.mark.cnn
def test_the_cnn_names_colours_better_than_the_prior(tmp_path: Path, script_executor: Executor) -> None:
    pytest.importorskip("torch")
    work, data, _ = run_cnn(colours_task(tmp_path / "task"), tmp_path, script_executor)
    oof, answers = np.load(work / "output" / "oof.npy"), np.load(data / "target.npy")
    assert oof.shape == (len(answers), 3) and np.allclose(oof.sum(axis=1), 1, atol=1e-5)
    prior = np.bincount(answers.astype(int)).max() / len(answers)
    assert accuracy_score(answers, oof.argmax(axis=1)) > prior + 0.3


def squares_task(folder: Path, n_train: int = 300, n_test: int = 40, seed: int = 0) -> Path:
    """Regression: the side (3 to 12 px) of a bright square placed anywhere on a noisy dark picture."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    (folder / "description.md").write_text(
        "Predict the side of the square. Scored on the root mean squared error."
    )
    sides = rng.integers(3, 13, n_train + n_test)
    for split, rows in (("train", range(n_train)), ("test", range(n_train, n_train + n_test))):
        with zipfile.ZipFile(folder / f"{split}.zip", "w") as zf:
            for i in rows:
                picture = rng.uniform(0.0, 0.3, (16, 16))
                top, left = rng.integers(0, 17 - sides[i], 2)
                picture[top : top + sides[i], left : left + sides[i]] = 0.9
                buffer = io.BytesIO()
                Image.fromarray((picture * 255).astype(np.uint8)).save(buffer, format="PNG")
                zf.writestr(f"{split}/{i}.png", buffer.getvalue())
    train_ids = [f"{i}.png" for i in range(n_train)]
    pd.DataFrame({"id": train_ids, "side": sides[:n_train].astype(float) + 0.5}).to_csv(
        folder / "train.csv", index=False
    )
    pd.DataFrame({"id": [f"{i}.png" for i in range(n_train, n_train + n_test)], "side": 7.5}).to_csv(
        folder / "sample_submission.csv", index=False
    )
    return folder


@pytest.mark.cnn
def test_the_cnn_measures_squares_better_than_the_mean(tmp_path: Path, script_executor: Executor) -> None:
    pytest.importorskip("torch")
    work, data, _ = run_cnn(squares_task(tmp_path / "task"), tmp_path, script_executor)
    assert 'PROBLEM = "regression"' in (work / "solution.py").read_text()
    oof, answers = np.load(work / "output" / "oof.npy"), np.load(data / "target.npy")
    assert oof.shape == (len(answers), 1)
    assert r2_score(answers, oof[:, 0]) > 0.3  # the mean scores 0 (0.56 measured with torch 2.13.0)
