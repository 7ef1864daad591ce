"""Feature extraction of many small pictures: the media kit's image features on 10,000 generated
32x32 JPEGs in a zip (the layout of a small-image task), cold and from the run's cache, on one and
on two threads. Prints a table; nothing is asserted.

    python bench/bench_media.py [--images 10000] [--size 32] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from mlestar.engineers.builtin.media.kit import images, rowfiles, tables


def make_pictures(folder: Path, n: int, size: int, seed: int = 0) -> list[str]:
    """n noisy pictures of blobs, saved as JPEGs in folder/train.zip under train/."""
    rng = np.random.default_rng(seed)
    names = [f"{i:06d}.jpg" for i in range(n)]
    rows, cols = np.indices((size, size))
    with zipfile.ZipFile(folder / "train.zip", "w") as zf:
        for name in names:
            cy, cx = rng.uniform(0, size, 2)
            blob = np.exp(-((rows - cy) ** 2 + (cols - cx) ** 2) / rng.uniform(10, 60))
            rgb = np.clip(
                blob[:, :, None] * rng.uniform(0, 1, 3) + rng.normal(0.3, 0.08, (size, size, 3)), 0, 1
            )
            buffer = io.BytesIO()
            Image.fromarray((rgb * 255).astype(np.uint8)).save(buffer, format="JPEG", quality=90)
            zf.writestr(f"train/{name}", buffer.getvalue())
    return names


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(work: Callable[[], Any]) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = work()
    return time.perf_counter() - wall, cpu_seconds() - cpu, result


def extract(
    folder: Path, frame: pd.DataFrame, threads: int, groups: tuple[str, ...], size: int
) -> pd.DataFrame:
    """The files block's image table, as a script runs it (the kit's module state set like its constants)."""
    tables.FILES, tables.THREADS, tables.IMAGE_SIZE, tables.IMAGE_GROUPS = folder, threads, size, groups
    tables.ROW_FILES = [{"train": "train.zip/train/{id}", "test": "train.zip/train/{id}", "kind": "image"}]
    tables.FITTED.clear()
    return tables.image_table(tables.ROW_FILES[0], frame, "train")


def per_group(folder: Path, names: list[str], size: int, sample: int = 1000) -> list[tuple[str, float]]:
    """CPU milliseconds per picture of decoding and of each feature group, on a sample."""
    with rowfiles.FileReader(folder) as reader:
        datas = [reader.read(f"train.zip/train/{n}") for n in names[:sample]]
    rows: list[tuple[str, float]] = []
    _, cpu, loaded = timed(lambda: [images.load_image(d or b"", ".jpg", size) for d in datas])
    rows.append(("read + decode + resize", 1000 * cpu / len(datas)))
    settings = {"pixel_size": 16, "pixel_colour": True}
    for group in ("shape", "colour", "pixels", "hog", "lbp"):
        _, cpu, _ = timed(
            lambda g=group: [images.image_groups(rgb, shape, settings, [g]) for rgb, shape in loaded]
        )
        rows.append((group, 1000 * cpu / len(datas)))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench_media")
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    groups = ("shape", "colour", "pixels", "hog", "lbp")
    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
        folder = Path(tmp)
        names = make_pictures(folder, args.images, args.size)
        frame = pd.DataFrame({"id": names})
        print(f"{args.images} pictures of {args.size}x{args.size} (JPEG, in a zip); {os.cpu_count()} cores; "
              f"load average {os.getloadavg()[0]:.1f}\n")  # fmt: skip
        print("| run | threads | wall s | CPU s | ms per picture (wall) | columns |")
        print("|---|---|---|---|---|---|")
        here = os.getcwd()
        os.chdir(folder)
        try:
            for threads in args.threads:
                wall, cpu, table = timed(lambda t=threads: extract(folder, frame, t, groups, args.size))
                print(f"| cold (no cache) | {threads} | {wall:.1f} | {cpu:.1f} | {1000 * wall / len(names):.2f} | {table.shape[1]} |")  # fmt: skip
            (folder / "input" / "cache").mkdir(parents=True)
            extract(folder, frame, 1, groups, args.size)  # computes and stores in ./cache
            for stored in (folder / "cache").iterdir():
                stored.rename(
                    folder / "input" / "cache" / stored.name
                )  # what the harness does between attempts
            wall, cpu, table = timed(lambda: extract(folder, frame, 1, groups, args.size))
            print(f"| warm (run cache) | 1 | {wall:.1f} | {cpu:.1f} | {1000 * wall / len(names):.2f} | {table.shape[1]} |")  # fmt: skip
        finally:
            os.chdir(here)
        print("\n| step | CPU ms per picture |\n|---|---|")
        for step, ms in per_group(folder, names, args.size):
            print(f"| {step} | {ms:.3f} |")


if __name__ == "__main__":
    main()
