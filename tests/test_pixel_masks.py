"""Run-length masks per picture: the kit's pieces, how the engineer picks the mask script, and a
generated task (bright blobs on a noisy ground) where the learned masks beat the empty answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mlestar.engineers.base import EngineerFailure, EnsembleMember, TaskContext
from mlestar.engineers.builtin.engineer import BuiltinEngineer
from mlestar.engineers.builtin.media import mask_script
from mlestar.engineers.builtin.media.kit import masks
from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.execution.base import Executor
from mlestar.metrics import get_metric
from mlestar.metrics.rle import rle_decode, rle_encode
from mlestar.task import load_task_tables
from tests.media_attempts import run_draft
from tests.media_tasks import task_context

DESCRIPTION = (
    "Mark the bright blobs. Submissions are evaluated on the mean average precision at different "
    "intersection over union (IoU) thresholds. Masks are run-length encoded: pairs of start and "
    "length, pixels numbered from top to bottom, then left to right, starting at 1."
)


def blobs_task(
    folder: Path, n_train: int = 60, n_test: int = 20, size: int = 24, order: str = "F", seed: int = 0
) -> Path:
    """Pictures with zero to two bright discs under noise; the answer is the discs' mask as
    run-length text (blank: no disc), numbered in `order`. Laid out as train.csv, train/images,
    test/images and a sample submission spelling every answer "1 1"."""
    rng = np.random.default_rng(seed)
    ids = [f"{rng.integers(1 << 40):010x}" for _ in range(n_train + n_test)]
    answers = []
    for split, rows in (("train", range(n_train)), ("test", range(n_train, n_train + n_test))):
        (folder / split / "images").mkdir(parents=True)
        for i in rows:
            grey, mask = _blobs(size, rng)
            Image.fromarray(grey).save(folder / split / "images" / f"{ids[i]}.png")
            answers.append(masks.encode_runs(mask, order))
    (folder / "description.md").write_text(DESCRIPTION)
    pd.DataFrame({"id": ids[:n_train], "rle_mask": answers[:n_train]}).to_csv(
        folder / "train.csv", index=False
    )
    pd.DataFrame({"id": ids[n_train:], "rle_mask": "1 1"}).to_csv(
        folder / "sample_submission.csv", index=False
    )
    pd.DataFrame({"id": ids[n_train:], "rle_mask": answers[n_train:]}).to_csv(
        folder.parent / "answers.csv", index=False
    )
    return folder


def _blobs(size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.mgrid[:size, :size]
    mask = np.zeros((size, size), dtype=bool)
    for _ in range(int(rng.choice([0, 1, 1, 2]))):
        # Discs stay in the top half: where a mask lies depends on the numbering being right.
        r, c, radius = rng.integers(3, size // 2), rng.integers(3, size - 3), rng.integers(2, 5)
        mask |= (rows - r) ** 2 + (cols - c) ** 2 <= radius**2
    picture = 0.3 + 0.35 * mask + rng.normal(0, 0.12, (size, size))
    return (np.clip(picture, 0, 1) * 255).astype(np.uint8), mask


@pytest.fixture(scope="module")
def blobs(tmp_path_factory: pytest.TempPathFactory) -> TaskContext:
    return task_context(blobs_task(tmp_path_factory.mktemp("blobs") / "task"))


# ---------------------------------------------------------------- the kit


@pytest.mark.parametrize("order", ["F", "C"])
def test_runs_decode_and_encode_as_the_metrics_read_them(order: str) -> None:
    mask = np.random.default_rng(1).random((7, 5)) > 0.6
    text = masks.encode_runs(mask, order)
    assert text == rle_encode(mask, order)  # type: ignore[arg-type]
    assert np.array_equal(masks.decode_runs(text, (7, 5), order), rle_decode(text, (7, 5), order))  # type: ignore[arg-type]
    assert np.array_equal(masks.decode_runs(text, (7, 5), order), mask)
    assert (
        masks.encode_runs(np.zeros((3, 3), bool), order) == ""
        and not masks.decode_runs("", (3, 3), order).any()
    )


def test_runs_past_the_picture_are_cut_unless_most_masks_do_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert masks.decode_runs("10 8", (4, 4), "F").sum() == 7  # pixels 10..16 of 16
    with pytest.raises(ValueError, match="pairs"):
        masks.decode_runs("1 2 3", (4, 4), "F")
    masks.check_fit(["1 3", "10 8", "", "2 2"], [16, 16, 16, 16])
    assert "1 of 3 masks run past" in capsys.readouterr().out
    with pytest.raises(ValueError, match="2 of 3 running past the last pixel"):
        masks.check_fit(["1 3", "10 8", "15 4"], [16, 16, 16])


def test_small_components_are_removed_and_large_ones_kept() -> None:
    probability = np.zeros((20, 20), dtype=np.float32)
    probability[2:8, 2:8] = 0.9  # 36 pixels
    probability[15, 15] = 0.9  # one stray pixel
    kept = masks.cleaned(probability, 0.5, 0.01)  # smallest part: 4 pixels
    assert kept[2:8, 2:8].all() and not kept[15, 15] and int(kept.sum()) == 36
    assert int(masks.cleaned(probability, 0.5, 0.0).sum()) == 37


def test_picture_scores_agree_with_the_metric() -> None:
    rng = np.random.default_rng(2)
    truths = [rng.random((6, 6)) > 0.5 for _ in range(4)] + [np.zeros((6, 6), bool)]
    preds = [t ^ (rng.random((6, 6)) > 0.85) for t in truths[:4]] + [np.zeros((6, 6), bool)]
    ours = np.mean([masks.mask_score(t, p, "iou_map") for t, p in zip(truths, preds, strict=True)])
    y = np.array([[rle_encode(t)] for t in truths])
    p = np.array([[rle_encode(q)] for q in preds])
    assert ours == pytest.approx(get_metric("mask_iou_map").score(y, p))
    dice = np.mean([masks.mask_score(t, q, "dice") for t, q in zip(truths, preds, strict=True)])
    assert dice == pytest.approx(get_metric("mean_dice").score(y, p))


def test_the_cut_off_is_tuned_and_predicting_nothing_is_one_choice() -> None:
    truth = np.zeros((10, 10), bool)
    truth[2:6, 2:6] = True
    probability = np.where(truth, 0.6, 0.3).astype(np.float32)
    threshold, _, score = masks.tuned_cut([probability], [truth], "iou_map")
    assert 0.3 < threshold <= 0.6 and score == 1.0
    empty = np.zeros((10, 10), bool)
    threshold, share, score = masks.tuned_cut([probability], [empty], "iou_map")
    assert score == 1.0 and not masks.cleaned(probability, threshold, share).any()  # the empty answer
    threshold, share, score = masks.tuned_cut([np.full((10, 10), 0.9, np.float32)], [empty], "iou_map")
    assert threshold > 1 and score == 1.0  # nothing is there, whatever the model says


class _Brightness:
    """A stand-in model: the probability of being inside is the pixel's own value."""

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return np.stack([1 - x[:, 0], x[:, 0]], axis=1)


@pytest.mark.parametrize(("shrink", "stride"), [(1, 1), (1, 2), (3, 1), (2, 3)])
def test_large_pictures_are_predicted_small_and_answered_full_size(shrink: int, stride: int) -> None:
    grey = np.zeros((23, 17), dtype=np.float32)
    grey[:, :6] = 1.0  # a bright band on the left, six columns wide
    found = masks.coarse_probabilities(_Brightness(), [grey, grey.T], stride, shrink, lambda g: g[:, :, None])
    assert [f.shape for f in found] == [(23, 17), (17, 23)]
    band = found[0] >= 0.5
    assert band[:, 0].all() and not band[:, 12:].any()  # right where the picture is, near its edge
    assert abs(int(band.sum()) - 6 * 23) <= 23 * shrink * stride
    assert masks.shrunk(grey, 3).shape == (8, 6) and masks.shrunk(grey, 1) is grey


@pytest.mark.parametrize("order", ["F", "C"])
def test_the_pixel_numbering_is_read_off_the_pictures(order: str) -> None:
    rng = np.random.default_rng(3)
    pairs = [_blobs(20, rng) for _ in range(12)]
    greys = [grey.astype(np.float32) / 255 for grey, _ in pairs]
    texts = [masks.encode_runs(mask, order) for _, mask in pairs]
    assert masks.pixel_order(greys, texts, (3, 7)) == order


# ---------------------------------------------------------------- intake and the engineer


def test_blank_masks_are_answers_and_the_pictures_not_their_masks(tmp_path: Path) -> None:
    folder = blobs_task(tmp_path / "task", n_train=30, n_test=5)
    (folder / "train" / "masks").mkdir()
    for path in (folder / "train" / "images").iterdir():  # masks as pictures beside the pictures
        (folder / "train" / "masks" / path.name).write_bytes(path.read_bytes())
    spec, tables = load_task_tables(folder)
    assert spec.dropped_rows == 0 and len(tables.train) == 30
    assert (tables.train["rle_mask"].fillna("") == "").any()
    assert spec.row_files[0]["train"] == "train/images/{id}.png"


def test_mask_tasks_get_the_mask_script(blobs: TaskContext) -> None:
    profile = ProfileView(blobs.profile)
    assert mask_script.is_mask_task(profile)
    engineer = BuiltinEngineer()
    found = engineer.retrieve(blobs, 5)
    assert [c.name for c in found] == list(mask_script.MODELS)
    text = engineer.draft(blobs, found[0])
    assert "# %% block: files" in text and "def decode_runs(" in text and "LGBMClassifier(" in text
    assert "from mlestar" not in text and 'METRIC = "iou_map"' in text
    compile(text, "solution.py", "exec")
    assert text.count("from scipy import ndimage") == 1 and text.count("def pixel_grid(") == 1  # copied once
    with pytest.raises(EngineerFailure, match="cannot be averaged"):  # text answers: no ensembles
        engineer.plan_ensemble(blobs, [EnsembleMember("a", "", 0.5), EnsembleMember("b", "", 0.4)], [])


def test_learned_masks_beat_the_empty_answer(
    blobs: TaskContext, tmp_path: Path, script_executor: Executor
) -> None:
    work, data = run_draft(blobs, tmp_path, script_executor)
    score = get_metric("mask_iou_map").score
    answers = np.load(data / "target.npy", allow_pickle=False).reshape(-1, 1)
    oof = np.load(work / "output" / "oof.npy", allow_pickle=False)
    assert oof.shape == answers.shape and oof.dtype.kind == "U"
    empty = np.full_like(answers, "")
    assert score(answers, oof) > score(answers, empty) + 0.2
    truth = pd.read_csv(blobs.spec.task_dir.parent / "answers.csv", keep_default_na=False)
    test = np.load(work / "output" / "test.npy", allow_pickle=False)
    assert test.shape == (len(truth), 1)
    y = truth[["rle_mask"]].to_numpy().astype(str)
    assert score(y, test) > score(y, np.full_like(y, "")) + 0.2
    assert (work / "output" / "model.pkl").is_file()
