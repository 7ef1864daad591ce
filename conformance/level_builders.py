"""Replicas of two-level detection layouts: a study-level table (one-hot findings per study) and an
image-level table (boxes per image), answered in one file whose ids carry the level ("<study>_study",
"<image>_image"). All values are made up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

FINDINGS = ("Negative for Pneumonia", "Typical Appearance", "Indeterminate Appearance", "Atypical Appearance")
SPELLED = ("negative", "typical", "indeterminate", "atypical")
PLACES = ((0.15, 0.2, 0.45, 0.7), (0.55, 0.2, 0.85, 0.7))
"""Where opacities lie, as shares of the picture's side: the left and the right lung."""


def study_images(entry: dict[str, Any], public: Path, rng: np.random.Generator) -> pd.DataFrame:
    """train_study_level.csv [id, four one-hot findings], train_image_level.csv [id, boxes, label,
    StudyInstanceUID], scans at {split}/<study>/<series>/<image>.dcm (bytes whose spread follows the
    study's finding, so a model reading bytes can tell findings apart), a sample answering every
    study "negative 1 0 0 1 1" and every image "none 1 0 0 1 1"."""
    n_train, n_test = entry.get("rows", (60, 20))
    studies, images, truth = [], [], []
    for s in range(n_train + n_test):
        split = "train" if s < n_train else "test"
        study, series = _hex(rng), _hex(rng)
        finding = int(rng.choice(4, p=[0.3, 0.4, 0.2, 0.1]))
        studies.append({"id": f"{study}_study", **{f: int(k == finding) for k, f in enumerate(FINDINGS)}})
        truth.append((split, f"{study}_study", f"{SPELLED[finding]} 1 0 0 1 1"))
        for _ in range(int(rng.choice([1, 1, 2]))):
            image, side = _hex(rng), int(rng.choice([512, 768, 1024]))
            found = [p for p in PLACES if finding and rng.random() < 0.7]
            boxes = [(np.array(p) + rng.normal(0, 0.02, 4)) * side for p in found]
            label = " ".join(f"opacity 1 {x1:.1f} {y1:.1f} {x2:.1f} {y2:.1f}" for x1, y1, x2, y2 in boxes)
            cells = [{"x": x1, "y": y1, "width": x2 - x1, "height": y2 - y1} for x1, y1, x2, y2 in boxes]
            images.append({
                "id": f"{image}_image", "boxes": str([{k: round(float(v), 2) for k, v in c.items()} for c in cells])
                if cells else np.nan, "label": label or "none 1 0 0 1 1", "StudyInstanceUID": study, "split": split,
            })  # fmt: skip
            truth.append((split, f"{image}_image", label or "none 1 0 0 1 1"))
            path = public / split / study / series / f"{image}.dcm"
            path.parent.mkdir(parents=True, exist_ok=True)
            spread = 255 - 50 * finding
            path.write_bytes(b"DICM" + rng.integers(0, spread, 2048).astype(np.uint8).tobytes())
    train_studies = pd.DataFrame(studies[:n_train])
    train_studies.to_csv(public / "train_study_level.csv", index=False)
    frame = pd.DataFrame(images)
    frame[frame.pop("split").eq("train")].to_csv(public / "train_image_level.csv", index=False)
    answers = pd.DataFrame(
        [(i, a) for split, i, a in truth if split == "test"], columns=["id", "PredictionString"]
    )
    nothing = answers["id"].str.endswith("_study").map({True: "negative 1 0 0 1 1", False: "none 1 0 0 1 1"})
    answers.assign(PredictionString=nothing).to_csv(public / "sample_submission.csv", index=False)
    return answers


def _hex(rng: np.random.Generator) -> str:
    return f"{rng.integers(1 << 47):012x}"
