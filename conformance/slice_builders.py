"""Replicas of segmentation layouts keyed by a slice and a class together: one row per (slice, organ),
a run-length mask each (blank: the organ is not on that slice), the slices as pictures in nested
case/day folders whose names carry the key's parts. All values are made up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SIDE = 32
ORGANS = {  # each organ's place (row, column of its centre as shares), half side, brightness
    "large_bowel": ((0.3, 0.25), 4, 150),
    "small_bowel": ((0.6, 0.55), 5, 200),
    "stomach": ((0.3, 0.75), 4, 250),
}
CASES, SLICES, TEST_CASES = 8, 5, 2


def slice_classes(entry: dict[str, Any], public: Path, rng: np.random.Generator) -> pd.DataFrame:
    """train.csv [id, class, segmentation], test.csv [id, class] (rows match by order); each slice a
    16-bit grey PNG in {split}/case{c}/case{c}_day1/scans/slice_{s}_{side}_{side}_1.50_1.50.png showing
    each of its organs as a bright square at the organ's place, its mask numbered down the columns
    from 1. The sample answers every row with one short run."""
    rows = []
    for case in range(1, CASES + 1):
        split = "test" if case > CASES - TEST_CASES else "train"
        for sl in range(1, SLICES + 1):
            picture = rng.normal(40, 12, (SIDE, SIDE))
            for organ, ((row, col), half, bright) in ORGANS.items():
                mask = np.zeros((SIDE, SIDE), bool)
                if rng.random() < 0.6:
                    r, c = (np.array([row, col]) * SIDE + rng.integers(-2, 3, 2)).astype(int)
                    mask[r - half : r + half, c - half : c + half] = True
                    picture[mask] = rng.normal(bright, 8, int(mask.sum()))
                key = f"case{case}_day1_slice_{sl:04d}"
                rows.append({"id": key, "class": organ, "segmentation": _runs(mask), "split": split})
            name = f"{split}/case{case}/case{case}_day1/scans/slice_{sl:04d}_{SIDE}_{SIDE}_1.50_1.50.png"
            _png(public / name, np.clip(picture, 0, 255))
    frame = pd.DataFrame(rows)
    is_test = frame.pop("split").eq("test")
    frame[~is_test].to_csv(public / "train.csv", index=False)
    frame[is_test][["id", "class"]].to_csv(public / "test.csv", index=False)
    answers = frame[is_test].rename(columns={"segmentation": "predicted"}).reset_index(drop=True)
    answers.assign(predicted="1 1 5 2").to_csv(public / "sample_submission.csv", index=False)
    return answers


def _runs(mask: np.ndarray) -> str:
    """Run-length text, pixels numbered down the columns from 1; blank for no pixel."""
    flat = np.concatenate([[0], mask.ravel(order="F").astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(flat))
    return " ".join(
        f"{start + 1} {stop - start}" for start, stop in zip(edges[::2], edges[1::2], strict=True)
    )


def _png(path: Path, pixels: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((pixels * 60).astype(np.uint16)).save(path)  # 16-bit, as MRI slices are
