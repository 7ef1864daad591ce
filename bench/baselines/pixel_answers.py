"""The two answers any model of a per-pixel cleaning task must beat, as submissions to grade.

    python pixel_answers.py PUBLIC --out DIR --answer mean|input

`mean`: every pixel is the mean intensity of all the training targets (the constant prior);
`input`: every pixel is the test picture's own pixel (the input copied unchanged). The layout is
read as the baselines read it (pixel_features.py). Needs numpy, pandas and Pillow only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pixel_features as pf
from task_tables import _one_csv


def target_mean(layout: pf.PixelLayout) -> float:
    """The mean over every pixel of every training target (not a sample)."""
    total, count = 0.0, 0
    for data in layout.target.read_all(sorted(layout.target.names)):
        target = pf.grey(data)
        total, count = total + float(target.sum(dtype=np.float64)), count + target.size
    return total / count


def answers(public: Path, answer: str) -> pd.DataFrame:
    """The sample submission filled with the chosen answer."""
    path = _one_csv(public, "sample", "submission")
    assert path is not None
    sample = pd.read_csv(path)
    id_column, value = str(sample.columns[0]), str(sample.columns[1])
    pixels = pf.split_ids(sample[id_column])
    layout = pf.find_layout(public, pixels) if pixels is not None else None
    if layout is None or pixels is None:
        raise ValueError(f"expected ids <image>_<row>_<col> over picture folders in {public}, found none")
    if answer == "mean":
        sample[value] = target_mean(layout)
    else:
        sample[value] = pf.prediction_rows(layout, pixels)["pixel"].to_numpy()
    return sample


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("public", type=Path, help="the task's public folder")
    p.add_argument("--out", type=Path, required=True, help="folder for submission.csv")
    p.add_argument("--answer", choices=("mean", "input"), required=True)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    answers(args.public, args.answer).to_csv(args.out / "submission.csv", index=False)


if __name__ == "__main__":
    main()
