"""The media kit: the script-side code that reads per-row files (pictures, sounds, numeric files,
per-pixel pictures) and turns them into numbers. Tiny files made here; no task data."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
import tifffile
from PIL import Image

from mlestar.engineers.builtin.media.kit import arrays, audio, images, pixels, rowfiles
from mlestar.search import feature_cache


def png_bytes(array: np.ndarray, suffix: str = ".png") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG" if suffix == ".jpg" else "PNG")
    return buffer.getvalue()


def stripes(vertical: bool, size: int = 32) -> np.ndarray:
    """Black and white stripes four pixels wide, as an 8-bit RGB picture."""
    line = (np.arange(size) // 4 % 2 * 255).astype(np.uint8)
    grey = np.tile(line, (size, 1)) if vertical else np.tile(line[:, None], (1, size))
    return np.repeat(grey[:, :, None], 3, axis=2)


@pytest.fixture
def task_folder(tmp_path: Path) -> Path:
    """Pictures as plain files, in a zip (inside a folder) and in a tar.gz."""
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "a.png").write_bytes(png_bytes(stripes(True)))
    with zipfile.ZipFile(tmp_path / "test.zip", "w") as zf:
        zf.writestr("test/b.png", png_bytes(stripes(False)))
    with tarfile.open(tmp_path / "more.tar.gz", "w:gz") as tf:
        data = png_bytes(stripes(True))
        info = tarfile.TarInfo("pics/c.png")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return tmp_path


@pytest.mark.parametrize(
    ("relative", "split"),
    [
        ("train/1.jpg", ("", "train/1.jpg")),
        ("train.zip/1.jpg", ("train.zip", "1.jpg")),
        ("train.zip/train/1.jpg", ("train.zip", "train/1.jpg")),
        ("data/images.tar.gz/x/2.png", ("data/images.tar.gz", "x/2.png")),
        ("folder.zip", ("", "folder.zip")),
    ],
)
def test_archive_split_finds_the_archive_on_the_way(relative: str, split: tuple[str, str]) -> None:
    assert rowfiles.archive_split(relative) == split


def test_file_reader_reads_plain_files_and_archive_members(task_folder: Path) -> None:
    with rowfiles.FileReader(task_folder) as reader:
        plain = reader.read("train/a.png")
        zipped = reader.read("test.zip/test/b.png")
        tarred = reader.read("more.tar.gz/pics/c.png")
        assert reader.read("test.zip/test/missing.png") is None
        assert reader.read("train/missing.png") is None
    assert plain is not None and zipped is not None and tarred is not None
    assert np.asarray(Image.open(io.BytesIO(zipped))).shape == (32, 32, 3)
    assert plain == tarred  # the same picture, stored twice


def test_file_reader_reads_members_of_a_7z_archive_and_cleans_up(tmp_path: Path) -> None:
    import py7zr

    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "d.png").write_bytes(png_bytes(stripes(False)))
    with py7zr.SevenZipFile(tmp_path / "train.7z", "w") as archive:
        archive.write(tmp_path / "pics" / "d.png", "train/d.png")
    with rowfiles.FileReader(tmp_path) as reader:
        assert reader.read("train.7z/train/d.png") == (tmp_path / "pics" / "d.png").read_bytes()
        assert reader.read("train.7z/train/missing.png") is None
        unpacked = reader.archives["train.7z"][0].root
        assert unpacked.is_dir()
    assert not unpacked.exists()  # the unpacked copy goes with the reader


def test_map_rows_keeps_the_order_on_several_threads() -> None:
    items = list(range(500))
    assert rowfiles.map_rows(lambda i: i * i, items, threads=2) == [i * i for i in items]


@pytest.mark.parametrize("threads", [1, 2])
def test_map_rows_runs_the_rows_without_blas_threads_of_their_own(threads: int) -> None:
    from threadpoolctl import threadpool_info

    def blas_threads() -> set[int]:
        return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    np.ones((4, 4)) @ np.ones(4)  # numpy's BLAS is loaded
    before = blas_threads()
    seen = rowfiles.map_rows(lambda _: blas_threads(), list(range(100)), threads)
    assert all(s == {1} for s in seen)  # per row: one BLAS thread, the pool's threads are the parallelism
    assert blas_threads() == before  # the model that follows gets the allowance back


@pytest.mark.parametrize(
    ("template", "row"),
    [
        ("train/{id}.jpg", {"id": "a1b2", "label": "cat"}),
        ("train/{label}/{id}", {"id": "x.png", "label": "dog"}),
        ("train/{id[0]}/{id}.npy", {"id": "3f2a", "label": "n"}),
        ("train/{id[:2]}/{id[1]}/{id}.npy", {"id": "b071", "label": "n"}),
        ("{label}_{id[:3]}.zip/{id}", {"id": "9988", "label": "c"}),
    ],
)
def test_the_kit_fills_templates_as_intake_writes_them(template: str, row: dict[str, str]) -> None:
    # Written twice on purpose (the kit ships standalone in scripts): the two must agree.
    from mlestar.task.kinds import fill_template

    frame = pd.DataFrame({"key": [row["id"]], "label": [row["label"]]})
    kit = rowfiles.row_paths({"train": template, "kind": "image", "key": "key"}, frame, "train", "key")
    assert kit == [fill_template(template, row)]
    one = rowfiles.PLACEHOLDER.sub(lambda m: rowfiles.cell(m, row), template)
    assert one == fill_template(template, row) and "{" not in one


def test_row_paths_fill_the_template_with_each_rows_key() -> None:
    frame = pd.DataFrame({"id": ["x.jpg", "y.jpg"], "name": ["p", "q"]})
    entry = {"train": "train.zip/train/{id}", "test": "test/{id}", "kind": "image"}
    assert rowfiles.row_paths(entry, frame, "train", "id") == [
        "train.zip/train/x.jpg",
        "train.zip/train/y.jpg",
    ]
    assert rowfiles.row_paths({**entry, "key": "name"}, frame, "test", "id") == ["test/p", "test/q"]


def test_row_paths_fill_other_columns_a_template_names() -> None:
    frame = pd.DataFrame({"id": [7, 8], "label": ["cat", "dog"], "file_name": ["a/7.jpg", "b/8.jpg"]})
    by_class = {"train": "train/{label}/{id}.jpg", "kind": "image"}
    assert rowfiles.row_paths(by_class, frame, "train", "id") == ["train/cat/7.jpg", "train/dog/8.jpg"]
    by_column = {"train": "images/{file_name}", "kind": "image"}
    assert rowfiles.row_paths(by_column, frame, "train", "id") == ["images/a/7.jpg", "images/b/8.jpg"]
    sharded = pd.DataFrame({"id": ["3f2a", "b071"]})
    by_first = {"train": "train/{id[0]}/{id}.npy", "kind": "signal"}
    assert rowfiles.row_paths(by_first, sharded, "train", "id") == ["train/3/3f2a.npy", "train/b/b071.npy"]
    by_prefix = {"train": "train/{id[:2]}/{id[1]}/{id}.npy", "kind": "signal"}
    assert rowfiles.row_paths(by_prefix, sharded, "train", "id") == [
        "train/3f/f/3f2a.npy",
        "train/b0/0/b071.npy",
    ]


def test_load_image_gives_unit_rgb_whatever_the_depth(tmp_path: Path) -> None:
    rgb, shape = images.load_image(png_bytes(stripes(True, 48)), ".png", 32)
    assert rgb.shape == (32, 32, 3) and rgb.dtype == np.float32 and rgb.min() >= 0 and rgb.max() <= 1
    assert shape == (48.0, 48.0, 3.0)
    grey, _ = images.load_image(png_bytes(np.full((20, 30), 128, np.uint8)), ".jpg", 16)
    assert grey.shape == (16, 16, 3) and abs(float(grey.mean()) - 128 / 255) < 0.02
    deep = io.BytesIO()
    tifffile.imwrite(deep, np.full((10, 12), 4095, np.uint16))  # 12-bit data in a 16-bit file
    bright, deep_shape = images.load_image(deep.getvalue(), ".tif", 8)
    assert bright.shape == (8, 8, 3) and float(bright.min()) == pytest.approx(1.0)
    assert deep_shape == (12, 10, 1)
    bands = io.BytesIO()
    tifffile.imwrite(bands, np.random.default_rng(0).random((4, 20, 20)).astype(np.float32))
    four, four_shape = images.load_image(bands.getvalue(), ".tiff", 8)
    assert four.shape == (8, 8, 3) and four_shape == (20, 20, 4)


def test_image_groups_have_fixed_sizes_and_see_what_differs() -> None:
    settings = {"pixel_size": 16, "pixel_colour": True}
    groups = ["shape", "colour", "pixels", "hog", "lbp"]
    up = images.image_groups(stripes(True).astype(np.float32) / 255, (32, 32, 3), settings, groups)
    across = images.image_groups(stripes(False).astype(np.float32) / 255, (32, 32, 3), settings, groups)
    sizes = {g: len(v) for g, v in up.items()}
    assert sizes == {"shape": 4, "colour": 46, "pixels": 768, "hog": 324, "lbp": 50}
    assert np.allclose(up["colour"], across["colour"])  # same colours ...
    assert not np.allclose(up["hog"], across["hog"])  # ... but edges that run the other way
    red = np.zeros((32, 32, 3), np.float32)
    red[:, :, 0] = 1
    colour = images.image_groups(red, (32, 32, 3), settings, ["colour"])["colour"]
    assert colour[:3].tolist() == [1.0, 0.0, 0.0]  # channel means


def test_flips_are_mirror_images() -> None:
    picture = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    same, left_right, up_down = images.flips(picture)
    assert np.array_equal(same, picture)
    assert np.array_equal(left_right[:, 0], picture[:, 1]) and np.array_equal(up_down[0], picture[1])


def tone(freq: float, rate: int = 16000, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("fmt", ["WAV", "FLAC", "AIFF"])
def test_load_audio_reads_each_format(fmt: str) -> None:
    buffer = io.BytesIO()
    soundfile.write(buffer, np.column_stack([tone(440), tone(440)]), 16000, format=fmt)
    samples, rate, length = audio.load_audio(buffer.getvalue(), max_seconds=0.5)
    assert rate == 16000 and len(samples) == 8000 and length == pytest.approx(1.0)
    assert abs(float(np.abs(samples).max()) - 0.5) < 0.01  # both channels averaged into one


def test_audio_features_locate_a_tone_and_tell_it_from_noise() -> None:
    n_mels = 40
    low = audio.audio_features(tone(300), 16000, 1.0, n_mels, 20)
    high = audio.audio_features(tone(3000), 16000, 1.0, n_mels, 20)
    noise = np.random.default_rng(0).normal(0, 0.2, 16000).astype(np.float32)
    hiss = audio.audio_features(noise, 16000, 1.0, n_mels, 20)
    assert len(low) == len(high) == len(hiss) == 5 * n_mels + 2 * 20 + 2 * 12 + 3
    assert int(np.argmax(low[:n_mels])) < int(np.argmax(high[:n_mels]))  # mean log-mel per band
    crossings = 5 * n_mels + 40 + 7  # first per-frame statistic after the seven contrast bands
    assert low[crossings] == pytest.approx(2 * 300 / 16000, rel=0.1)
    contrast = slice(5 * n_mels + 40, 5 * n_mels + 47)
    assert low[contrast].mean() > hiss[contrast].mean()
    assert low[-2:].tolist() == [1.0, 16000.0]  # length and rate


def test_very_short_clips_still_give_a_full_vector() -> None:
    short = audio.audio_features(tone(440, seconds=0.005), 16000, 0.005, 40, 20)
    assert len(short) == 5 * 40 + 40 + 24 + 3 and np.isfinite(short).all()


def test_pixel_grid_describes_ink_against_the_page() -> None:
    page = np.full((40, 50), 0.9, np.float32)
    page[18:22, 10:40] = 0.1  # a dark line of text
    grid = pixels.pixel_grid(page, (3, 7), pixels.PIXEL_FEATURES)
    assert grid.shape == (40, 50, 1 + 8 + 2 * 4 + 3 + 1 + 3)
    assert np.array_equal(grid[:, :, 0], page)
    background = grid[:, :, 1 + 8 + 8]
    assert background[20, 25] == pytest.approx(0.9, abs=0.05)  # the page behind the ink
    assert grid[20, 25, 1 + 8 + 8 + 1] < -0.7  # the ink is much darker than its background
    rows, cols = np.array([1, 20]), np.array([1, 25])
    assert pixels.pixels_at(grid, rows, cols)[:, 0].tolist() == pytest.approx([0.9, 0.1])


def test_channel_stats_summarise_each_channel() -> None:
    values = np.column_stack([np.arange(10.0), np.full(10, 3.0)])
    stats = arrays.channel_stats(values).reshape(-1)
    table = stats[:-1].reshape(arrays.MAX_CHANNELS, len(arrays.STATS))
    assert table[0, :4].tolist() == [4.5, pytest.approx(np.arange(10.0).std()), 0.0, 9.0]
    assert table[0, arrays.STATS.index("step")] == 1.0 and table[1, 0] == 3.0
    assert np.isnan(table[2:]).all() and stats[-1] == 10


def test_byte_stats_describe_files_the_kit_cannot_decode() -> None:
    rng = np.random.default_rng(0)
    dim, bright = (
        bytes(132) + rng.normal(m, 50, 4096).clip(0, 4095).astype("<u2").tobytes() for m in (300, 2000)
    )
    a, b = arrays.byte_stats(dim), arrays.byte_stats(bright)
    assert a.shape == b.shape == (arrays.BYTE_STATS,) and np.isfinite(a).all()
    assert a[0] == pytest.approx(np.log1p(len(dim)))  # the size comes first
    assert b[20] > 4 * a[20]  # the mean of the 16-bit words sees the brighter scan
    assert a[4:20].sum() == pytest.approx(1.0)  # a histogram of the bytes
    with pytest.raises(ValueError, match="empty"):
        arrays.byte_stats(b"")


def test_load_array_reads_npy_csv_and_json() -> None:
    npy = io.BytesIO()
    np.save(npy, np.ones((5, 2)))
    assert arrays.load_array(npy.getvalue(), ".npy").shape == (5, 2)
    csv = b"t,a,label\n0,1.5,x\n1,2.5,y\n"
    assert arrays.load_array(csv, ".csv").tolist() == [[0.0, 1.5], [1.0, 2.5]]
    document = json.dumps({"a": [1, 2, {"b": 3.5}], "c": "text", "d": True}).encode()
    assert arrays.load_array(document, ".json").tolist() == [1.0, 2.0, 3.5, 1.0]
    assert arrays.as_channels(np.zeros((3, 40, 50))).shape == (2000, 3)  # bands stored first


def test_features_are_computed_once_per_run_and_shared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    calls: list[list[str]] = []

    def compute(missing: list[str]) -> dict[str, np.ndarray]:
        calls.append(missing)
        return {g: np.full((2, 3), len(calls), np.float32) for g in missing}

    settings = {"hog": {"size": 32}, "lbp": {"size": 32}}
    paths = ["a.png", "b.png"]
    # Outside the harness (no ./input/cache): computed every time, nothing stored.
    rowfiles.cached_groups("image", settings, paths, compute)
    assert calls == [["hog", "lbp"]] and not Path("cache").exists()
    shared = Path("input") / "cache"
    shared.mkdir(parents=True)
    first = rowfiles.cached_groups("image", settings, paths, compute)
    assert calls[-1] == ["hog", "lbp"] and len(list(Path("cache").glob("*.npy"))) == 2
    assert feature_cache.share(Path("cache"), shared) and not list(Path("cache").iterdir())
    again = rowfiles.cached_groups("image", settings, paths, compute)
    assert len(calls) == 2 and np.array_equal(again["hog"], first["hog"])  # read back, not recomputed
    rowfiles.cached_groups("image", {**settings, "hog": {"size": 64}}, paths, compute)
    assert calls[-1] == ["hog"]  # only the group whose settings changed
    rowfiles.cached_groups("image", settings, ["a.png", "c.png"], compute)
    assert calls[-1] == ["hog", "lbp"]  # other files: other features


def test_share_moves_finished_files_only(tmp_path: Path) -> None:
    own, shared = tmp_path / "own", tmp_path / "shared"
    own.mkdir()
    np.save(own / "image-hog-1.npy", np.zeros(2))
    (own / "image-lbp-2.npy.partial").write_bytes(b"cut short")
    shared.mkdir()
    np.save(shared / "image-pixels-3.npy", np.ones(2))
    np.save(own / "image-pixels-3.npy", np.zeros(2))  # computed twice at once: the first stays
    assert feature_cache.share(own, shared) == ["image-hog-1.npy"]
    assert sorted(p.name for p in shared.iterdir()) == ["image-hog-1.npy", "image-pixels-3.npy"]
    assert np.load(shared / "image-pixels-3.npy").tolist() == [1.0, 1.0]
    assert feature_cache.share(tmp_path / "absent", shared) == []
