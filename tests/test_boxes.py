"""Bounding boxes per picture: intake groups one-row-per-box tables into one row per picture, the
kit's pieces, and a generated task (bright rectangles at class-dependent places) where the learned
boxes beat the sample's "nothing found" answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mlestar.engineers.base import EngineerFailure, EnsembleMember, TaskContext
from mlestar.engineers.builtin.engineer import BuiltinEngineer
from mlestar.engineers.builtin.media import box_script
from mlestar.engineers.builtin.media.kit import boxes
from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.execution.base import Executor
from mlestar.metrics import get_metric
from mlestar.task import load_task_tables
from mlestar.task.box_rows import are_box_strings, box_columns, group_boxes
from mlestar.task.tables import TaskTables
from tests.media_attempts import run_draft
from tests.media_tasks import task_context

DESCRIPTION = (
    "Find the bright rectangles and say which kind each is. Submissions are evaluated on the mean "
    "average precision at IoU 0.4. Write each picture's boxes as class confidence x_min y_min x_max "
    "y_max; a picture with nothing in it is 3 1 0 0 1 1."
)
PLACES = {0: (0.08, 0.1, 0.4, 0.45), 1: (0.55, 0.5, 0.92, 0.9), 2: (0.3, 0.6, 0.7, 0.85)}
"""Each class's rectangle as shares of the picture's width and height (jittered a little)."""
NOTHING = 3
NAMES = {0: "Disc", 1: "Bar", 2: "Slab", 3: "No finding"}


def rectangles_task(
    folder: Path, n_train: int = 90, n_test: int = 30, seed: int = 0, moves: float = 0.0
) -> Path:
    """Pictures of varied sizes with zero to two bright rectangles, each at its class's place
    (moved by up to `moves` of the picture's side);
    train.csv has one row per box and reader (two readers draw some boxes twice), a picture with
    no rectangle one "No finding" row with blank coordinates per reader. The sample spells every
    answer "3 1 0 0 1 1"; the true test answers go to answers.csv beside the task."""
    rng = np.random.default_rng(seed)
    ids = [f"{rng.integers(1 << 40):010x}" for _ in range(n_train + n_test)]
    rows, answers = [], []
    for split, at in (("train", range(n_train)), ("test", range(n_train, n_train + n_test))):
        (folder / split).mkdir(parents=True)
        for i in at:
            grey, drawn = _picture(rng, moves)
            Image.fromarray(grey).save(folder / split / f"{ids[i]}.png")
            answers.append(
                " ".join(f"{c} 1 {x1} {y1} {x2} {y2}" for c, x1, y1, x2, y2 in drawn) or "3 1 0 0 1 1"
            )
            for reader in ("R1", "R2")[: 1 + int(rng.integers(0, 2))]:
                for c, x1, y1, x2, y2 in drawn or [(NOTHING, np.nan, np.nan, np.nan, np.nan)]:
                    rows.append((ids[i], NAMES[c], c, reader, x1, y1, x2, y2))
    columns = ["image_id", "class_name", "class_id", "rad_id", "x_min", "y_min", "x_max", "y_max"]
    train = pd.DataFrame(rows, columns=columns)
    train[train["image_id"].isin(ids[:n_train])].to_csv(folder / "train.csv", index=False)
    (folder / "description.md").write_text(DESCRIPTION)
    pd.DataFrame({"image_id": ids[n_train:], "PredictionString": "3 1 0 0 1 1"}).to_csv(
        folder / "sample_submission.csv", index=False
    )
    pd.DataFrame({"image_id": ids[n_train:], "PredictionString": answers[n_train:]}).to_csv(
        folder.parent / "answers.csv", index=False
    )
    return folder


def _picture(
    rng: np.random.Generator, moves: float
) -> tuple[np.ndarray, list[tuple[int, int, int, int, int]]]:
    width, height = int(rng.choice([40, 56])), int(rng.choice([36, 48]))
    picture = rng.normal(0.25, 0.08, (height, width))
    drawn = []
    for c in sorted(rng.choice(3, int(rng.choice([0, 1, 1, 2])), replace=False).tolist()):
        shift = np.tile(rng.uniform(-moves, moves, 2), 2) + rng.normal(0, 0.02, 4)
        x1, y1, x2, y2 = np.clip(np.array(PLACES[c]) + shift, 0, 1) * [width, height, width, height]
        box = (c, round(x1), round(y1), round(x2), round(y2))
        picture[box[2] : box[4], box[1] : box[3]] += 0.5
        drawn.append(box)
    return (np.clip(picture, 0, 1) * 255).astype(np.uint8), drawn


@pytest.fixture(scope="module")
def rectangles(tmp_path_factory: pytest.TempPathFactory) -> TaskContext:
    return task_context(rectangles_task(tmp_path_factory.mktemp("rectangles") / "task"))


# ---------------------------------------------------------------- intake


def test_box_rows_are_grouped_into_one_answer_per_picture(rectangles: TaskContext) -> None:
    spec, tables = load_task_tables(rectangles.spec.task_dir)
    raw = pd.read_csv(spec.task_dir / "train.csv")
    assert len(tables.train) == raw["image_id"].nunique() < len(raw)
    assert spec.solver == "engineers" and spec.metric.startswith("box_map_coco")
    assert spec.train_target_columns == ("PredictionString",) and spec.baseline == "sample"
    first = raw.iloc[0]
    answer = tables.train.set_index("image_id").loc[first["image_id"], "PredictionString"]
    words = answer.split()
    assert len(words) % 6 == 0 and str(first["class_id"]) in words[0::6]  # class ids, not names or readers
    nothing = raw[raw["class_id"] == NOTHING]["image_id"].iloc[0]
    assert tables.train.set_index("image_id").loc[nothing, "PredictionString"] == "3 1 0 0 1 1"
    twice = raw[raw.duplicated(["image_id", "x_min", "y_min"], keep=False) & raw["x_min"].notna()]
    drawn = twice["image_id"].iloc[0]
    once = raw[(raw["image_id"] == drawn) & (raw["rad_id"] == "R1")]
    assert len(tables.train.set_index("image_id").loc[drawn, "PredictionString"].split()) == 6 * len(once)


def test_box_answers_are_scored_as_boxes_when_the_description_names_no_metric(tmp_path: Path) -> None:
    folder = rectangles_task(tmp_path / "task", n_train=20, n_test=4)
    (folder / "description.md").write_text("Find the rectangles.")
    spec, _ = load_task_tables(folder)
    assert spec.metric.startswith("box_map_coco") and spec.sources["metric"] == "default"  # numbered classes


def _tables(train: pd.DataFrame, sample: str = "none 1 0 0 1 1") -> TaskTables:
    test = pd.DataFrame({"id": ["t1", "t2"]})
    return TaskTables(train, test, test.assign(PredictionString=sample))


def test_boxes_given_by_a_corner_and_a_size_or_one_cell_are_written_as_corners() -> None:
    sizes = pd.DataFrame({"id": ["a", "a", "b"], "label": ["cat", "dog", "cat"], "x": [1, 5, 2],
                          "y": [2, 6, 3], "width": [10, 4, 1], "height": [20, 4, 1]})  # fmt: skip
    grouped, how = group_boxes(_tables(sizes), "PredictionString", "id") or (None, "")
    assert grouped is not None and "label" in how
    assert grouped.train["PredictionString"].tolist() == ["cat 1 1 2 11 22 dog 1 5 6 9 10", "cat 1 2 3 3 4"]
    cells = pd.DataFrame(
        {"id": ["a", "b", "b"], "bbox": ["[1.0, 2.0, 3.5, 4.0]", "[0, 0, 2, 2]", "[1, 1, 1, 1]"]}
    )
    found = group_boxes(_tables(cells), "PredictionString", "id")
    assert found is not None and box_columns(cells) is not None
    assert found[0].train["PredictionString"].tolist() == [
        "none 1 1 2 4.5 6",
        "none 1 0 0 2 2 none 1 1 1 2 2",
    ]


def test_tables_without_boxes_or_without_a_box_sample_are_left_alone() -> None:
    plain = pd.DataFrame({"id": ["a", "a"], "label": ["x", "y"], "score": [1.0, 2.0]})
    assert group_boxes(_tables(plain), "PredictionString", "id") is None
    corners = pd.DataFrame(
        {"id": ["a"], "label": ["x"], "x_min": [1], "y_min": [1], "x_max": [2], "y_max": [2]}
    )
    assert group_boxes(_tables(corners, sample="1 2 3"), "PredictionString", "id") is None  # not box strings
    assert are_box_strings(pd.Series(["a 0.5 1 2 3 4", ""]), allow_empty=True)
    assert not are_box_strings(pd.Series(["a 0.5 1 2 3 4", ""]))
    assert not are_box_strings(pd.Series(["a b c d e f"]))


# ---------------------------------------------------------------- the kit


def test_nothing_found_is_read_off_the_answers() -> None:
    answers = [boxes.read_boxes(t) for t in ["14 1 0 0 1 1", "2 1 5 5 9 9 4 1 1 1 3 3", "14 1 0 0 1 1"]]
    assert boxes.nothing_box(answers) == ("14", 1.0, 0.0, 0.0, 1.0, 1.0)
    mixed = [*answers, boxes.read_boxes("14 1 0 0 1 1 2 1 5 5 9 9")]  # shares a picture: a class
    assert boxes.nothing_box(mixed) is None
    assert boxes.presence(answers, ["2", "4"]).tolist() == [[0, 0], [1, 1], [0, 0]]
    with pytest.raises(ValueError, match="6 values per box"):
        boxes.read_boxes("1 0.5 1 2 3")


def test_typical_boxes_are_the_centres_of_a_class_and_scale_to_each_picture() -> None:
    shares = np.array([[0.1, 0.1, 0.3, 0.3]] * 6 + [[0.6, 0.6, 0.9, 0.9]] * 3)
    centres, weights = boxes.typical_boxes(shares, 3)
    assert len(centres) == 2 and weights.tolist() == pytest.approx([2 / 3, 1 / 3])
    assert centres[0] == pytest.approx([0.1, 0.1, 0.3, 0.3])
    typical = {"a": (centres, weights), "b": (centres[:1], np.ones(1))}
    text = boxes.box_string(np.array([0.8, 0.01]), ["a", "b"], typical, np.array([100.0, 50.0]),
                            ("n", 1.0, 0.0, 0.0, 1.0, 1.0), 0.05)  # fmt: skip
    assert text == "a 0.8000 10.0 5.0 30.0 15.0 a 0.4000 60.0 30.0 90.0 45.0 n 0.2000 0 0 1 1"
    assert boxes.box_string(np.array([0.01]), ["a"], typical, np.ones(2), None, 0.05) == ""
    placed = boxes.box_string(np.array([0.8]), ["a"], typical, np.array([100.0, 50.0]), None, 0.05,
                              {"a": np.array([0.5, 0.5, 0.7, 0.9])})  # fmt: skip
    assert placed == "a 0.8000 50.0 25.0 70.0 45.0 a 0.4000 10.0 5.0 30.0 15.0 a 0.2000 60.0 30.0 90.0 45.0"


class _Backwards:
    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.array([[0.6, 0.2, 0.4, 1.3]] * len(x))


def test_placed_boxes_are_each_pictures_mean_box_inside_the_picture_in_order() -> None:
    answers = [
        boxes.read_boxes(t) for t in ["a 1 10 10 20 20 a 1 12 10 22 20 b 1 0 0 5 5", "b 1 1 1 2 2", ""]
    ]
    rows, shares = boxes.placed_boxes(answers, np.array([[100.0, 50.0]] * 3), "a")
    assert rows.tolist() == [0] and shares == pytest.approx(np.array([[0.11, 0.2, 0.21, 0.4]]))
    assert boxes.placed_where(_Backwards(), np.zeros((2, 3))).tolist() == [[0.4, 0.2, 0.6, 1.0]] * 2


def test_picture_sizes_come_from_the_shape_columns_or_stay_as_given() -> None:
    features = pd.DataFrame({"file0_shape_0": [40.0, np.nan], "file0_shape_1": [30.0, np.nan], "f": [1, 2]})
    assert boxes.picture_sizes(features).tolist() == [[40.0, 30.0], [40.0, 30.0]]
    assert boxes.picture_sizes(features[["f"]]).tolist() == [[1.0, 1.0], [1.0, 1.0]]


# ---------------------------------------------------------------- the engineer and the script


def test_box_tasks_get_the_box_script(rectangles: TaskContext) -> None:
    assert box_script.is_box_task(ProfileView(rectangles.profile))
    engineer = BuiltinEngineer()
    found = engineer.retrieve(rectangles, 5)
    assert [c.name for c in found] == list(box_script.MODELS)
    text = engineer.draft(rectangles, found[0])
    assert "# %% block: files" in text and "# %% block: boxes" in text and "def typical_boxes(" in text
    assert "from mlestar" not in text and "LogisticRegression(" in text
    compile(text, "solution.py", "exec")
    assert text.count("def row_paths(") == 1  # the kit's code is copied once
    with pytest.raises(EngineerFailure, match="cannot be averaged"):  # text answers: no ensembles
        engineer.plan_ensemble(rectangles, [EnsembleMember("a", "", 0.5), EnsembleMember("b", "", 0.4)], [])


def _attempt(
    ctx: TaskContext, tmp_path: Path, executor: Executor, candidate: int, place: bool = True
) -> tuple[Path, Path]:
    def placing(text: str) -> str:
        assert "PLACE = True" in text
        return text.replace("PLACE = True", f"PLACE = {place}")

    return run_draft(ctx, tmp_path, executor, candidate, placing)


@pytest.mark.parametrize("candidate", [0, 1])
def test_learned_boxes_beat_the_samples_answer(
    rectangles: TaskContext, tmp_path: Path, script_executor: Executor, candidate: int
) -> None:
    work, data = _attempt(rectangles, tmp_path, script_executor, candidate)
    score = get_metric(rectangles.spec.metric).score
    answers = np.load(data / "target.npy", allow_pickle=False).reshape(-1, 1)
    oof = np.load(work / "output" / "oof.npy", allow_pickle=False)
    assert oof.shape == answers.shape and oof.dtype.kind == "U"
    sample = np.full_like(answers, "3 1 0 0 1 1")
    assert score(answers, oof) > score(answers, sample) + 0.3
    truth = pd.read_csv(rectangles.spec.task_dir.parent / "answers.csv", keep_default_na=False)
    test = np.load(work / "output" / "test.npy", allow_pickle=False)
    y = truth[["PredictionString"]].to_numpy().astype(str)
    assert test.shape == y.shape
    assert score(y, test) > score(y, np.full_like(y, "3 1 0 0 1 1")) + 0.3
    assert (work / "output" / "model.pkl").is_file()


def test_boxes_placed_per_picture_beat_typical_boxes_where_they_move(
    tmp_path: Path, script_executor: Executor
) -> None:
    ctx = task_context(rectangles_task(tmp_path / "moving" / "task", n_train=120, n_test=10, moves=0.2))
    score = get_metric(ctx.spec.metric).score
    found = {}
    for place in (True, False):
        work, data = _attempt(ctx, tmp_path / str(place), script_executor, 0, place)
        answers = np.load(data / "target.npy", allow_pickle=False).reshape(-1, 1)
        found[place] = score(answers, np.load(work / "output" / "oof.npy", allow_pickle=False))
    assert found[True] > found[False] + 0.1


def test_boxes_are_placed_only_where_the_features_tell_where_they_lie() -> None:
    rng = np.random.default_rng(0)
    corner = rng.uniform(0, 0.6, (60, 2))
    shares = np.hstack([corner, corner + 0.3])
    centre = np.array([0.3, 0.3, 0.6, 0.6])
    assert boxes.placing_helps(np.hstack([corner, rng.normal(size=(60, 3))]), shares, centre)
    assert not boxes.placing_helps(rng.normal(size=(60, 5)), shares, centre)
    assert boxes.overlaps(shares[:2], shares[:2]) == pytest.approx([1.0, 1.0])
    assert boxes.overlaps(np.array([[0, 0, 1, 1.0]]), np.array([[0.5, 0, 1.5, 1]])) == pytest.approx([1 / 3])
