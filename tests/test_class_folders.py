"""Training pictures in one folder per class, the submission one binary probability per test
picture, the folder meaning 0 named only in the prose: intake reads the negative folder off the
description, and the picture model learns the folders' difference."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.metrics import roc_auc_score

from mlestar.execution.base import Executor
from mlestar.task import load_task_tables
from mlestar.task.class_folders import negative_folder
from mlestar.task.spec import ProblemType
from tests.media_attempts import capped_rounds
from tests.test_media_engineer import run_first_draft

PROSE = (
    'This dataset holds untouched pictures, called the "Plain" pictures, and copies marked in one of '
    "two ways (Red, Green).\n\n- `Plain/` contains unaltered pictures meant for training.\n"
    "- `Red/` and `Green/` contain the marked copies.\n- `Test/` contains the pictures to score.\n\n"
    "Submissions are scored by the area under the ROC curve.\n"
)
TINT = {"Plain": (0, 0, 0), "Red": (60, -20, -20), "Green": (-20, 60, -20)}


def _picture(rng: np.random.Generator, tint: tuple[int, int, int]) -> bytes:
    pixels = rng.integers(60, 190, (12, 12, 1)) + np.array(tint) + rng.integers(-15, 16, (12, 12, 3))
    buf = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def folders_task(folder: Path, n: int = 40, n_test: int = 24, prose: str = PROSE, seed: int = 0) -> Path:
    """n pictures in each class folder under the same names (the marked copies of each plain
    one), n_test in Test/ (a third plain); the sample's Label is 0 for all."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    (folder / "description.md").write_text(prose)
    for name in TINT:
        (folder / name).mkdir()
        for i in range(n):
            (folder / name / f"{i:05d}.png").write_bytes(_picture(rng, TINT[name]))
    (folder / "Test").mkdir()
    names = list(TINT)
    for i in range(n_test):
        (folder / "Test" / f"t{i:04d}.png").write_bytes(_picture(rng, TINT[names[i % 3]]))
    ids = [f"t{i:04d}.png" for i in range(n_test)]
    pd.DataFrame({"Id": ids, "Label": 0}).to_csv(folder / "sample_submission.csv", index=False)
    return folder


def test_the_negative_folder_is_the_one_the_prose_names_beside_a_negation() -> None:
    folders = ["Cover", "JMiPOD", "JUNIWARD", "UERD"]
    real_like = (
        'This dataset contains a large number of unaltered images, called the "Cover" image, as well as '
        "examples in which information has been hidden within the cover image using one of three "
        "algorithms (JMiPOD, JUNIWARD, UERD).\n- `Cover/` contains 75k unaltered images meant for training.\n"
        "- `JMiPOD/` contains 75k examples of the JMiPOD algorithm applied to the cover images.\n"
    )
    assert negative_folder(real_like, folders) == "Cover"
    assert negative_folder("UERD/ holds images without a message.", folders) == "UERD"
    assert negative_folder("Cover/ and UERD/ hold no message.", folders) is None  # two: which one?
    assert negative_folder("Cover/ holds the originals. Nothing else is said.", folders) is None
    assert negative_folder("The message isn't in the Cover pictures.", folders) == "Cover"


def test_class_folders_become_training_rows_labelled_by_the_prose(tmp_path: Path) -> None:
    spec, tables = load_task_tables(folders_task(tmp_path / "task"))
    assert spec.problem_type is ProblemType.BINARY and spec.target_columns == ("Label",)
    assert spec.solver == "engineers" and spec.inputs == "image"
    assert spec.row_files[0]["train"] == "{folder}/{id}" and spec.row_files[0]["test"] == "Test/{id}"
    assert "folder" in spec.train_only and len(tables.train) == 3 * 40
    by_folder = tables.train.groupby("folder")["Label"].agg(["min", "max"])
    assert by_folder.loc["Plain"].tolist() == [0, 0]
    assert by_folder.loc["Red"].tolist() == by_folder.loc["Green"].tolist() == [1, 1]
    assert list(tables.train["folder"][:3]) == ["Green", "Plain", "Red"]  # the folders in turn


def test_without_a_single_negative_folder_in_the_prose_the_task_keeps_its_baseline(tmp_path: Path) -> None:
    spec, tables = load_task_tables(folders_task(tmp_path / "task", prose="Score each picture by ROC AUC.\n"))
    assert spec.solver == "baseline" and tables.train.empty


def test_the_picture_model_tells_the_negative_folder_out_of_fold(
    tmp_path: Path, script_executor: Executor
) -> None:
    work, data, tables = run_first_draft(
        folders_task(tmp_path / "task"), tmp_path, script_executor, capped_rounds
    )
    oof, answers = np.load(work / "output" / "oof.npy")[:, 0], np.load(data / "target.npy")
    assert roc_auc_score(answers, oof) > 0.85  # the prior scores 0.5
    test_pred = np.load(work / "output" / "test.npy")[:, 0]
    plain = np.arange(len(test_pred)) % 3 == 0
    assert test_pred[plain].mean() < test_pred[~plain].mean()
