"""Records kept as folders of numeric arrays: bands of a picture over a few time steps per record,
and for training records the human masks (one combined, one per annotator) as 0/1 arrays; the
submission wants one run-length mask per test record. The marked pixels are cooler lines, so a
model can find them."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SIDE, STEPS = 24, 4
BANDS = ("band_08", "band_11")


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.save(buf, array)
    path.write_bytes(buf.getvalue())


def _mask(rng: np.random.Generator) -> np.ndarray:
    """A straight line or two across the picture, or nothing (a third of the records)."""
    mask = np.zeros((SIDE, SIDE), dtype=bool)
    for _ in range(int(rng.integers(0, 3))):
        row, slope = rng.integers(2, SIDE - 2), rng.uniform(-0.6, 0.6)
        for col in range(SIDE):
            r = int(round(row + slope * (col - SIDE / 2)))
            if 0 <= r < SIDE - 1:
                mask[r : r + 2, col] = True
    return mask


def runs(mask: np.ndarray) -> str:
    """Run-length text, pixels numbered down each column from 1; "-" for no pixel."""
    flat = np.concatenate([[0], mask.ravel(order="F").astype(np.int8), [0]])
    edges = np.diff(flat)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return " ".join(f"{s + 1} {e - s}" for s, e in zip(starts, ends, strict=True)) or "-"


def records(entry: dict[str, Any], public: Path, rng: np.random.Generator) -> pd.DataFrame:
    n_train, n_test = 48, 12
    ids = [int(1_000_000 + 97 * i) for i in range(n_train + n_test)]
    truth = []
    for i, record in enumerate(ids):
        split = "train" if i < n_train else "test"
        mask = _mask(rng)
        for band in BANDS:
            base = 260 + rng.normal(0, 3, (SIDE, SIDE, STEPS))
            _save(
                public / split / str(record) / f"{band}.npy",
                (base - 12 * mask[:, :, None]).astype(np.float32),
            )
        if split == "train":
            _save(public / split / str(record) / "human_pixel_masks.npy", mask[:, :, None].astype(np.int32))
            both = np.stack([mask, mask & (rng.random(mask.shape) < 0.8)], axis=-1)[:, :, None, :]
            _save(public / split / str(record) / "human_individual_masks.npy", both.astype(np.int32))
        else:
            truth.append(runs(mask))
    metadata = [{"record_id": str(r), "timestamp": 1.6e9 + 600 * i} for i, r in enumerate(ids[:n_train])]
    (public / "train_metadata.json").write_text(json.dumps(metadata))
    test_ids = ids[n_train:]
    pd.DataFrame({"record_id": test_ids, "encoded_pixels": "-"}).to_csv(
        public / "sample_submission.csv", index=False
    )
    return pd.DataFrame({"record_id": test_ids, "encoded_pixels": truth})
