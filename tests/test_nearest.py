"""Text answers by nearest rows: the kit's pieces, how the engineer reads the metric's spelling of
an answer, the script on a generated task (an identifier string that depends on the shape drawn)
beating the most frequent answer out of fold, and the refinements of its settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mlestar import contract
from mlestar.blocks import replace_block
from mlestar.engineers.base import EngineerFailure, PlanOutcome, TaskContext
from mlestar.engineers.builtin.engineer import BuiltinEngineer
from mlestar.engineers.builtin.media import nearest_plans, nearest_script
from mlestar.engineers.builtin.media.kit import nearest
from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.execution.base import Executor, Limits
from mlestar.metrics import get_metric
from mlestar.prepare import prepare_run_data
from mlestar.run_layout import RunLayout
from mlestar.task import load_task_tables
from tests.media_tasks import task_context

IDENTIFIERS = {
    "square": "InChI=1S/C4H8/c1-2-4-3-1/h1-4H2",
    "cross": "InChI=1S/C6H6/c1-2-4-6-5-3-1/h1-6H",
    "bar": "InChI=1S/CH4/h1H4",
}
"""Each shape's answer; a row's answer gets a varying tail, so no one answer is right everywhere."""


def shapes_task(
    folder: Path, n_train: int = 120, n_test: int = 30, seed: int = 0, columns: bool = False
) -> Path:
    """A picture per row showing a square, a cross or a bar (under noise and a random brightness);
    the answer is the shape's identifier with a tail ("/t1", "/t2"). Scored by the mean Levenshtein
    distance. With `columns`, the pictures are left out and the table says the shape in numbers
    (its width and height) instead."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    (folder / "description.md").write_text(
        "Write the identifier of each drawn molecule. Submissions are evaluated on the mean Levenshtein distance."
    )
    shapes = rng.choice(list(IDENTIFIERS), n_train + n_test)
    ids = [f"{rng.integers(1 << 40):010x}" for _ in range(n_train + n_test)]
    answers = [IDENTIFIERS[str(s)] + f"/t{rng.integers(1, 4)}" for s in shapes]
    if not columns:
        for split in ("train", "test"):
            (folder / split).mkdir()
        for i, shape in enumerate(shapes):
            split = "train" if i < n_train else "test"
            Image.fromarray(_picture(str(shape), rng)).save(folder / split / f"{ids[i]}.png")
    train = pd.DataFrame({"image_id": ids[:n_train], "InChI": answers[:n_train]})
    test = pd.DataFrame({"image_id": ids[n_train:]})
    if columns:
        size = {"square": (8, 8), "cross": (9, 9), "bar": (12, 3)}
        for frame, at in ((train, slice(0, n_train)), (test, slice(n_train, None))):
            frame["width"] = [size[str(s)][0] + rng.normal(0, 0.3) for s in shapes[at]]
            frame["height"] = [size[str(s)][1] + rng.normal(0, 0.3) for s in shapes[at]]
        test.to_csv(folder / "test.csv", index=False)
    train.to_csv(folder / "train_labels.csv", index=False)
    pd.DataFrame({"image_id": ids[n_train:], "InChI": "InChI=1S/H2O/h1H2"}).to_csv(
        folder / "sample_submission.csv", index=False
    )
    pd.DataFrame({"image_id": ids[n_train:], "InChI": answers[n_train:]}).to_csv(
        folder.parent / "answers.csv", index=False
    )
    return folder


def _picture(shape: str, rng: np.random.Generator, size: int = 24) -> np.ndarray:
    grey = rng.normal(0.2, 0.05, (size, size))
    x, y = (int(v) for v in rng.integers(3, 6, 2))
    if shape == "square":
        grey[y : y + 14, x : x + 14] += 0.6
    elif shape == "cross":
        grey[y + 6 : y + 9, x : x + 16] += 0.6
        grey[y : y + 16, x + 6 : x + 9] += 0.6
    else:
        grey[y + 6 : y + 10, x : x + 18] += 0.6
    grey *= rng.uniform(0.8, 1.2)
    return (np.clip(grey, 0, 1) * 255).astype(np.uint8)


def _prepared(folder: Path, root: Path) -> tuple[TaskContext, Path]:
    """The task's context over its prepared run data (the training answers the engineer reads)."""
    layout = RunLayout(root / "run")
    spec, tables = load_task_tables(folder)
    prepare_run_data(spec, tables, layout, n_folds=5, seed=0, subsample_rows=30_000)
    return task_context(folder, data_dir=layout.data), layout.data


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> tuple[TaskContext, Path]:
    root = tmp_path_factory.mktemp("shapes")
    return _prepared(shapes_task(root / "task"), root)


def _run(
    ctx: TaskContext, data: Path, script: str, work: Path, executor: Executor
) -> tuple[np.ndarray, np.ndarray]:
    (work / "input").mkdir(parents=True)
    for name in ("train.parquet", "test.parquet", "target.npy", "folds.npy", "task.json"):
        (work / "input" / name).symlink_to(data / name)
    (work / "input" / "files").symlink_to(ctx.spec.task_dir)
    (work / "solution.py").write_text(script)
    done = executor.run(work / "solution.py", work, Limits(timeout_s=300, env=(("MLESTAR_SAVE_MODEL", "1"),)))
    assert done.ok, done.stderr_tail[-2000:]
    out = work / "output"
    return np.load(out / contract.OOF_FILE, allow_pickle=False), np.load(
        out / contract.TEST_PRED_FILE, allow_pickle=False
    )


# ---------------------------------------------------------------- the kit


def test_edit_distances_and_the_medoid_of_answers() -> None:
    assert nearest.levenshtein("kitten", "sitting") == 3
    assert nearest.levenshtein(["1", "2", "3"], ["2", "3"]) == 1
    assert nearest.levenshtein([], ["a"]) == 1
    assert nearest.medoid(["1 2 3", "1 2 4", "9 9 9 9", "1 2 3 4"], "tokens") == "1 2 3"
    assert nearest.medoid(["abc", "xyz"], "characters") == "abc"  # two answers: the nearer row's
    assert nearest.medoid(["ab", "ba", "ab"], "characters") == "ab"  # ties to the earlier


def test_boxes_are_written_as_their_centres() -> None:
    assert nearest.centres("U+3042 10 20 4 6 U+304B 1 1 2 2") == "U+3042 12 23 U+304B 2 2"
    assert nearest.centres("") == ""
    with pytest.raises(ValueError, match="groups of 5"):
        nearest.centres("a 1 2 3")
    assert (
        nearest.confident("1 2 3 4 5 6 0.5 car 7 8 9 1 1 1 0 bus")
        == "1 1 2 3 4 5 6 0.5 car 1 7 8 9 1 1 1 0 bus"
    )
    with pytest.raises(ValueError, match="ending with a name"):
        nearest.confident("car 1 2")


def test_table_columns_become_numbers_learned_on_training_rows() -> None:
    frame = pd.DataFrame({"size": [1.0, 2.0, np.nan], "colour": ["red", "blue", "red"]})
    columns = nearest.TableColumns(frame, ["size", "colour"])
    table = columns.table(pd.DataFrame({"size": [3.0], "colour": ["green"]}))
    assert table.columns.tolist() == ["col_size", "col_colour_0", "col_colour_1"]
    assert table.iloc[0].tolist() == [3.0, 0.0, 0.0]  # an unseen value is none of the known ones


# ---------------------------------------------------------------- how the metric reads an answer


def _answers(folder: Path, texts: list[str]) -> Path:
    folder.mkdir(parents=True)
    np.save(folder / contract.TARGET_FILE, np.asarray(texts, dtype=str).reshape(-1, 1))
    return folder


def test_the_spelling_is_read_off_the_metric_and_the_training_answers(tmp_path: Path) -> None:
    boxes = _answers(tmp_path / "boxes", ["a 10 10 4 4 b 0 0 2 2", "a 1 1 5 5", "b 3 3 3 3 a 0 0 9 9"])
    assert nearest_script.spelling_for("point_in_box_f1", boxes) == "centres"
    words = _answers(tmp_path / "words", ["1 2 3", "4 5", "2 2"])
    assert nearest_script.spelling_for("levenshtein_rate", words) == "as_is"
    cubes = _answers(
        tmp_path / "cubes",
        ["1 2 3 2 2 2 0 car", "5 5 5 1 1 1 0.3 bus 1 1 1 1 1 1 0 car", "9 9 9 2 2 2 0 car"],
    )
    assert nearest_script.spelling_for("box3d_map", cubes) == "confident"
    orders = _answers(tmp_path / "orders", ["a b c", "d e", "f g h"])
    assert nearest_script.spelling_for("kendall_tau", orders) is None  # another row's items: no answer
    assert nearest_script.spelling_for("mean_levenshtein", tmp_path / "none") == "as_is"


# ---------------------------------------------------------------- the engineer and the script


def test_text_answers_from_pictures_get_the_nearest_script(shapes: tuple[TaskContext, Path]) -> None:
    ctx, _ = shapes
    engineer = BuiltinEngineer()
    found = engineer.retrieve(ctx, 5)
    assert [c.name for c in found] == list(nearest_script.MODELS)
    text = engineer.draft(ctx, found[0])
    assert "# %% block: files" in text and "def medoid(" in text and 'UNIT = "characters"' in text
    assert "from mlestar" not in text
    compile(text, "solution.py", "exec")
    assert nearest_script.is_nearest_script(text)
    view = ProfileView(ctx.profile)
    assert nearest_script.is_nearest_task(view, "popular")
    assert not nearest_script.is_nearest_task(view, "copy:sentence")  # a rewriting of the row's own text
    assert not nearest_script.is_nearest_task(view, "empty")  # regions: nothing found is an answer
    assert engineer.ablate(ctx, text, []) == []
    with pytest.raises(EngineerFailure, match="one rule"):
        engineer.merge(ctx, text, text, found[0])


def test_span_and_mask_tasks_keep_their_own_scripts(tmp_path: Path) -> None:
    from tests.test_builtin_tasks import make_task
    from tests.test_pixel_masks import blobs_task

    engineer = BuiltinEngineer()
    spans = engineer.retrieve(make_task(tmp_path / "spans", "spans").ctx, 5)
    masks = engineer.retrieve(task_context(blobs_task(tmp_path / "blobs" / "task")), 5)
    assert not {c.name for c in [*spans, *masks]} & set(nearest_script.MODELS)


def test_nearest_answers_beat_the_most_frequent_answer(
    shapes: tuple[TaskContext, Path], tmp_path: Path, script_executor: Executor
) -> None:
    ctx, data = shapes
    engineer = BuiltinEngineer()
    metric = get_metric(ctx.spec.metric)
    answers = np.load(data / contract.TARGET_FILE, allow_pickle=False).reshape(-1, 1)
    popular = np.full_like(answers, pd.Series(answers[:, 0]).mode().iloc[0])
    truth = pd.read_csv(ctx.spec.task_dir.parent / "answers.csv")[["InChI"]].to_numpy().astype(str)
    for candidate in engineer.retrieve(ctx, 2):
        oof, test = _run(
            ctx, data, engineer.draft(ctx, candidate), tmp_path / candidate.name, script_executor
        )
        assert oof.shape == answers.shape and oof.dtype.kind == "U" and test.shape == truth.shape
        assert metric.score(answers, oof) < metric.score(answers, popular) - 8  # lower is better
        assert metric.score(truth, test) < metric.score(truth, np.full_like(truth, popular[0, 0])) - 8
    assert (tmp_path / candidate.name / "output" / "model.pkl").is_file()


def test_without_files_the_tables_columns_are_compared(tmp_path: Path, script_executor: Executor) -> None:
    ctx, data = _prepared(shapes_task(tmp_path / "task", columns=True), tmp_path)
    engineer = BuiltinEngineer()
    script = engineer.draft(ctx, engineer.retrieve(ctx, 1)[0])
    assert "# %% block: files" not in script and '"width"' in script
    oof, _ = _run(ctx, data, script, tmp_path / "attempt", script_executor)
    answers = np.load(data / contract.TARGET_FILE, allow_pickle=False).reshape(-1, 1)
    popular = np.full_like(answers, pd.Series(answers[:, 0]).mode().iloc[0])
    metric = get_metric(ctx.spec.metric)
    assert metric.score(answers, oof) < metric.score(answers, popular) - 8


def sequences_task(folder: Path, n_train: int = 80, n_test: int = 20, seed: int = 0) -> Path:
    """Recordings nobody can read (no files at all): each answer is a gesture sequence, a variant
    of one common sequence; one odd sequence appears six times, so it is the most frequent answer."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    (folder / "description.md").write_text(
        "Write each recording's gestures. Submissions are scored on the Levenshtein distance per gesture."
    )
    (folder / "task.yaml").write_text("metric: levenshtein_rate\n")
    core = [1, 5, 9, 12, 3, 7]
    answers = []
    for _ in range(n_train + n_test):
        seq = [g if rng.random() > 0.5 else int(rng.integers(1, 21)) for g in core]
        answers.append(" ".join(str(g) for g in seq[: int(rng.integers(4, 7))]))
    answers[:6] = ["20 20"] * 6
    ids = [f"{i:05d}" for i in range(n_train + n_test)]
    pd.DataFrame({"Id": ids[:n_train], "Sequence": answers[:n_train]}).to_csv(
        folder / "training.csv", index=False
    )
    pd.DataFrame({"Id": ids[n_train:]}).to_csv(folder / "test.csv", index=False)
    pd.DataFrame({"Id": ids[n_train:], "Sequence": "1 2 3"}).to_csv(
        folder / "randomPredictions.csv", index=False
    )
    return folder


def test_rows_with_nothing_to_compare_get_the_medoid_of_all_answers(
    tmp_path: Path, script_executor: Executor
) -> None:
    ctx, data = _prepared(sequences_task(tmp_path / "task"), tmp_path)
    engineer = BuiltinEngineer()
    found = engineer.retrieve(ctx, 5)
    assert [c.name for c in found] == ["answer_medoid"]
    script = engineer.draft(ctx, found[0])
    with pytest.raises(EngineerFailure, match="every setting"):
        engineer.pick_block(ctx, script, "", [])
    oof, test = _run(ctx, data, script, tmp_path / "attempt", script_executor)
    answers = np.load(data / contract.TARGET_FILE, allow_pickle=False).reshape(-1, 1)
    folds = np.load(data / contract.FOLDS_FILE)
    assert len(set(test[:, 0])) == 1 and test[0, 0] != "20 20"
    popular = np.full_like(answers, pd.Series(answers[:, 0]).mode().iloc[0])
    metric = get_metric(ctx.spec.metric)
    used = folds >= 0
    assert metric.score(answers[used], oof[used]) < metric.score(answers[used], popular[used]) - 0.2


# ---------------------------------------------------------------- refinement


def test_refinements_change_one_setting_and_follow_what_helped(shapes: tuple[TaskContext, Path]) -> None:
    ctx, _ = shapes
    engineer = BuiltinEngineer()
    script = engineer.draft(ctx, engineer.retrieve(ctx, 1)[0])  # nearest_row
    assert engineer.refinable_blocks(ctx, script) == ["model"]
    choice = engineer.pick_block(ctx, script, "", [])
    assert choice.block == "model" and "+medoid" in choice.plan
    medoid = replace_block(script, "model", engineer.implement(ctx, script, "model", choice.plan))
    assert nearest_script.read_model(medoid) == {"K": 5, "ANSWER": "medoid", "PCA_SIZE": 32}
    helped = [PlanOutcome(choice.plan, 5.0, 9.0)]  # lower is better: the medoid helped
    after = engineer.plan_next(ctx, script, "model", helped)
    assert "+medoid +" in after
    both = replace_block(script, "model", engineer.implement(ctx, script, "model", after))
    assert nearest_script.read_model(both)["ANSWER"] == "medoid"
    assert nearest_script.read_model(both) != nearest_script.read_model(medoid)
    with pytest.raises(EngineerFailure, match="changes nothing"):
        nearest_plans.implement(script, "model", nearest_plans.plan_text(("nearest",)))
