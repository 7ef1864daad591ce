"""Tasks no model card covers (e.g. extracting a span of the input text): a valid, plain baseline.

The baseline predicts each row's whole input text (the longest text column), which scores
reasonably on span metrics such as word Jaccard. Predictions are strings, saved as object arrays
of shape (rows, 1). An LLM engineer would do much better on such tasks.
"""

from __future__ import annotations

from mlestar import contract as c
from mlestar.engineers.base import Candidate
from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.engineers.builtin.pysrc import literal

NAME = "copy_text"
_SPAN_METRICS = ("jaccard", "bleu", "rouge", "exact_match", "levenshtein", "edit_distance")


def is_span_task(profile: ProfileView) -> bool:
    targets = profile.profile.get("targets", [])
    target_is_text = any(profile.columns.get(t, {}).get("kind") == "text" for t in targets)
    return any(m in profile.metric for m in _SPAN_METRICS) or (target_is_text and bool(profile.text))


def candidate() -> Candidate:
    return Candidate(
        name=NAME,
        summary=(
            "No model card covers this task (its answers are pieces of text). Baseline: predict each "
            "row's whole input text. An LLM engineer would do much better here."
        ),
        example="def predict_text(frame):\n    return frame[SOURCE].fillna('').astype(str)",
    )


def script(profile: ProfileView, seed: int) -> str:
    texts = profile.text or profile.features[:1]
    source = max(texts, key=lambda c: profile.columns.get(c, {}).get("mean_chars", 0)) if texts else None
    return f'''"""Baseline for a task whose answers are pieces of the input text: predict the whole text.

Plan: no model card covers span extraction; copying the source text is a sensible floor for span
metrics such as word Jaccard. An LLM engineer would do much better on this task.
"""

from __future__ import annotations

import os
from pathlib import Path

import cloudpickle
import numpy as np
import pandas as pd

INPUT, OUTPUT = Path("{c.INPUT_DIR}"), Path("{c.OUTPUT_DIR}")
SAVE_MODEL = os.environ.get("{c.ENV_SAVE_MODEL}") == "1"
SOURCE = {literal(source)}
"""The text column the answers are taken from."""


# %% block: load
def load_inputs() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    train = pd.read_parquet(INPUT / "{c.TRAIN_FILE}")
    test = pd.read_parquet(INPUT / "{c.TEST_FILE}")
    return train, test, np.load(INPUT / "{c.FOLDS_FILE}")


# %% block: model
class CopyText:
    """Predicts each row's whole source text (nothing to fit)."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        text = frame[SOURCE].fillna("").astype(str) if SOURCE else pd.Series([""] * len(frame))
        return np.asarray(text, dtype=object).reshape(-1, 1)


# %% block: predict
def save_outputs(oof: np.ndarray, test_pred: np.ndarray, model: CopyText) -> None:
    OUTPUT.mkdir(exist_ok=True)
    np.save(OUTPUT / "{c.OOF_FILE}", oof, allow_pickle=True)
    np.save(OUTPUT / "{c.TEST_PRED_FILE}", test_pred, allow_pickle=True)
    if SAVE_MODEL:
        with open(OUTPUT / "{c.MODEL_FILE}", "wb") as handle:
            cloudpickle.dump(model, handle)


# %% block: main
def main() -> None:
    train, test, folds = load_inputs()
    model = CopyText()
    oof = model.predict(train)
    oof[folds < 0] = None
    save_outputs(oof, model.predict(test), model)


if __name__ == "__main__":
    main()
'''
