"""The baselines' per-pixel rows for image-to-image tasks, on tiny pictures made here.

No AutoML runs and nothing from ../shared/bench: the folders, pictures and ids are fabricated.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench" / "baselines")]

import pixel_answers as pa  # noqa: E402
import pixel_features as pf  # noqa: E402
import task_tables as tt  # noqa: E402

HEIGHT, WIDTH = 5, 6


def _save(folder: Path, name: str, pixels: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8), mode="L").save(folder / f"{name}.png")


def _pixel_task(tmp_path: Path, inputs: str = "train", targets: str = "train_cleaned") -> Path:
    """Three noisy training pages with clean twins, two test pages, ids 1-based in row-major order."""
    rng = np.random.default_rng(3)
    public = tmp_path / "public"
    for name in ("1", "2", "7"):
        clean = np.where(rng.random((HEIGHT, WIDTH)) < 0.2, 20, 250)
        _save(public / targets, name, clean)
        _save(public / inputs, name, np.clip(clean * 0.8 + rng.integers(0, 30, clean.shape), 0, 255))
    ids = []
    for name in ("3", "10"):
        _save(public / "test", name, rng.integers(0, 200, (HEIGHT, WIDTH)))
        ids += [f"{name}_{r}_{c}" for r in range(1, HEIGHT + 1) for c in range(1, WIDTH + 1)]
    pd.DataFrame({"id": ids, "value": 1}).to_csv(public / "sampleSubmission.csv", index=False)
    return public


def _pairs(inputs: Iterable[float], targets: Iterable[float]) -> set[tuple[float, float]]:
    return {(round(float(a), 5), round(float(b), 5)) for a, b in zip(inputs, targets, strict=True)}


def test_split_ids_reads_image_row_col_and_refuses_other_ids():
    ids = pd.Series(["a_b_3_14", "a_b_3_15", "7_1_2", "7_10_1", "a_b_12_1"])
    parts = pf.split_ids(ids, chunk=2)  # chunks of two: the pieces must join up
    assert parts is not None
    assert parts["image"].astype(str).tolist() == ["a_b", "a_b", "7", "7", "a_b"]
    assert parts["row"].tolist() == [3, 3, 1, 10, 12] and parts["col"].tolist() == [14, 15, 2, 1, 1]
    assert sorted(parts["image"].cat.categories) == ["7", "a_b"]
    assert pf.split_ids(pd.Series(["0001", "0002"])) is None
    assert pf.split_ids(pd.Series(["img_3", "img_4"])) is None
    assert pf.split_ids(pd.Series(["a_1_2", "b_x_2"]), chunk=1) is None  # past the checked head


def test_pixel_features_are_the_neighbourhood_statistics():
    image = np.random.default_rng(0).random((7, 8)).astype(np.float32)
    features = pf.pixel_features(image)
    assert features.shape == (7, 8, len(pf.FEATURE_NAMES))
    named = dict(zip(pf.FEATURE_NAMES, np.moveaxis(features, -1, 0), strict=True))
    r, c = 3, 4
    for k in pf.WINDOWS:
        window = image[r - k // 2 : r + k // 2 + 1, c - k // 2 : c + k // 2 + 1]
        assert named[f"mean{k}"][r, c] == pytest.approx(window.mean(), abs=1e-6)
        assert named[f"min{k}"][r, c] == window.min() and named[f"max{k}"][r, c] == window.max()
        assert named[f"std{k}"][r, c] == pytest.approx(window.std(), abs=1e-5)
    assert named["pixel"][r, c] == image[r, c]
    assert named["image_mean"][0, 0] == pytest.approx(image.mean()) == named["image_mean"][6, 7]
    assert named["min3"][0, 0] == image[:2, :2].min()  # the mirrored edge adds no new value


def test_read_task_makes_a_row_per_pixel(tmp_path):
    public = _pixel_task(tmp_path)
    tables = tt.read_task(public)
    assert (tables.features, tables.targets, tables.label, tables.id_column) == (
        pf.FEATURE_NAMES,
        ("value",),
        None,
        "id",
    )
    assert len(tables.train) == 3 * HEIGHT * WIDTH  # fewer pixels than the cap: all of them
    clean = np.asarray(Image.open(public / "train_cleaned" / "7.png"), dtype=np.float32) / 255
    noisy = np.asarray(Image.open(public / "train" / "7.png"), dtype=np.float32) / 255
    # every training row's target is the clean twin of a pixel of the same page
    page7 = tables.train.iloc[2 * HEIGHT * WIDTH :]  # pages are read in name order: 1, 2, 7
    assert _pairs(page7["pixel"], page7["value"]) <= _pairs(noisy.ravel(), clean.ravel())
    # test rows follow the ids: id 10_2_3 is page 10, row index 1, column index 2
    test10 = np.asarray(Image.open(public / "test" / "10.png"), dtype=np.float32) / 255
    row = tables.test.set_index("id").loc["10_2_3"]
    assert row["pixel"] == pytest.approx(test10[1, 2])
    assert tables.test["id"].tolist() == pd.read_csv(public / "sampleSubmission.csv")["id"].tolist()
    tt.write_submission(
        tables, {"value": np.full(len(tables.test), 0.5)}, tmp_path / "out" / "submission.csv"
    )
    assert len(pd.read_csv(tmp_path / "out" / "submission.csv")) == 2 * HEIGHT * WIDTH


def test_training_rows_spread_a_capped_sample_over_every_page(tmp_path):
    layout = pf.find_layout(_pixel_task(tmp_path), pf.split_ids(pd.Series(["3_1_1", "10_5_6"])))
    assert layout is not None and layout.base == 1
    rows = pf.training_rows(layout, "value", max_rows=12)
    assert len(rows) == 12 and rows.drop_duplicates().shape[0] == 12  # four distinct pixels a page
    assert rows.groupby("image_mean").size().tolist() == [4, 4, 4]


def test_layout_tells_inputs_from_targets_without_telling_names(tmp_path):
    """Folders `noisy` and `clean`: the inputs are the pages that look like the test pages."""
    public = _pixel_task(tmp_path, inputs="noisy", targets="clean")
    layout = pf.find_layout(public, pf.split_ids(pd.Series(["3_1_1"])))
    assert layout is not None
    assert (layout.train.container.name, layout.target.container.name, layout.test.container.name) == (
        "noisy",
        "clean",
        "test",
    )


def test_ids_without_their_pictures_are_not_a_pixel_task(tmp_path):
    public = _pixel_task(tmp_path)
    assert pf.find_layout(public, pf.split_ids(pd.Series(["99_1_1"]))) is None
    (public / "train_cleaned" / "7.png").unlink()  # no longer a pair of matching folders
    assert pf.find_layout(public, pf.split_ids(pd.Series(["3_1_1"]))) is None


def test_the_answers_to_beat_are_the_mean_target_and_the_input(tmp_path):
    public = _pixel_task(tmp_path)
    clean = [
        np.asarray(Image.open(p), dtype=np.float64) / 255 for p in (public / "train_cleaned").glob("*.png")
    ]
    mean = pa.answers(public, "mean")
    assert mean["value"].to_numpy() == pytest.approx(np.full(len(mean), np.mean(clean)))
    copied = pa.answers(public, "input").set_index("id")["value"]
    test3 = np.asarray(Image.open(public / "test" / "3.png"), dtype=np.float32) / 255
    assert copied.loc["3_5_6"] == pytest.approx(test3[4, 5]) and copied.loc["3_1_2"] == pytest.approx(
        test3[0, 1]
    )
    with pytest.raises(ValueError, match="expected ids <image>_<row>_<col>"):
        pd.DataFrame({"id": ["x"], "value": [0]}).to_csv(public / "sampleSubmission.csv", index=False)
        pa.answers(public, "mean")


def test_autogluon_fits_a_row_sample_sized_to_its_budget():
    assert tt.row_cap(100.0, per_second=250) == 25_000
    assert tt.row_cap(1.0) == tt.MIN_CAPPED_ROWS  # never fewer rows than a fit needs
    train = pd.DataFrame({"a": np.arange(1000), "value": np.arange(1000) % 7})
    capped = tt.capped_rows(train, 300, seed=1)
    assert len(capped) == 300 and capped["a"].is_unique and capped["a"].is_monotonic_increasing
    assert capped.equals(tt.capped_rows(train, 300, seed=1))  # seeded
    assert not capped.equals(tt.capped_rows(train, 300, seed=2))
    assert tt.capped_rows(train, 5000, seed=1) is train  # under the cap: every row
