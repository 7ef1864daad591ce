"""Rebuild the bundled example task from scikit-learn's own copy of the breast-cancer data.

    python examples/make_examples.py

Writes examples/breast-cancer/ laid out as Kaggle hands a task out. The files are committed, so
this only needs running if the layout changes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

DESCRIPTION = """# Breast cancer diagnosis

Predict whether a breast mass is malignant from measurements of cell nuclei in a digitised image
of a fine-needle aspirate.

## Evaluation

Submissions are evaluated on area under the ROC curve between the predicted probability and the
observed target.

## Submission file

For each `id` in the test set, predict the probability that the mass is malignant (`malignant`).
The file should contain a header and have the following format:

    id,malignant
    1001,0.5
"""


def main() -> None:
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.rename(columns=lambda c: c.replace(" ", "_"))
    frame["malignant"] = (data.target == 0).astype(int)
    frame = frame.drop(columns=["target"])
    frame.insert(0, "id", np.arange(1000, 1000 + len(frame)))
    train, test = train_test_split(frame, test_size=0.25, random_state=0, stratify=frame["malignant"])
    out = Path(__file__).parent / "breast-cancer"
    out.mkdir(exist_ok=True)
    (out / "description.md").write_text(DESCRIPTION)
    train.to_csv(out / "train.csv", index=False)
    test.drop(columns=["malignant"]).to_csv(out / "test.csv", index=False)
    sample = test[["id"]].assign(malignant=0.5)
    sample.to_csv(out / "sample_submission.csv", index=False)


if __name__ == "__main__":
    main()
