"""Masks kept as per-row 0/1 array files beside per-row band arrays: intake makes them the answer
column (run-length text), the arrays become the rows' pictures, and the mask script learns them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlestar.engineers.builtin.media.kit import masks
from mlestar.execution.base import Executor
from mlestar.metrics import get_metric
from mlestar.task import load_task_tables
from tests.media_attempts import run_draft
from tests.media_tasks import task_context

SIDE = 16


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.save(buf, array)
    path.write_bytes(buf.getvalue())


def records_task(folder: Path, n_train: int = 40, n_test: int = 12, mask_values: int = 1) -> Path:
    """Per-record folders: band arrays (height, width, time steps) where marked pixels are cooler,
    and for training records a (height, width, 1) mask of 0/1 (times mask_values) and a
    per-annotator stack; a metadata table keys the training records; the sample spells "-"."""
    rng = np.random.default_rng(0)
    ids = [3000 + 11 * i for i in range(n_train + n_test)]
    truth = []
    for i, record in enumerate(ids):
        split = "train" if i < n_train else "test"
        mask = np.zeros((SIDE, SIDE), dtype=bool)
        if i % 3:
            r, c = rng.integers(1, SIDE - 5, 2)
            mask[r : r + 4, c : c + 4] = True
        bands = 280 + rng.normal(0, 2, (SIDE, SIDE, 3)) - 10 * mask[:, :, None]
        _save(folder / split / str(record) / "band_08.npy", bands.astype(np.float32))
        if split == "train":
            _save(
                folder / split / str(record) / "human_pixel_masks.npy",
                (mask[:, :, None] * mask_values).astype(np.int32),
            )
            _save(
                folder / split / str(record) / "human_individual_masks.npy",
                np.stack([mask, mask], -1)[:, :, None],
            )
        else:
            truth.append(masks.encode_runs(mask, "F"))
    (folder / "train_metadata.json").write_text(json.dumps([{"record_id": str(r)} for r in ids[:n_train]]))
    pd.DataFrame({"record_id": ids[n_train:], "encoded_pixels": "-"}).to_csv(
        folder / "sample_submission.csv", index=False
    )
    (folder / "description.md").write_text("Mark the cool pixels. Scored by the global Dice coefficient.")
    pd.DataFrame({"record_id": ids[n_train:], "encoded_pixels": truth}).to_csv(
        folder.parent / "answers.csv", index=False
    )
    return folder


def test_mask_files_become_the_answers_and_the_bands_the_pictures(tmp_path: Path) -> None:
    spec, tables = load_task_tables(records_task(tmp_path / "task"))
    assert spec.train_target_columns == ("encoded_pixels",) and spec.solver == "engineers"
    assert spec.row_files == (
        {"train": "train/{id}/band_08.npy", "test": "test/{id}/band_08.npy", "kind": "image"},
    )
    first = np.load(tmp_path / "task" / "train" / "3000" / "human_pixel_masks.npy")[:, :, 0].astype(bool)
    texts = tables.train["encoded_pixels"]
    assert (
        texts.iloc[0] == masks.encode_runs(first, "F") and (texts == "").sum() == 14
    )  # every third is empty
    assert any("human_pixel_masks.npy" in note for note in spec.built_from.values())


def test_a_row_without_its_mask_file_is_dropped_not_answered_empty(tmp_path: Path) -> None:
    task = records_task(tmp_path / "task")
    (task / "train" / "3011" / "human_pixel_masks.npy").unlink()
    spec, tables = load_task_tables(task)
    assert len(tables.train) == 39 and "3011" not in set(tables.train["record_id"].astype(str))
    assert any("1 rows without one dropped" in note for note in spec.built_from.values())


def test_arrays_that_are_not_0_1_masks_are_no_answers(tmp_path: Path) -> None:
    spec, tables = load_task_tables(records_task(tmp_path / "task", mask_values=255))
    assert "encoded_pixels" not in tables.train.columns and spec.solver == "baseline"


def test_a_band_array_is_read_as_a_grey_picture() -> None:
    buf = io.BytesIO()
    bands = np.stack([np.arange(20, dtype=np.float32).reshape(4, 5) * 10 + 200] * 3, axis=-1)
    np.save(buf, bands)
    grey = masks.grey_picture(buf.getvalue(), "test/7/band_08.npy")
    assert grey.shape == (4, 5) and grey.min() == 0.0 and grey.max() == 1.0
    assert np.all(np.diff(grey.ravel()) >= 0)  # the order of the values is kept
    with pytest.raises(ValueError, match="2 or 3 axes"):
        np.save(buf := io.BytesIO(), np.zeros(4))
        masks.grey_picture(buf.getvalue(), "x.npy")


@pytest.mark.slow  # a whole mask script, five folds of LightGBM: 15 to 35 s on the shared machine
def test_masks_learned_from_mask_files_beat_the_empty_answer(
    tmp_path: Path, script_executor: Executor
) -> None:
    ctx = task_context(records_task(tmp_path / "task"))
    work, _ = run_draft(ctx, tmp_path, script_executor)
    score = get_metric("global_dice").score
    truth = pd.read_csv(tmp_path / "answers.csv", keep_default_na=False)
    y = truth[["encoded_pixels"]].to_numpy().astype(str)
    test = np.load(work / "output" / "test.npy", allow_pickle=False)
    assert test.shape == y.shape
    assert score(y, test) > score(y, np.full_like(y, "")) + 0.5
