"""Pieces every prompt shares: the system message with the harness contract, the task brief,
the house style of a solution script, and clipping to the room each part has (room.py).

Prompts are written for mlestar (harness-owned folds and scoring, named blocks); they paraphrase
MLE-STAR's intent per role, never its text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from mlestar import blocks
from mlestar.contract import (
    BLOCK_MARKER,
    CONTRACT,
    DEVICE_CPU,
    DEVICE_CUDA,
    ENV_DEVICE,
    ENV_SAVE_MODEL,
    ENV_SEED,
    ENV_THREADS,
    FOLDS_FILE,
    INPUT_DIR,
    MODEL_FILE,
    OOF_FILE,
    OUTPUT_DIR,
    TARGET_FILE,
    TEST_FILE,
    TEST_PRED_FILE,
    TRAIN_FILE,
)
from mlestar.engineers.base import TaskContext
from mlestar.engineers.llm.prompts.room import DEFAULT_ROOM, Room
from mlestar.llm.client import Message

LIBRARIES = "numpy, pandas, scipy, scikit-learn, lightgbm, xgboost, catboost, optuna, cloudpickle"
"""What a solution may import; nothing else can be installed."""


@dataclass(frozen=True)
class RoleStyle:
    temperature: float
    max_tokens: int


ROLE_STYLE: dict[str, RoleStyle] = {
    "retrieve": RoleStyle(0.7, 4096),
    "draft": RoleStyle(0.7, 8192),
    "merge": RoleStyle(0.5, 8192),
    "check_data_usage": RoleStyle(0.2, 8192),
    "check_leakage": RoleStyle(0.0, 4096),
    "ablate": RoleStyle(0.5, 6144),
    "summarize_ablation": RoleStyle(0.0, 800),
    "pick_block": RoleStyle(0.2, 1200),
    "plan_next": RoleStyle(0.8, 800),
    "implement": RoleStyle(0.5, 6144),
    "plan_ensemble": RoleStyle(0.2, 800),
    "debug": RoleStyle(0.3, 8192),
}
"""Low temperature for judgements and summaries, more for writing and planning (as MLE-STAR)."""

HOUSE_STYLE = f'''\
HOUSE STYLE of a solution script (a sketch; adapt it to the task):
"""One line saying what this solution does."""
import os
import numpy as np
import pandas as pd

SEED = int(os.environ.get("{ENV_SEED}", "42"))
THREADS = int(os.environ.get("{ENV_THREADS}", "1"))

{BLOCK_MARKER}load
train = pd.read_parquet("{INPUT_DIR}/{TRAIN_FILE}")
test = pd.read_parquet("{INPUT_DIR}/{TEST_FILE}")
y = np.load("{INPUT_DIR}/{TARGET_FILE}")
folds = np.load("{INPUT_DIR}/{FOLDS_FILE}")

{BLOCK_MARKER}features
def make_features(frame):  # the same function serves train, test and the saved predictor
    ...

{BLOCK_MARKER}train
oof = np.full((len(train), N_OUTPUTS), np.nan)
test_pred = np.zeros((len(test), N_OUTPUTS))
models = []
for k in sorted(set(folds[folds >= 0])):
    fit_rows, val_rows = (folds >= 0) & (folds != k), folds == k
    ...  # fit on fit_rows only, predict val_rows into oof and the test rows into test_pred

{BLOCK_MARKER}save
os.makedirs("{OUTPUT_DIR}", exist_ok=True)
np.save("{OUTPUT_DIR}/{OOF_FILE}", oof)
np.save("{OUTPUT_DIR}/{TEST_PRED_FILE}", test_pred)
if os.environ.get("{ENV_SAVE_MODEL}") == "1":
    ...  # cloudpickle an object whose .predict(frame) repeats make_features + the fold models
         # into {OUTPUT_DIR}/{MODEL_FILE}
Libraries available: {LIBRARIES}. Nothing else can be imported or installed.
'''


def system(role: str, duty: str, *, code: bool = True, room: Room = DEFAULT_ROOM) -> Message:
    """The system message: who the model is, its role, the contract, and (for code roles, while
    there is room) the house style."""
    parts = [
        "You are one of the roles of mlestar, an autonomous machine-learning engineer running the "
        "MLE-STAR search (retrieve, draft, merge, ablate, refine one block at a time, ensemble). "
        "A harness runs every script you write and computes its score itself from the predictions "
        "the script saves; you never report scores.",
        f"Your role: {role}. {duty}",
        CONTRACT.rstrip(),
    ]
    if code and room.house_style:
        parts.append(HOUSE_STYLE.rstrip())
    return Message("system", "\n\n".join(parts))


def user(*sections: str) -> Message:
    return Message("user", "\n\n".join(s.rstrip() for s in sections if s and s.strip()))


def task_brief(ctx: TaskContext, room: Room = DEFAULT_ROOM) -> str:
    spec = ctx.spec
    direction = "lower" if spec.lower_is_better else "higher"
    lines = [
        f"TASK {spec.name}: {spec.problem_type}, metric {spec.metric} ({direction} is better).",
        f"Answer columns in train: {', '.join(spec.train_target_columns) or '-'}; "
        f"predictions have {spec.n_outputs} column(s).",
    ]
    if spec.classes:
        lines.append(f"Classes, in prediction-column order: {clip(', '.join(spec.classes), 600)}")
    if spec.id_column:
        lines.append(f"Id column: {spec.id_column}")
    if spec.extra_paths:
        lines.append(
            f"Extra task files (under ./{INPUT_DIR}/files/): {clip(', '.join(spec.extra_paths), 600)}"
        )
    lines.append(
        f"Seed {ctx.seed}; threads {ctx.threads}; one script must finish within about "
        f"{ctx.script_budget_s:.0f} s."
    )
    lines.append(hardware_line(ctx))
    profile = json.dumps(ctx.profile, default=str, separators=(",", ":"))
    lines.append(f"Data profile: {clip(profile, room.profile)}")
    evidence = screening_table(ctx)
    if evidence:
        lines.append(evidence if len(evidence) <= room.history else clip(evidence, room.history))
    lines.append("Description:\n" + clip(spec.description.strip(), room.description))
    return "\n".join(lines)


def hardware_line(ctx: TaskContext) -> str:
    """What the machine offers, and whether scripts may use its GPU (the run's device decides)."""
    facts = ctx.hardware.describe()
    if ctx.device == DEVICE_CUDA:
        return (
            f"Hardware: {facts}: ${ENV_DEVICE} is {DEVICE_CUDA}; train on the GPU where the library "
            'supports it (xgboost device="cuda", catboost task_type="GPU"), on the CPU elsewhere.'
        )
    if ctx.hardware.gpus:
        return f"Hardware: {facts}, not given to scripts: ${ENV_DEVICE} is {DEVICE_CPU}; train on the CPU."
    return f"Hardware: {facts}: train on the CPU."


def screening_table(ctx: TaskContext) -> str:
    """The evidence the run has from this task's data: every candidate model tried cheaply
    (a subsample, two folds, a time box) with its score and time, best first. Empty before
    screening, or when the run screened nothing."""
    rows = ctx.screening
    if not rows:
        return ""
    direction = "lower" if ctx.spec.lower_is_better else "higher"
    lines = [
        f"SCREENING on this task's data (cheap runs of each candidate, {ctx.spec.metric}, {direction} is better):"
    ]
    for row in rows:
        score = "-" if row.score is None else f"{row.score:.5g}"
        family = f" ({row.family})" if row.family else ""
        chosen = ", drafted" if row.chosen else ""
        lines.append(f"- {row.name}{family}: {score} in {row.seconds:.1f} s, {row.status}{chosen}")
    return "\n".join(lines)


def clip(text: str, limit: int) -> str:
    """Keep the head and the tail (where errors and conclusions are), cut the middle."""
    if len(text) <= limit:
        return text
    keep = max(0, limit - 60)
    head, tail = keep // 3, keep - keep // 3
    cut = len(text) - head - tail
    return f"{text[:head]}\n[... {cut} characters cut ...]\n{text[len(text) - tail :]}"


def fenced(code: str) -> str:
    return f"```python\n{code.rstrip()}\n```"


def script_view(script: str, limit: int = DEFAULT_ROOM.script, focus: str | None = None) -> str:
    """The script as a fenced block; when too long, other blocks are shortened, never `focus`."""
    if len(script) <= limit:
        return fenced(script)
    parsed = blocks.parse_blocks(script)
    if not parsed:
        return fenced(clip(script, limit))
    pieces = [script[: parsed[0].start]]
    others = [b for b in parsed if b.name != focus]
    room = max(200, (limit - len(pieces[0]) - sum(len(b.body(script)) for b in parsed if b.name == focus)))
    each = max(80, room // max(1, len(others)))
    for b in parsed:
        body = b.body(script)
        shown = body if b.name == focus else _shorten_lines(body, each)
        pieces.append(f"{BLOCK_MARKER}{b.name}\n{shown}")
    return fenced(clip("".join(pieces), limit))


def _shorten_lines(body: str, limit: int) -> str:
    if len(body) <= limit:
        return body
    lines = body.splitlines(keepends=True)
    head: list[str] = []
    tail: list[str] = []
    size = 0
    while lines and size < limit // 2:
        size += len(lines[0])
        head.append(lines.pop(0))
    while lines and size < limit:
        size += len(lines[-1])
        tail.insert(0, lines.pop())
    return "".join(head) + f"# [... {len(lines)} lines not shown ...]\n" + "".join(tail)
