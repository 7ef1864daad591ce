"""Answers at two levels in one file: a study-level table of one-hot findings and an image-level table
of boxes, the submission's ids carrying the level (task/levels.py, media/level_boxes.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conformance.level_builders import study_images
from mlestar.engineers.base import TaskContext
from mlestar.engineers.builtin.engineer import BuiltinEngineer
from mlestar.engineers.builtin.media import box_script
from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.errors import TaskError
from mlestar.execution.base import Executor
from mlestar.metrics import get_metric
from mlestar.task import load_task_tables
from mlestar.task.levels import levels_of
from mlestar.task.profile import profile_task
from tests.media_attempts import run_draft

DESCRIPTION = "Find the findings and the opacities. Scored on the mean average precision at IoU 0.5."


def levels_task(folder: Path, rows: tuple[int, int] = (50, 16), seed: int = 3) -> Path:
    """The replica's layout: scans whose bytes follow the study's finding; ../answers.csv the truth."""
    folder.mkdir(parents=True)
    truth = study_images({"rows": rows}, folder, np.random.default_rng(seed))
    truth.to_csv(folder.parent / "answers.csv", index=False)
    (folder / "description.md").write_text(DESCRIPTION)
    return folder


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> TaskContext:
    folder = levels_task(tmp_path_factory.mktemp("levels") / "task")
    spec, tables = load_task_tables(folder)
    return TaskContext(spec, profile_task(spec, tables.train, tables.test, folder), 0, 1, 60.0, folder)


def test_each_level_is_read_from_its_own_table(studies: TaskContext) -> None:
    spec = studies.spec
    assert spec.id_column == "id" and spec.target_columns == ("PredictionString",)
    assert spec.metric == "box_map_voc" and spec.solver == "engineers"
    assert spec.row_files == (
        {"train": "{picture}", "test": "{picture}", "kind": "volume", "level": "level", "group": "group"},
    )
    assert spec.group_column == "group"
    _, tables = load_task_tables(spec.task_dir)
    train = tables.train.set_index("id")
    study = pd.read_csv(spec.task_dir / "train_study_level.csv").iloc[0]
    spelled = {"Negative for Pneumonia": "negative", "Typical Appearance": "typical"}
    finding = study.drop("id").astype(int).idxmax()
    want = spelled.get(finding, finding.split()[0].lower())
    assert train.loc[study["id"], "PredictionString"] == f"{want} 1 0 0 1 1"
    image = pd.read_csv(spec.task_dir / "train_image_level.csv").iloc[0]
    assert train.loc[image["id"], "PredictionString"] == image["label"]
    assert train.loc[image["id"], "group"] == image["StudyInstanceUID"]  # a study's rows share a fold
    assert train.loc[f"{image['StudyInstanceUID']}_study", "group"] == image["StudyInstanceUID"]
    assert set(tables.test["level"]) == {"study", "image"} and (tables.test["picture"] != "").all()


def test_ids_without_levels_are_no_levels(tmp_path: Path) -> None:
    assert levels_of(pd.Series(["a1_study", "b2_image"])).tolist() == ["study", "image"]
    assert levels_of(pd.Series(["a1_study", "b2_study"])) is None  # one level
    assert levels_of(pd.Series(["a1", "b2_image"])) is None
    folder = levels_task(tmp_path / "task", rows=(12, 4))
    study = pd.read_csv(folder / "train_study_level.csv")
    study.assign(id=study["id"].str.replace("_study", "")).to_csv(
        folder / "train_study_level.csv", index=False
    )
    with pytest.raises(TaskError, match="expected one train table"):  # no longer one table per level
        load_task_tables(folder)


def test_the_box_script_answers_each_level_with_its_own_model(studies: TaskContext) -> None:
    assert box_script.is_box_task(ProfileView(studies.profile))
    engineer = BuiltinEngineer()
    text = engineer.draft(studies, engineer.retrieve(studies, 2)[0])
    assert 'LEVEL_COLUMN = "level"' in text and "class LabelModel:" in text and "def level_fits(" in text
    assert "GROUP_COLUMN = 'group'" in text and "def pooled(" in text
    assert "from mlestar" not in text
    namespace: dict = {"__name__": "draft"}
    exec(compile(text, "solution.py", "exec"), namespace)  # defines, runs nothing
    frame = pd.DataFrame({"group": ["s1", "s1", "s2"], "level": ["study", "image", "image"]})
    x = np.array([[1.0, np.nan], [3.0, 4.0], [5.0, 6.0]], dtype=np.float32)
    pooled = namespace["pooled"](x, frame)  # a study is told by all its scans, missing values left out
    assert pooled.tolist() == [[2.0, 4.0], [2.0, 4.0], [5.0, 6.0]]


@pytest.mark.parametrize("candidate", [0, 1])
def test_learned_levels_beat_the_sample_answer(
    studies: TaskContext, tmp_path: Path, script_executor: Executor, candidate: int
) -> None:
    work, data = run_draft(studies, tmp_path, script_executor, candidate)
    score = get_metric("box_map_voc").score
    answers = np.load(data / "target.npy", allow_pickle=False).reshape(-1, 1)
    train = pd.read_parquet(data / "train.parquet")
    sample = np.where(train["level"].eq("study").to_numpy(), "negative 1 0 0 1 1", "none 1 0 0 1 1")
    oof = np.load(work / "output" / "oof.npy", allow_pickle=False)
    assert score(answers, oof) > score(answers, sample.reshape(-1, 1)) + 0.2
    studies_oof = oof[train["level"].eq("study").to_numpy(), 0]
    assert all(s.split()[::6] == ["atypical", "indeterminate", "negative", "typical"] for s in studies_oof)
    truth = pd.read_csv(studies.spec.task_dir.parent / "answers.csv", keep_default_na=False)
    test = np.load(work / "output" / "test.npy", allow_pickle=False)
    y = truth[["PredictionString"]].to_numpy().astype(str)
    given = (
        pd.read_csv(studies.spec.task_dir / "sample_submission.csv")[["PredictionString"]]
        .to_numpy()
        .astype(str)
    )
    assert score(y, test) > score(y, given) + 0.2
