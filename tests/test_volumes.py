"""Volumes in folders (a stack of layer pictures, an object mask, labels for training folders):
intake's tiles and test rows, the engineer's volume script, and a generated task whose marks are
learnable from the layers, where the learned masks beat the empty and the sample's answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mlestar.engineers.base import TaskContext
from mlestar.engineers.builtin.engineer import BuiltinEngineer
from mlestar.engineers.builtin.media import volume_script
from mlestar.engineers.builtin.media.kit import volumes as kit
from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.execution.base import Executor
from mlestar.metrics import get_metric
from mlestar.task import load_task_tables, volumes
from tests.media_attempts import run_draft
from tests.media_tasks import task_context

DESCRIPTION = "Find the ink in each fragment. Submissions are evaluated on the F0.5 score of the masks."


def fragments_task(
    folder: Path, n_train: int = 3, order: str = "C", seed: int = 0, rle_file: bool = True
) -> Path:
    """Training fragments 1..n_train and two test fragments "a" and "b": folders with
    surface_volume/00.tif ... 07.tif, mask.png and (training) inklabels.png; ink darkens the
    middle layers only, so no single layer's brightness finds it."""
    rng = np.random.default_rng(seed)
    truth = {}
    for name in [*map(str, range(1, n_train + 1)), "a", "b"]:
        split = "test" if name.isalpha() else "train"
        layers, inside, ink = _fragment(rng)
        where = folder / split / name
        (where / "surface_volume").mkdir(parents=True)
        for k, layer in enumerate(layers):
            Image.fromarray(layer).save(where / "surface_volume" / f"{k:02d}.tif")
        Image.fromarray((inside * 255).astype(np.uint8)).save(where / "mask.png")
        if split == "train":
            Image.fromarray(ink.astype(np.uint8)).save(where / "inklabels.png")
            if rle_file:
                pd.DataFrame({"Id": [name], "Predicted": [volumes.encode(ink, order)]}).to_csv(
                    where / "inklabels_rle.csv", index=False
                )
        else:
            truth[name] = volumes.encode(ink, order)
    (folder / "description.md").write_text(DESCRIPTION)
    pd.DataFrame({"Id": ["a", "b"], "Predicted": ["1 1 5 1"] * 2}).to_csv(
        folder / "sample_submission.csv", index=False
    )
    pd.DataFrame({"Id": list(truth), "Predicted": list(truth.values())}).to_csv(
        folder.parent / "answers.csv", index=False
    )
    return folder


def _fragment(rng: np.random.Generator, height: int = 48, width: int = 56) -> tuple:
    rows, cols = np.mgrid[:height, :width]
    inside = ((rows - height / 2) / (height * 0.46)) ** 2 + ((cols - width / 2) / (width * 0.46)) ** 2 <= 1
    ink = np.zeros((height, width), dtype=bool)
    for _ in range(5):
        r, c = int(rng.integers(6, height - 12)), int(rng.integers(6, width - 14))
        if rng.random() < 0.5:
            ink[r : r + 3, c : c + 10] = True  # a stroke across
        else:
            ink[r : r + 9, c : c + 3] = True  # a stroke down
    ink &= inside
    base = 110 + 50 * inside + rng.normal(0, 25, (height, width))  # the papyrus varies more than the ink
    layers = []
    for k in range(8):
        value = base - (30 * ink if k in (3, 4) else 0) + rng.normal(0, 12, (height, width))
        layers.append(np.clip(value, 0, 255).astype(np.uint8))
    return layers, inside, ink


@pytest.fixture(scope="module")
def fragments(tmp_path_factory: pytest.TempPathFactory) -> TaskContext:
    return task_context(fragments_task(tmp_path_factory.mktemp("fragments") / "task"))


# ---------------------------------------------------------------- intake


def test_training_folders_become_tiles_and_test_folders_rows(fragments: TaskContext) -> None:
    spec, tables = load_task_tables(fragments.spec.task_dir)
    assert (
        spec.solver == "engineers" and spec.metric == "mask_fbeta" and spec.target_columns == ("Predicted",)
    )
    assert spec.row_files == (
        {"train": "{folder}", "test": "{folder}", "kind": "volume", "per": "folder",
         "layers": "surface_volume", "mask": "mask.png", "order": "C"},
    )  # fmt: skip
    train, test = tables.train, tables.test
    assert set(train["folder"]) == {"train/1", "train/2", "train/3"} and len(train) >= 30
    assert test[["Id", "folder", "top", "left", "height", "width"]].values.tolist() == [
        ["a", "test/a", 0, 0, 48, 56], ["b", "test/b", 0, 0, 48, 56]]  # fmt: skip
    # The tiles' answers put together are each training fragment's labels.
    for folder, part in train.groupby("folder"):
        label = np.asarray(Image.open(fragments.spec.task_dir / folder / "inklabels.png")) > 0
        built = np.zeros_like(label)
        for r in part.itertuples():
            built[r.top : r.top + r.height, r.left : r.left + r.width] = kit_decode(
                r.Predicted, (r.height, r.width), "C"
            )
        assert (built == label).all()
    assert (train["Predicted"] == "").any() and spec.dropped_rows == 0  # a tile without ink is an answer


def kit_decode(text: str, shape: tuple[int, int], order: str) -> np.ndarray:
    from mlestar.engineers.builtin.media.kit.masks import decode_runs

    return decode_runs(text, shape, order)


def test_the_numbering_is_read_off_the_training_run_lengths(tmp_path: Path) -> None:
    _, by_columns = load_task_tables(fragments_task(tmp_path / "f", n_train=1, order="F"))
    assert by_columns.train is not None
    spec, _ = load_task_tables(fragments_task(tmp_path / "c", n_train=1, order="F", rle_file=False))
    assert spec.row_files[0]["order"] == "C"  # nothing to read it off: along the rows
    spec, _ = load_task_tables(tmp_path / "f")
    assert spec.row_files[0]["order"] == "F"


def test_folders_without_labels_for_training_are_not_volumes(tmp_path: Path) -> None:
    folder = fragments_task(tmp_path / "task", n_train=2)
    for label in folder.glob("train/*/inklabels.png"):
        label.unlink()
    spec, _ = load_task_tables(folder)
    assert spec.solver == "baseline" and not any(f.get("per") == "folder" for f in spec.row_files)


# ---------------------------------------------------------------- the kit


def test_tile_owners_and_full_size_agree() -> None:
    rects = volumes.tiles((10, 7), 2)
    assert sum(h * w for _, _, h, w in rects) == 70
    where = np.full((10, 7), -1)
    for k, (top, left, height, width) in enumerate(rects):
        where[top : top + height, left : left + width] = k
    owner = kit.owners((5, 4), 2, rects)  # a shrunk pixel belongs where its first full-size pixel does
    assert (owner == where[::2, ::2]).all()
    assert (kit.full_size(kit.owners((10, 7), 1, rects), 1, (10, 7)) == where).all()
    assert kit.full_size(owner, 2, (10, 7)).shape == (10, 7)


def test_the_cut_scores_as_the_metric_where_it_is_scored() -> None:
    truth = np.zeros((6, 6), dtype=bool)
    truth[1:3, 1:4] = True
    probability = np.where(truth, 0.8, 0.3).astype(np.float32)
    everywhere = np.ones_like(truth)
    cut, score = kit.fbeta_cut([(probability, truth, everywhere)], 0.5)
    assert 0.3 < cut <= 0.8 and score == 1.0
    metric = get_metric("mask_fbeta").score
    pred = probability >= 0.2
    y = np.array([[volumes.encode(truth, "C")]])
    assert kit.fbeta(truth, pred, 0.5) == pytest.approx(metric(y, np.array([[volumes.encode(pred, "C")]])))
    # Only where it is scored: a cut that marks the whole picture is perfect inside the truth alone.
    assert kit.fbeta_cut([(probability, truth, truth)], 0.5) == (0.05, 1.0)


# ---------------------------------------------------------------- the script


def test_volume_tasks_get_the_volume_script(fragments: TaskContext) -> None:
    profile = ProfileView(fragments.profile)
    assert volume_script.is_volume_task(profile)
    engineer = BuiltinEngineer()
    found = engineer.retrieve(fragments, 5)
    assert [c.name for c in found] == list(volume_script.MODELS)
    text = engineer.draft(fragments, found[0])
    assert "# %% block: files" in text and "def volume_planes(" in text and "LGBMClassifier(" in text
    assert "from mlestar" not in text and "BETA = 0.5" in text
    assert text.count("def shrunk(") == 1
    compile(text, "solution.py", "exec")


@pytest.mark.parametrize("candidate", [0, 1])
def test_learned_ink_beats_the_empty_and_the_sample_answer(
    fragments: TaskContext, tmp_path: Path, script_executor: Executor, candidate: int
) -> None:
    work, data = run_draft(fragments, tmp_path, script_executor, candidate)
    score = get_metric("mask_fbeta").score
    answers = np.load(data / "target.npy", allow_pickle=False).reshape(-1, 1)
    oof = np.load(work / "output" / "oof.npy", allow_pickle=False)
    assert oof.shape == answers.shape and oof.dtype.kind == "U"
    sample = np.full_like(answers, "1 1 5 1")
    assert score(answers, oof) > max(score(answers, np.full_like(answers, "")), score(answers, sample)) + 0.3
    truth = pd.read_csv(fragments.spec.task_dir.parent / "answers.csv", keep_default_na=False)
    test = np.load(work / "output" / "test.npy", allow_pickle=False)
    assert test.shape == (2, 1) and (test != "").all()
    y = truth[["Predicted"]].to_numpy().astype(str)
    assert score(y, test) > score(y, np.full_like(y, "1 1 5 1")) + 0.4
    # Answers stay inside the fragment.
    inside = np.asarray(Image.open(fragments.spec.task_dir / "test" / "a" / "mask.png")) > 0
    assert not (kit_decode(str(test[0, 0]), inside.shape, "C") & ~inside).any()
    assert (work / "output" / "model.pkl").is_file()


def test_the_volume_kit_shadows_no_other_kit_definition() -> None:
    """Scripts copy the kit into one namespace: a name defined twice would replace the other."""
    import ast

    from mlestar.engineers.builtin.media import source

    def names(module: str) -> set[str]:
        tree = ast.parse(source._module_path(module).read_text())
        return {n for node in tree.body for n in source._bound(node)}

    others = set().union(*(names(m) for m in source.MODULES if m != "volumes"))
    assert not names("volumes") & others


def test_sixteen_bit_layers_keep_their_depth_and_are_scaled_inside_the_object(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    (tmp_path / "layers").mkdir()
    for k in (2, 10, 1):  # numbered, not sorted as text: 1, 2, 10
        Image.fromarray((rng.integers(0, 200, (12, 16)) + 60_000 * (k == 10)).astype(np.uint16)).save(
            tmp_path / "layers" / f"{k}.tif"
        )
    inside = np.zeros((12, 16), dtype=np.uint8)
    inside[2:10, 3:13] = 255
    Image.fromarray(inside).save(tmp_path / "mask.png")
    assert [p.name for p in kit.layer_paths(tmp_path, "layers")] == ["1.tif", "2.tif", "10.tif"]
    stack, mask, factor = kit.read_volume(tmp_path, "layers", "mask.png", 16, 8)
    assert factor == 2 and stack.shape == (3, 6, 8) and mask.shape == (12, 16) and mask.sum() == 80
    assert stack[2].min() > 0.9 and stack[0].max() < 0.1  # the deep layer's 60,000s are not cut to 255
    planes = kit.volume_planes(stack, (3, 7))
    assert planes.shape == (6, 8, 3 + 3 + 6 + 4 + 1)
