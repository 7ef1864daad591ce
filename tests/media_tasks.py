"""Tiny media task folders in Kaggle layouts, made here (no real data): pictures keyed by id in zips,
pages to clean pixel by pixel, sound clips with a label."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile
from PIL import Image

from mlestar.engineers.base import TaskContext
from mlestar.task import load_task_tables
from mlestar.task.profile import profile_task


def task_context(folder: Path, data_dir: Path | None = None) -> TaskContext:
    """What the engineer is given for a task folder as intake reads it: seed 0, one thread, 60 s per
    script, its data where `data_dir` says (the run's data folder), else the task folder itself."""
    spec, tables = load_task_tables(folder)
    profile = profile_task(spec, tables.train, tables.test, folder)
    return TaskContext(spec, profile, 0, 1, 60.0, data_dir or folder)


def stripes_task(folder: Path, n_train: int = 160, n_test: int = 40, size: int = 16, seed: int = 0) -> Path:
    """Binary: does the picture show vertical (1) or horizontal (0) stripes, under noise and a
    random brightness. Pictures are jpgs in train.zip/train and test.zip/test, keyed by file name."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    (folder / "description.md").write_text(
        "Tell vertical stripes from horizontal ones. Submissions are scored on the area under the ROC curve."
    )
    labels = rng.integers(0, 2, n_train + n_test)
    names = [f"{rng.integers(1 << 40):x}.jpg" for _ in range(n_train + n_test)]
    for split, rows in (("train", range(n_train)), ("test", range(n_train, n_train + n_test))):
        with zipfile.ZipFile(folder / f"{split}.zip", "w") as zf:
            for i in rows:
                zf.writestr(f"{split}/{names[i]}", jpg_bytes(_stripes(bool(labels[i]), size, rng)))
    pd.DataFrame({"id": names[:n_train], "has_stripes_up": labels[:n_train]}).to_csv(
        folder / "train.csv", index=False
    )
    pd.DataFrame({"id": names[n_train:], "has_stripes_up": 0.5}).to_csv(
        folder / "sample_submission.csv", index=False
    )
    return folder


def _stripes(vertical: bool, size: int, rng: np.random.Generator) -> np.ndarray:
    width = int(rng.integers(2, 5))
    line = (np.arange(size) + rng.integers(0, 8)) // width % 2
    grey = np.tile(line, (size, 1)) if vertical else np.tile(line[:, None], (1, size))
    picture = 0.2 + 0.6 * grey * rng.uniform(0.5, 1.0) + rng.normal(0, 0.15, (size, size))
    return (np.clip(picture, 0, 1) * 255).astype(np.uint8)


def jpg_bytes(grey: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.repeat(grey[:, :, None], 3, axis=2)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def pages_task(
    folder: Path, n_train: int = 4, n_test: int = 2, shape: tuple[int, int] = (24, 30), seed: int = 0
) -> Path:
    """Image to image: dark strokes on a white page under a smooth stain and speckles; the answer is
    the clean page. One submission row per test pixel, ids "<page>_<row>_<col>" (1-based)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    (folder / "description.md").write_text(
        "Remove the stains from scanned pages. Submissions are scored on the root mean squared error "
        "between the cleaned pixel intensities and the actual ones."
    )
    for name in ("train", "train_cleaned", "test"):
        (folder / name).mkdir()
    rows = []
    for i in range(n_train + n_test):
        clean, noisy = _page(shape, rng)
        split = "train" if i < n_train else "test"
        Image.fromarray(noisy).save(folder / split / f"{i + 1}.png")
        if split == "train":
            Image.fromarray(clean).save(folder / "train_cleaned" / f"{i + 1}.png")
        else:
            r, c = np.indices(shape)
            rows += [f"{i + 1}_{a + 1}_{b + 1}" for a, b in zip(r.ravel(), c.ravel(), strict=True)]
    pd.DataFrame({"id": rows, "value": 1}).to_csv(folder / "sampleSubmission.csv", index=False)
    return folder


def _page(shape: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    clean = np.ones(shape)
    for _ in range(6):  # strokes of text
        r, c = int(rng.integers(1, shape[0] - 3)), int(rng.integers(0, shape[1] - 8))
        clean[r : r + 2, c : c + int(rng.integers(3, 8))] = 0.1
    rows, cols = np.indices(shape)
    stain = 0.35 * np.exp(
        -((rows - rng.uniform(0, shape[0])) ** 2 + (cols - rng.uniform(0, shape[1])) ** 2) / 80
    )
    noisy = np.clip(clean - stain + rng.normal(0, 0.03, shape), 0, 1)
    return (clean * 255).astype(np.uint8), (noisy * 255).astype(np.uint8)


def sounds_task(folder: Path, n_train: int = 60, n_test: int = 20, seed: int = 0) -> Path:
    """Multi-class: which of three pitches a short clip holds, under noise; wav files keyed by id."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    (folder / "description.md").write_text("Name the pitch of each clip. Submissions are scored on accuracy.")
    (folder / "clips").mkdir()
    labels = rng.choice(["low", "mid", "high"], n_train + n_test)
    pitch = {"low": 220.0, "mid": 660.0, "high": 1980.0}
    rate = 8000
    for i, label in enumerate(labels):
        t = np.arange(int(rate * rng.uniform(0.3, 0.6))) / rate
        clip = 0.3 * np.sin(2 * np.pi * pitch[str(label)] * t) + rng.normal(0, 0.1, len(t))
        soundfile.write(folder / "clips" / f"c{i}.wav", clip.astype(np.float32), rate)
    ids = [f"c{i}" for i in range(n_train + n_test)]
    pd.DataFrame({"clip": ids[:n_train], "pitch": labels[:n_train]}).to_csv(folder / "train.csv", index=False)
    pd.DataFrame({"clip": ids[n_train:], "pitch": "low"}).to_csv(
        folder / "sample_submission.csv", index=False
    )
    return folder


def tagged_pictures_task(
    folder: Path, n_train: int = 120, n_test: int = 30, size: int = 16, seed: int = 0, lists_f1: bool = False
) -> Path:
    """Multi-label per file: each picture's labels, space-separated, say what it shows: "up" for
    vertical stripes, "across" for horizontal ones (either, both or none), "bright" for a light
    background. Pictures are pngs in train_images/ and test_images/, keyed by "<id>.png".
    Scored by lwlrap (task.yaml: a ranking metric over the label columns), or with lists_f1 by
    the micro F1 the description names (over the lists the submission writes)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    scored = " Submissions are evaluated on the micro-averaged F1 score." if lists_f1 else ""
    (folder / "description.md").write_text("Tag each picture with what it shows." + scored)
    if not lists_f1:
        (folder / "task.yaml").write_text("metric: lwlrap\n")
    for split in ("train_images", "test_images"):
        (folder / split).mkdir()
    tags = []
    for i in range(n_train + n_test):
        up, across, bright = (bool(b) for b in rng.integers(0, 2, 3))
        lines = (np.arange(size) // 3 % 2).astype(float)
        picture = 0.5 * bright + 0.15 * rng.normal(size=(size, size)) + 0.2
        picture += 0.3 * np.tile(lines, (size, 1)) * up + 0.3 * np.tile(lines[:, None], (1, size)) * across
        grey = (np.clip(picture, 0, 1) * 255).astype(np.uint8)
        split = "train_images" if i < n_train else "test_images"
        Image.fromarray(grey).save(folder / split / f"p{i}.png")
        tags.append(
            " ".join(t for t, on in (("up", up), ("across", across), ("bright", bright)) if on) or "none"
        )
    ids = [f"p{i}.png" for i in range(n_train + n_test)]
    pd.DataFrame({"image": ids[:n_train], "labels": tags[:n_train]}).to_csv(folder / "train.csv", index=False)
    pd.DataFrame({"image": ids[n_train:], "labels": "none"}).to_csv(
        folder / "sample_submission.csv", index=False
    )
    return folder


def scans_task(folder: Path, n_train: int = 60, n_test: int = 20, seed: int = 0) -> Path:
    """Binary: is the scan bright? One folder per case holding a file of a scanner format the kit
    does not decode (a 128-byte preamble, "DICM", then 16-bit pixels), found as
    "<split>/<case>/series/slice-1.dcm"; brighter scans are the positive class."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    (folder / "description.md").write_text(
        "Tell bright scans. Submissions are scored on the area under the ROC curve."
    )
    labels = rng.integers(0, 2, n_train + n_test)
    ids = [f"{i:05d}" for i in range(n_train + n_test)]
    for i, case in enumerate(ids):
        split = "train" if i < n_train else "test"
        (folder / split / case / "series").mkdir(parents=True)
        level = rng.uniform(500, 1000) + 1000 * labels[i]
        pixels = np.clip(rng.normal(level, 300, 32 * 32), 0, 4095).astype("<u2")
        data = bytes(128) + b"DICM" + rng.integers(0, 256, 60, dtype=np.uint8).tobytes() + pixels.tobytes()
        (folder / split / case / "series" / "slice-1.dcm").write_bytes(data)
    pd.DataFrame({"case": ids[:n_train], "bright": labels[:n_train]}).to_csv(
        folder / "train_labels.csv", index=False
    )
    pd.DataFrame({"case": ids[n_train:], "bright": 0.5}).to_csv(folder / "sample_submission.csv", index=False)
    return folder
