"""Masks per picture and class: rows keyed by a slice and a class together, the slices' pictures in
nested folders found by the words of the key, one mask model per class (media/class_masks.py)."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mlestar.engineers.base import TaskContext
from mlestar.engineers.builtin.engineer import BuiltinEngineer
from mlestar.engineers.builtin.media import mask_script
from mlestar.engineers.builtin.media.kit import masks
from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.execution.base import Executor
from mlestar.metrics import get_metric
from mlestar.metrics.stand_in import for_search
from mlestar.task import load_task_tables
from tests.media_attempts import run_draft
from tests.media_tasks import task_context

DESCRIPTION = (
    "Segment the organs on each slice. Scored on the mean Dice coefficient and the 3D Hausdorff "
    "distance. Masks are run-length encoded."
)
SIDE = 28
PLACES = {"left": (8, 7), "middle": (16, 14), "right": (8, 21)}
"""Each class's square (centre row, column): all equally bright, so only the class says which one."""


def organs_task(folder: Path, cases: int = 7, slices: int = 4, test_cases: int = 2, seed: int = 0) -> Path:
    """One row per (slice, class); each slice a 16-bit PNG at {split}/case{c}/case{c}_day2/scans/
    slice_{s}_28_28.png with each present class's square; the answers (numbered down the columns)
    in ../answers.csv in the submission's layout."""
    rng = np.random.default_rng(seed)
    rows = []
    for case in range(1, cases + 1):
        split = "test" if case > cases - test_cases else "train"
        for sl in range(1, slices + 1):
            picture = rng.normal(60, 15, (SIDE, SIDE))
            key = f"case{case}_day2_slice_{sl:04d}"
            for name, (r, c) in PLACES.items():
                mask = np.zeros((SIDE, SIDE), bool)
                if rng.random() < 0.6:
                    r, c = r + int(rng.integers(-1, 2)), c + int(rng.integers(-1, 2))
                    mask[r - 3 : r + 3, c - 3 : c + 3] = True
                    picture[mask] = rng.normal(200, 10, int(mask.sum()))
                rows.append(
                    {"id": key, "class": name, "segmentation": masks.encode_runs(mask, "F"), "split": split}
                )
            path = (
                folder
                / split
                / f"case{case}"
                / f"case{case}_day2"
                / "scans"
                / f"slice_{sl:04d}_{SIDE}_{SIDE}.png"
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray((np.clip(picture, 0, 255) * 60).astype(np.uint16)).save(
                path
            )  # 16-bit, as scans are
    frame = pd.DataFrame(rows)
    is_test = frame.pop("split").eq("test")
    (folder / "description.md").write_text(DESCRIPTION)
    frame[~is_test].to_csv(folder / "train.csv", index=False)
    frame[is_test][["id", "class"]].to_csv(folder / "test.csv", index=False)
    truth = frame[is_test].rename(columns={"segmentation": "predicted"})
    truth.assign(predicted="1 1").to_csv(folder / "sample_submission.csv", index=False)
    truth.to_csv(folder.parent / "answers.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def organs(tmp_path_factory: pytest.TempPathFactory) -> TaskContext:
    return task_context(organs_task(tmp_path_factory.mktemp("organs") / "task"))


def test_intake_finds_each_slice_picture_by_the_words_of_its_key(organs: TaskContext) -> None:
    spec = organs.spec
    assert spec.id_column is None and spec.submission.key == "position"
    assert spec.submission.copy_columns == ("id", "class")
    assert spec.inputs == "image" and spec.solver == "engineers"
    assert spec.row_files == (
        {"train": "{picture}", "test": "{picture}", "kind": "image", "key": "id", "class": "class"},
    )
    assert spec.group_column == "id"  # a slice's class rows share one picture: the folds keep them together
    _, tables = load_task_tables(spec.task_dir)
    first = tables.train.iloc[0]
    assert first["picture"] == "train/case1/case1_day2/scans/slice_0001_28_28.png"
    assert tables.test["picture"].str.startswith("test/case6/").sum() == 12


def test_keys_no_picture_spells_leave_the_rows_without_files(tmp_path: Path) -> None:
    folder = organs_task(tmp_path / "task", cases=4, slices=3, test_cases=1)
    for path in folder.rglob("*.png"):  # the pictures no longer carry the day: no key finds its own
        path.rename(path.with_name(path.name.replace("slice_", "s_")))
    spec, _ = load_task_tables(folder)
    assert spec.row_files == () and spec.inputs == "tabular"


def test_sixteen_bit_scans_are_scaled_by_their_own_range_not_cut_at_white() -> None:
    values = np.arange(64, dtype=np.uint16).reshape(8, 8) * 300  # up to 18,900
    buffer = io.BytesIO()
    Image.fromarray(values).save(buffer, format="PNG")
    grey = masks.grey_picture(buffer.getvalue(), "slice_0001.png")
    assert grey.shape == (8, 8) and grey.min() == 0.0 and grey.max() == 1.0
    assert (np.diff(grey.ravel()) >= 0).all() and len(np.unique(grey)) > 50  # the order of the values kept


def test_the_mask_script_fits_a_model_per_class(organs: TaskContext) -> None:
    profile = ProfileView(organs.profile)
    assert mask_script.is_mask_task(profile)
    engineer = BuiltinEngineer()
    text = engineer.draft(organs, engineer.retrieve(organs, 2)[0])
    assert 'CLASS_COLUMN = "class"' in text and "def class_fits(" in text and "def shared_greys(" in text
    assert "from mlestar" not in text and "WIDE_MODES = (" in text
    compile(text, "solution.py", "exec")


@pytest.mark.parametrize("candidate", [0, 1])
def test_masks_per_class_beat_the_empty_answer(
    organs: TaskContext, tmp_path: Path, script_executor: Executor, candidate: int
) -> None:
    work, data = run_draft(organs, tmp_path, script_executor, candidate)
    score = for_search(get_metric("dice_hausdorff")).score
    answers = np.load(data / "target.npy", allow_pickle=False).reshape(-1, 1)
    oof = np.load(work / "output" / "oof.npy", allow_pickle=False)
    assert oof.shape == answers.shape
    assert score(answers, np.full_like(answers, "")) == 0.0
    assert score(answers, oof) > 0.8  # every square is equally bright: only its class places it
    truth = pd.read_csv(organs.spec.task_dir.parent / "answers.csv", keep_default_na=False)
    test = np.load(work / "output" / "test.npy", allow_pickle=False)
    y = truth[["predicted"]].to_numpy().astype(str)
    assert test.shape == y.shape and score(y, test) > 0.8
    context = {  # the task's own metric, with the context its grader has
        "volume": truth["id"].str.rsplit("_", n=2).str[0].to_numpy(),
        "slice": truth["id"].to_numpy(),
        "image_shape": np.tile([SIDE, SIDE], (len(truth), 1)),
    }
    full = get_metric("dice_hausdorff")
    assert full.score(y, test, context) > full.score(y, np.full_like(y, ""), context) + 0.3
    assert (work / "output" / "model.pkl").is_file()


def test_the_search_scores_the_dice_part_where_the_context_is_missing() -> None:
    metric = get_metric("dice_hausdorff")
    stand_in = for_search(metric)
    assert stand_in.uses == () and not stand_in.lower_is_better
    assert for_search(get_metric("mean_dice")) is get_metric("mean_dice")
    truth = np.array([["1 4"], [""], ["3 2"], [""]])
    pred = np.array([["1 2"], [""], [""], ["5 1"]])
    dice = [2 * 2 / 6, math.nan, 0.0, 0.0]  # both empty: left out, as the full metric leaves it out
    assert stand_in.score(truth, pred) == pytest.approx(np.nanmean(dice))
    assert stand_in.score(truth[[1]], pred[[1]]) == 1.0
    with pytest.raises(ValueError, match="per-row context"):
        metric.score(truth, pred)
