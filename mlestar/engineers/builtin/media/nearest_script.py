"""A text answer per row, learned from the rows' files: the nearest training rows' answers.

For answers no model card writes (an identifier string, a sequence of gesture numbers, boxes or
labelled points per page) the script describes every row by the media kit's features of its files
(pictures, sounds, numeric files; any other file by its bytes) and by the table's own columns,
standardises them, keeps their principal components, and answers each row with the answer of the
nearest training row, or with the medoid of its K nearest rows' answers (the one with the least
edit distance to the others). Which of the two, how many neighbours and how many components is
decided by out-of-fold scores: the two candidates are screened, the refinements change one
setting each (nearest_plans.py). Rows with nothing to compare them by get the medoid of all
training answers.

The engineer checks first that another row's answer is an answer the metric scores, and how the
metric reads one (as it is, or "label x y w h" boxes as their centres): the training answers
scored against themselves decide.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from mlestar import contract, syntax
from mlestar.blocks import BlockError, block_names, get_block
from mlestar.contract import BLOCK_MARKER
from mlestar.engineers.base import Candidate
from mlestar.engineers.builtin.media import render
from mlestar.engineers.builtin.media.kit import nearest
from mlestar.engineers.builtin.media.options import MEDIA_KINDS
from mlestar.engineers.builtin.media.outputs import saved_outputs
from mlestar.engineers.builtin.media.source import defined_names, snippet
from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.engineers.builtin.pysrc import literal
from mlestar.metrics import get_metric

MODELS = {
    "nearest_row": ("The answer of the nearest training row.", 1, "nearest"),
    "nearest_medoid": (
        "The medoid of the five nearest training rows' answers (the answer with the least edit "
        "distance to the other four).",
        5,
        "medoid",
    ),
    "answer_medoid": (
        "The medoid of all training answers, the same for every row: what the rows' features add is "
        "measured against it.",
        1,
        "overall",
    ),
}
BLOCKS = ("load", "files", "features", "model", "train", "predict", "main")
BLOCKS_WITHOUT_FILES = tuple(b for b in BLOCKS if b != "files")
HEADER_NAMES = frozenset({"INPUT", "OUTPUT", "SEED", "THREADS", "SAVE_MODEL", "UNIT", "SPELLING"})
"""Names the header defines (never copied from the kit)."""
OPENING = "# Nearest answers: the rows' features standardised, then the answers of the nearest training rows."
CHECKED_ANSWERS = 40
"""Training answers the engineer scores against each other to see how the metric reads them."""


def is_nearest_task(profile: ProfileView, baseline: str) -> bool:
    """A text answer per row (one column), scored as text, keyed by an id, whose documented
    baseline is the most frequent training answer ("popular"): whole answers, not pieces or
    rewritings of the row's own text (baseline "copy:<column>"), nor regions where nothing found
    is the baseline ("empty", "sample")."""
    if profile.problem_type != "text" or profile.n_outputs != 1 or not profile.id_column:
        return False
    if baseline != "popular":
        return False
    try:
        metric = get_metric(profile.metric)
    except Exception:
        return False
    return metric.needs == "text" or metric.text_fn is not None


def has_inputs(profile: ProfileView) -> bool:
    """Whether rows have anything to be compared by: files of their own or table columns."""
    return bool(render.media_entries(row_files_profile(profile)) or _columns(profile))


def candidates(profile: ProfileView) -> list[Candidate]:
    """Nearest rows (alone, then the medoid of five), then the one answer for all rows; only the
    last where rows have nothing to be compared by."""
    names = list(MODELS) if has_inputs(profile) else ["answer_medoid"]
    return [
        Candidate(name, MODELS[name][0], f"K = {MODELS[name][1]}\nANSWER = {MODELS[name][2]!r}", "builtin")
        for name in names
    ]


def _columns(profile: ProfileView) -> list[str]:
    return [c for c in profile.features if c != profile.id_column]


# ---------------------------------------------------------------- how answers are read


def spelling_for(metric_name: str, data_dir: Path) -> str | None:
    """How a training answer is written as a prediction ("as_is" or "centres"), read off the
    run's training answers: the spelling under which answers scored against themselves do best.
    None when no spelling of another row's answer is a valid prediction (answers that must reorder
    the row's own items, say): then this script cannot answer. Without the run's answers, as is."""
    path = Path(data_dir) / contract.TARGET_FILE
    if not path.is_file():
        return "as_is"
    raw = np.load(path, allow_pickle=False)
    if raw.dtype.kind not in "US":
        return None
    answers = [str(a) for a in raw.reshape(len(raw), -1)[:, 0] if str(a).strip()][:CHECKED_ANSWERS]
    if len(answers) < 2:
        return "as_is"
    metric = get_metric(metric_name)
    truth = np.asarray(answers, dtype=str).reshape(-1, 1)
    others = np.roll(truth, 1, axis=0)  # each row answered with another row's answer
    found: dict[str, float] = {}
    for spelling in ("as_is", "centres", "confident"):
        try:
            self_score = metric.score(truth, _spelled(truth, spelling))
            metric.score(truth, _spelled(others, spelling))
        except (ValueError, KeyError, IndexError, TypeError, ZeroDivisionError):
            continue
        found[spelling] = -self_score if metric.lower_is_better else self_score
    if not found:
        return None
    return max(found, key=lambda s: (found[s], s == "as_is"))


def _spelled(values: np.ndarray, spelling: str) -> np.ndarray:
    return np.asarray([[nearest.spelled(str(v), spelling)] for v in values[:, 0]], dtype=str)


def unit_for(profile: ProfileView, data_dir: Path) -> str:
    """Edits of characters for answers written as one word (identifiers), else of tokens."""
    path = Path(data_dir) / contract.TARGET_FILE
    if not path.is_file():
        return "tokens"
    raw = np.load(path, allow_pickle=False)
    texts = [str(a) for a in raw.reshape(len(raw), -1)[:, 0][:500] if str(a).strip()]
    one_word = sum(len(t.split()) == 1 for t in texts)
    return "characters" if texts and one_word >= 0.8 * len(texts) else "tokens"


# ---------------------------------------------------------------- the script


def row_files_profile(profile: ProfileView) -> ProfileView:
    """The profile with per-row files the kit cannot decode (lidar sweeps, unknown formats) read
    as bytes (the kit's "volume" kind): every row file is compared."""
    files = []
    for entry in profile.files:
        if entry.get("kind") not in MEDIA_KINDS and entry.get("per") is None:
            entry = {**entry, "kind": "volume"}
        files.append(entry)
    return ProfileView({**profile.profile, "files": files})


def script(profile: ProfileView, name: str, seed: int, spelling: str = "as_is", unit: str = "tokens") -> str:
    """The whole nearest-answer script for one of MODELS."""
    summary, k, answer = MODELS[name]
    seen = row_files_profile(profile)
    has_files = render.applies(seen)
    files = (
        (render.render_media_files(seen, render.default_options(seen)).strip() + "\n") if has_files else ""
    )
    defined = defined_names(files) if files else frozenset()
    code = snippet(_ROOTS, HEADER_NAMES | defined)
    imported = {line for line in files.splitlines() if line.startswith(("import ", "from "))}
    new_imports = tuple(line for line in code.imports if line not in imported)
    columns = _columns(profile)
    blocks = {
        "load": _LOAD,
        **({"files": files} if has_files else {}),
        "features": _features(new_imports, code.code, columns, has_files),
        "model": model_block(k, answer, 32),
        "train": _TRAIN,
        "predict": _PREDICT,
        "main": _MAIN,
    }
    parts = [_header(name, summary, seed, spelling, unit)]
    parts += [f"{BLOCK_MARKER}{b}\n{text}" for b, text in blocks.items()]
    return "\n\n".join(part.rstrip("\n") + "\n" for part in parts)


_ROOTS = ("TableColumns", "medoid", "overall_medoid", "spelled")


def _features(imports: tuple[str, ...], code: str, columns: list[str], has_files: bool) -> str:
    files = "file_features(frame, split).to_numpy(dtype=np.float32), " if has_files else ""
    what = (
        "the files' features, then the table's columns as numbers"
        if has_files
        else "the table's columns as numbers"
    )
    body = f'''COLUMNS = {literal(columns)}
"""The table's own columns compared beside the files."""


{code.strip()}


def row_features(frame: pd.DataFrame, split: str, columns: TableColumns) -> np.ndarray:
    """(rows, features): {what}."""
    return np.hstack([{files}columns.table(frame).to_numpy(dtype=np.float32)])
'''
    return "\n\n\n".join(p for p in (render.import_lines(imports), body) if p).strip() + "\n"


def model_block(k: int, answer: str, components: int) -> str:
    return f'''{OPENING}
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

K = {k}
"""Nearest training rows looked at for each row."""
ANSWER = {literal(answer)}
""""nearest": the nearest row's answer; "medoid": of the K nearest rows' answers, the one with the
least edit distance to the others (ties to the nearer row); "overall": the medoid of all training
answers for every row."""
PCA_SIZE = {components}
"""Principal components of the standardised features the distances are measured in (0: all features)."""


def make_space(n_rows: int, n_columns: int) -> Any:
    """Missing values filled by the median, every column standardised, then its principal components."""
    steps = [SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()]
    size = min(PCA_SIZE, n_columns, n_rows - 1)
    if PCA_SIZE and size >= 1 and size < n_columns:
        steps.append(PCA(n_components=size, random_state=SEED))
    return make_pipeline(*steps)
'''


def read_model(script: str) -> dict[str, Any]:
    """K, ANSWER and PCA_SIZE as a nearest script's model block sets them."""
    values: dict[str, Any] = {}
    for node in syntax.parse(get_block(script, "model")).body:
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        target = node.targets[0]
        if isinstance(target, ast.Name) and target.id in ("K", "ANSWER", "PCA_SIZE"):
            values[target.id] = ast.literal_eval(node.value)
    return values


def is_nearest_script(script: str) -> bool:
    """Whether the script has the blocks of a nearest-answer script (with or without files)."""
    try:
        names = tuple(block_names(script))
        return names in (BLOCKS, BLOCKS_WITHOUT_FILES) and get_block(script, "model").lstrip().startswith(
            OPENING
        )
    except BlockError:
        return False


_LOAD = f'''def load_inputs() -> tuple[pd.DataFrame, pd.DataFrame, list, np.ndarray]:
    """The harness's tables (keys to the rows' files), each training row's answer, the folds."""
    train, test = pd.read_parquet(INPUT / "{contract.TRAIN_FILE}"), pd.read_parquet(INPUT / "{contract.TEST_FILE}")
    texts = np.load(INPUT / "{contract.TARGET_FILE}", allow_pickle=False).reshape(len(train), -1)[:, 0]
    return train, test, [str(t) for t in texts], np.load(INPUT / "{contract.FOLDS_FILE}")
'''

_TRAIN = '''class NearestAnswers:
    """The training rows' features in a standardised space and their answers."""

    def __init__(self, x: np.ndarray, answers: list) -> None:
        self.answers = list(answers)
        self.k = min(K if ANSWER == "medoid" else 1, len(answers))
        self.space = self.index = self.fallback = None
        if x.shape[1] and ANSWER != "overall":
            self.space = make_space(len(x), x.shape[1]).fit(x)
            self.index = NearestNeighbors(n_neighbors=self.k).fit(self.space.transform(x))
        else:
            self.fallback = overall_medoid(self.answers, UNIT)

    def answer(self, x: np.ndarray) -> list:
        """Each row's answer, spelled as the metric reads it."""
        if self.index is None:
            picked = [self.fallback] * len(x)
        else:
            _, rows = self.index.kneighbors(self.space.transform(x))
            picked = [medoid([self.answers[j] for j in near], UNIT) for near in rows]
        return [spelled(text, SPELLING) for text in picked]


def cross_fit(x: np.ndarray, answers: list, folds: np.ndarray) -> list:
    """Out-of-fold answers of every used row, each from the rows of the other folds."""
    oof = [""] * len(answers)
    for k in range(int(folds.max()) + 1):
        fit = np.flatnonzero((folds >= 0) & (folds != k))
        valid = np.flatnonzero(folds == k)
        model = NearestAnswers(x[fit], [answers[i] for i in fit])
        for i, text in zip(valid, model.answer(x[valid]), strict=True):
            oof[i] = text
        print(f"fold {k}: {len(fit)} rows to compare with, {len(valid)} answered", flush=True)
    return oof
'''

_PREDICT = '''class Predictor:
    """Rows in, answers out: each row's features, the fitted NearestAnswers."""

    def __init__(self, model: NearestAnswers, columns: TableColumns) -> None:
        self.model, self.columns = model, columns

    def predict(self, frame: pd.DataFrame, split: str = "test") -> np.ndarray:
        texts = self.model.answer(row_features(frame, split, self.columns))
        return np.asarray(texts, dtype=str).reshape(-1, 1)
'''

_SAVED_OUTPUTS = saved_outputs("np.asarray(oof, dtype=str).reshape(-1, 1)")
_MAIN = f"""def main() -> None:
    start = time.time()
    train, test, answers, folds = load_inputs()
    used = np.flatnonzero(folds >= 0)
    columns = TableColumns(train.iloc[used], COLUMNS)
    x = row_features(train.iloc[used], "train", columns)
    kept = [answers[i] for i in used]
    print(f"{{len(used)}} training rows, {{x.shape[1]}} features", flush=True)
    oof_used = cross_fit(x, kept, folds[used])
    oof = [""] * len(train)
    for i, text in zip(used, oof_used, strict=True):
        oof[i] = text
    predictor = Predictor(NearestAnswers(x, kept), columns)
{_SAVED_OUTPUTS}"""


def _header(name: str, summary: str, seed: int, spelling: str, unit: str) -> str:
    compared = (
        "Each row is described by the media kit's features of its files and by the table's own "
        "columns, standardised and reduced to principal components; rows are compared by distance "
        "in that space. "
    )
    plan = (
        f"Plan: a first solution by nearest rows ({name}). {summary} "
        + ("" if MODELS[name][2] == "overall" else compared)
        + "A row with nothing to compare it by gets the medoid of all training answers (the one "
        "with the least edit distance to the others). Test rows are answered from every used "
        "training row."
    )
    doc = "\n".join(textwrap.wrap(plan, 100))
    return f'''"""A row in, the answer of the training rows most like it out.

{doc}
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd

INPUT, OUTPUT = Path("{contract.INPUT_DIR}"), Path("{contract.OUTPUT_DIR}")
SEED = int(os.environ.get("{contract.ENV_SEED}", "{seed}"))
THREADS = int(os.environ.get("{contract.ENV_THREADS}", "1"))
SAVE_MODEL = os.environ.get("{contract.ENV_SAVE_MODEL}") == "1"
UNIT = {literal(unit)}
"""What one edit between two answers changes: "characters" or space-separated "tokens"."""
SPELLING = {literal(spelling)}
"""How a training answer is written as a prediction: "as_is"; "centres" ("label x y w h" boxes as
"label cx cy" points); "confident" (a confidence of 1 before each group of numbers ending with a
class)."""
'''
