"""Span extraction: tasks whose answers are pieces of a row's text (a text problem, see intake).

Two candidates. "span_words" learns from the training spans: a model scores every word of the text
(is it part of the answer?) from its position and shape and from how often the same word, in the
same context, belongs to the answers of the rows it is fitted on; the answer is the contiguous run of
words that scores best. "copy_text" predicts the whole text: the fallback, and a floor the learned
one must beat. Neither is read back as a recipe: the refinement roles leave them as they are.
"""

from __future__ import annotations

from mlestar import contract as c
from mlestar.engineers.base import Candidate
from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.engineers.builtin.pysrc import literal
from mlestar.engineers.builtin.span_script import WORDS_SCRIPT

LEARNED, COPY = "span_words", "copy_text"
NAMES = (LEARNED, COPY)


def is_span_task(profile: ProfileView) -> bool:
    """Text answers that are pieces of one input text column (a data fact: see data_facts)."""
    return profile.problem_type == "text" and bool(profile.profile.get("span_source"))


def candidates() -> list[Candidate]:
    return [
        Candidate(
            LEARNED,
            "Span extraction learned from the training spans: a boosted-tree model scores each word of the "
            "text (position, shape, how often the word belongs to answers in the same context), and the "
            "best contiguous run of words is the answer.",
            family="span",
        ),
        Candidate(
            COPY,
            "Baseline for answers that are pieces of the input text: predict the whole text (a floor for "
            "span metrics such as word Jaccard).",
            family="span_copy",
        ),
    ]


def script(name: str, profile: ProfileView, title: str, seed: int) -> str:
    source = str(profile.profile["span_source"])
    contexts = [str(x) for x in profile.profile.get("span_contexts", [])]
    head = _header(title, source, contexts, seed, learned=name == LEARNED)
    return head + (WORDS_SCRIPT if name == LEARNED else _COPY)


def _header(title: str, source: str, contexts: list[str], seed: int, learned: bool) -> str:
    what = (
        "Span extraction: each answer is a piece of the row's text. A model scores every word (is it part of\n"
        "the answer?) and the best contiguous run of words is the answer; with no word above the threshold\n"
        "the whole text is."
        if learned
        else "Baseline: each answer is a piece of the row's text, and this script predicts the whole text."
    )
    learned_only = (
        f'SEED = int(os.environ.get("{c.ENV_SEED}", "{seed}"))\n'
        f'THREADS = int(os.environ.get("{c.ENV_THREADS}", "1"))\n'
        f"CONTEXT = {literal(contexts)}\n"
        '"""Columns with a few values that say which piece is wanted (a sentiment, a question type)."""\n'
        if learned
        else ""
    )
    imports = "import re\nimport time\n" if learned else ""
    third_party = "import cloudpickle\nimport numpy as np\nimport pandas as pd\n"
    return f'''"""{title}

{what}
Written by mlestar's built-in engineer; each named block opens with what it does.
"""

from __future__ import annotations

import os
{imports}from pathlib import Path

{third_party}
INPUT, OUTPUT = Path("{c.INPUT_DIR}"), Path("{c.OUTPUT_DIR}")
SAVE_MODEL = os.environ.get("{c.ENV_SAVE_MODEL}") == "1"
{learned_only}SOURCE = {literal(source)}
"""The text column the answers are taken from."""


# %% block: load
def load_inputs() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    """The harness's tables, the answers (text, one per row) and the folds (-1: a row left out)."""
    train, test = pd.read_parquet(INPUT / "{c.TRAIN_FILE}"), pd.read_parquet(INPUT / "{c.TEST_FILE}")
    answers = np.load(INPUT / "{c.TARGET_FILE}").reshape(len(train), -1)[:, 0]
    return train, test, answers, np.load(INPUT / "{c.FOLDS_FILE}")


def texts_of(frame: pd.DataFrame) -> list[str]:
    return frame[SOURCE].fillna("").astype(str).tolist()


def as_answers(values: list[str]) -> np.ndarray:
    """Text answers as the harness reads them: a unicode array of shape (rows, 1)."""
    return np.asarray(values, dtype=str).reshape(-1, 1)


'''


_COPY = f'''# %% block: model
class CopyText:
    """Predicts each row's whole source text (nothing to fit)."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return as_answers(texts_of(frame))


# %% block: predict
def save_outputs(oof: np.ndarray, test_pred: np.ndarray, model: CopyText) -> None:
    OUTPUT.mkdir(exist_ok=True)
    np.save(OUTPUT / "{c.OOF_FILE}", oof)
    np.save(OUTPUT / "{c.TEST_PRED_FILE}", test_pred)
    if SAVE_MODEL:
        with open(OUTPUT / "{c.MODEL_FILE}", "wb") as handle:
            cloudpickle.dump(model, handle)


# %% block: main
def main() -> None:
    train, test, answers, folds = load_inputs()
    model = CopyText()
    oof = model.predict(train)
    oof[folds < 0] = ""
    save_outputs(oof, model.predict(test), model)


if __name__ == "__main__":
    main()
'''
