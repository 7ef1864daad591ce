"""The files block for media tasks: the kit code it carries, its constants read back, and the block
itself run on tiny task folders (pictures in a zip, sounds, numeric files, per-pixel pictures)."""

from __future__ import annotations

import ast
import io
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import soundfile
from PIL import Image

from mlestar.engineers.builtin.media import render
from mlestar.engineers.builtin.media.options import MediaOptions, read_options
from mlestar.engineers.builtin.media.source import merged_imports, snippet
from mlestar.engineers.builtin.profile_view import ProfileView


def test_snippet_carries_what_the_roots_use_and_nothing_provided() -> None:
    code = snippet(("image_table",), frozenset({"IMAGE_SIZE", "ID_COLUMN", "THREADS", "FILES"}))
    tree = ast.parse(code.code)
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}
    assert {"image_table", "read_images", "load_image", "cached_groups", "FileReader"} <= defined
    assert "audio_features" not in defined and "pixel_grid" not in defined  # nothing the images do not use
    assigned = {
        t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)
    }
    assert "IMAGE_SIZE" not in assigned and "ARCHIVES" in assigned
    assert "from skimage.feature import hog, local_binary_pattern" in code.imports
    assert not any("numpy" in line or "pandas" in line or "from ." in line for line in code.imports)
    with pytest.raises(KeyError, match="no 'nothing_here'"):
        snippet(("nothing_here",))


def test_imports_are_merged_and_ordered() -> None:
    lines = ["from b import y", "import zipfile", "from b import x", "from PIL import Image", "import io"]
    assert merged_imports(lines) == (
        "import io",
        "import zipfile",
        "from PIL import Image",
        "from b import x, y",
    )


def profile(files: list[dict[str, Any]], **media: Any) -> ProfileView:
    return ProfileView({"id_column": "id", "files": files, "media": media, "problem_type": "binary"})


def test_options_written_into_the_block_are_read_back() -> None:
    view = profile([{"train": "train.zip/{id}", "test": "test.zip/{id}", "kind": "image"}])
    options = MediaOptions(image_size=64, image_groups=("colour", "hog"), pca_components=0)
    block = render.render_media_files(view, options)
    assert render.is_media_block(block)
    assert read_options(block).image_size == 64 and read_options(block).image_groups == ("colour", "hog")
    assert read_options(block).pca_components == 0
    assert "N_MELS" not in block and "PIXEL_WINDOWS" not in block  # only the kinds the task has


def test_defaults_follow_the_pictures_seen() -> None:
    assert (
        render.default_options(profile([], image={"width": 32, "height": 32, "channels": 3})).image_size == 32
    )
    large = render.default_options(profile([], image={"width": 640, "height": 480, "channels": 1}))
    assert large.image_size == 64 and large.pixel_colour is False


def jpg(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def run_block(block: str, folder: Path, split_frames: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """Execute a files block the way a script does (after the header), in folder, on each split."""
    namespace: dict[str, Any] = {"np": np, "pd": pd, "Path": Path, "Any": Any, "INPUT": Path("input")}
    namespace.update(THREADS=1, SEED=0)
    here = os.getcwd()
    os.chdir(folder)
    try:
        exec(compile("from __future__ import annotations\n" + block, "files_block", "exec"), namespace)
        return {split: namespace["file_features"](frame, split) for split, frame in split_frames.items()} | {
            "namespace": namespace
        }
    finally:
        os.chdir(here)


def attempt_folder(tmp_path: Path, task: Path, cache: bool) -> Path:
    work = tmp_path / "attempt"
    (work / "input").mkdir(parents=True)
    (work / "input" / "files").symlink_to(task)
    if cache:
        (work / "input" / "cache").mkdir()
    return work


def test_image_block_reads_pictures_from_a_zip(tmp_path: Path) -> None:
    task = tmp_path / "task"
    task.mkdir()
    rng = np.random.default_rng(0)
    names = [f"{i:03d}.jpg" for i in range(40)]
    with zipfile.ZipFile(task / "train.zip", "w") as zf:
        for i, name in enumerate(names[:30]):
            zf.writestr(f"train/{name}", jpg((rng.random((32, 32, 3)) * 255 * (i % 2)).astype(np.uint8)))
    (task / "test").mkdir()
    for name in names[30:]:
        (task / "test" / name).write_bytes(jpg(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)))
    entry = {"train": "train.zip/train/{id}", "test": "test/{id}", "kind": "image"}
    block = render.render_media_files(
        profile([entry], image={"width": 32, "height": 32}), MediaOptions(pca_components=8)
    )
    train = pd.DataFrame({"id": [*names[:29], "missing.jpg"]})
    test = pd.DataFrame({"id": names[30:]})
    work = attempt_folder(tmp_path, task, cache=True)
    out = run_block(block, work, {"train": train, "test": test})
    assert out["train"].shape == (30, 4 + 46 + 8 + 324 + 50) and list(out["train"].columns) == list(
        out["test"].columns
    )
    assert out["train"].iloc[:29].notna().all().all() and out["train"].iloc[29].isna().all()
    dark = out["train"]["file0_colour_0"].iloc[:29:2]  # even pictures are black
    assert (dark == 0).all() and (out["train"]["file0_colour_0"].iloc[1:29:2] > 0.3).all()
    assert len(list((work / "cache").glob("image-*.npy"))) == 2 * 5  # five groups, two splits
    pca = out["namespace"]["FITTED"]["pixels"]
    assert pca.n_components_ == 8  # fitted once, on the training pictures


def test_audio_and_signal_blocks(tmp_path: Path) -> None:
    task = tmp_path / "task"
    (task / "clips").mkdir(parents=True)
    (task / "readings").mkdir()
    rate = 8000
    for i in range(6):
        t = np.arange(rate // 2) / rate
        soundfile.write(task / "clips" / f"{i}.flac", 0.3 * np.sin(2 * np.pi * (200 + 300 * i) * t), rate)
        pd.DataFrame({"a": np.arange(10) * i, "b": np.ones(10)}).to_csv(
            task / "readings" / f"{i}.csv", index=False
        )
    entries = [
        {"train": "clips/{id}.flac", "test": "clips/{id}.flac", "kind": "audio"},
        {"train": "readings/{id}.csv", "test": "readings/{id}.csv", "kind": "signal"},
    ]
    block = render.render_media_files(profile(entries), MediaOptions(n_mels=16, n_mfcc=8))
    assert "N_MELS = 16" in block and "IMAGE_SIZE" not in block
    out = run_block(
        block, attempt_folder(tmp_path, task, cache=False), {"train": pd.DataFrame({"id": range(6)})}
    )
    table = out["train"]
    assert table.filter(like="file0_").shape[1] == 5 * 16 + 2 * 8 + 2 * 12 + 3
    assert table["file0_audio_0"].notna().all()
    assert table["file1_c0_max"].tolist() == [9.0 * i for i in range(6)]


def test_pixel_block_gives_one_row_per_pixel(tmp_path: Path) -> None:
    task = tmp_path / "task"
    (task / "noisy").mkdir(parents=True)
    pages = {"p1": np.full((6, 5), 200, np.uint8), "p2": np.full((4, 4), 50, np.uint8)}
    for name, page in pages.items():
        Image.fromarray(page).save(task / "noisy" / f"{name}.png")
    entry = {
        "train": "noisy/{id}.png",
        "test": "noisy/{id}.png",
        "kind": "image",
        "per": "pixel",
        "key": "image",
    }
    entry |= {"row": "row", "col": "col"}
    block = render.render_media_files(profile([entry]), MediaOptions(pixel_windows=(3,)))
    frame = pd.DataFrame({"image": ["p2", "p1", "p1"], "row": [4, 1, 6], "col": [4, 1, 5]})
    out = run_block(block, attempt_folder(tmp_path, task, cache=False), {"test": frame})["test"]
    assert out.shape == (3, 1 + 8 + 4 + 3 + 1 + 3)
    assert out["file0_px0"].tolist() == pytest.approx([50 / 255, 200 / 255, 200 / 255], abs=1e-6)


def test_a_few_broken_files_are_missing_values_and_many_stop_the_script(tmp_path: Path) -> None:
    task = tmp_path / "task"
    (task / "pics").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(4):
        (task / "pics" / f"{i}.jpg").write_bytes(jpg(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)))
    (task / "pics" / "4.jpg").write_bytes(b"not a picture")
    entry = {"train": "pics/{id}.jpg", "test": "pics/{id}.jpg", "kind": "image"}
    block = render.render_media_files(profile([entry]), MediaOptions(pca_components=2))
    out = run_block(
        block, attempt_folder(tmp_path, task, cache=False), {"train": pd.DataFrame({"id": range(5)})}
    )
    assert out["train"].iloc[:4].notna().all().all() and out["train"].iloc[4].isna().all()
    for i in range(1, 4):
        (task / "pics" / f"{i}.jpg").write_bytes(b"broken too")
    with pytest.raises(ValueError, match="most files could not be decoded"):
        run_block(block, tmp_path / "attempt", {"train": pd.DataFrame({"id": range(5)})})
