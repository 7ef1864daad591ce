"""Replicas of detection layouts: one training row per box (and per reader), answered per picture
with a prediction string. All values are made up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from conformance import writers

CLASSES = {0: "Nodule", 1: "Effusion", 2: "Fibrosis"}
PLACES = {0: (0.1, 0.15, 0.35, 0.4), 1: (0.55, 0.6, 0.9, 0.9), 2: (0.3, 0.3, 0.7, 0.55)}
"""Each class's box as shares of the picture's side (jittered): typical places a model can learn."""


def box_rows(entry: dict[str, Any], public: Path, rng: np.random.Generator) -> pd.DataFrame:
    """train.csv with one row per (picture, reader, box), x_min .. y_max in pixels; a picture with
    nothing found has one row per reader of the "nothing" class and blank coordinates. Per-row
    scans (bytes) in train/ and test/; the sample answers every test picture with nothing found."""
    o = entry["options"]
    key, nothing_id, nothing_name = o["key"], o["nothing_id"], o["nothing_name"]
    n_train, n_test = o.get("rows", (120, 40))
    ids = [f"{rng.integers(1 << 47):012x}" for _ in range(n_train + n_test)]
    rows, answers = [], []
    for i, picture in enumerate(ids):
        side = int(rng.choice([512, 768, 1024]))
        found = sorted(rng.choice(len(CLASSES), int(rng.choice([0, 1, 1, 2])), replace=False).tolist())
        boxes = [(c, *(np.array(PLACES[c]) + rng.normal(0, 0.02, 4)) * side) for c in found]
        answers.append(" ".join(f"{c} 1 {x1:.1f} {y1:.1f} {x2:.1f} {y2:.1f}" for c, x1, y1, x2, y2 in boxes))
        if i < n_train:
            rows += _reader_rows(picture, boxes or [(nothing_id, *[np.nan] * 4)], nothing_name, rng)
    columns = [key, "class_name", "class_id", "rad_id", "x_min", "y_min", "x_max", "y_max"]
    writers.write_table(pd.DataFrame(rows, columns=columns), public, {"file": "train.csv"})
    for split, part in (("train", ids[:n_train]), ("test", ids[n_train:])):
        writers.write_files(public, [f"{split}/{p}.dicom" for p in part], "bin", rng, {})
    nothing = f"{nothing_id} 1 0 0 1 1"
    truth = pd.DataFrame({key: ids[n_train:], "PredictionString": [a or nothing for a in answers[n_train:]]})
    writers.write_table(truth.assign(PredictionString=nothing), public, {"file": "sample_submission.csv"})
    return truth


def _reader_rows(
    picture: str, boxes: list[tuple[Any, ...]], nothing_name: str, rng: np.random.Generator
) -> list[tuple[Any, ...]]:
    """Three readers' rows for one picture, each drawing every box a few pixels apart."""
    rows = []
    for reader in [f"R{r}" for r in rng.choice(np.arange(1, 9), 3, replace=False)]:
        for c, *corners in boxes:
            drawn = (round(v + rng.normal(0, 3), 1) for v in corners)
            rows.append((picture, CLASSES.get(int(c), nothing_name), int(c), reader, *drawn))
    return rows
