"""The top of a built-in script: docstring, imports and the defaults every block reads.

The header depends on the task alone (never on the recipe), so it stays true whatever a refinement
changes: what the solution does is said by each block's opening comment, which is rendered with it.
Paths, file and variable names come from mlestar.contract.
"""

from __future__ import annotations

import textwrap

from mlestar import contract
from mlestar.engineers.base import TaskContext
from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.engineers.builtin.pysrc import WIDTH, literal

IMPORTS = """from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd"""

_OUTPUTS = {
    "binary": "the positive class's probability",
    "multiclass": "one probability per class",
    "regression": "the predicted number",
    "multi_target_regression": "one number per target",
    "multilabel": "one probability per label",
}

_LISTS = (
    ("BOOLEAN", "boolean", "Flags (true/false, yes/no, 1/0), read as 1.0 and 0.0."),
    ("STRINGS", "strings", "Kept as strings: categories, codes, dates, structured strings."),
    ("TEXT", "text", "Free text: read by the text views and text statistics."),
)


def title_for(ctx: TaskContext) -> str:
    spec = ctx.spec
    direction = "lower" if spec.lower_is_better else "higher"
    rows = ctx.profile.get("n_train", "?")
    title = f"{spec.name}: {spec.problem_type} task, {rows} training rows, metric {spec.metric} ({direction} is better)."
    return "\n".join(textwrap.wrap(title, WIDTH - 10))


def render_header(title: str, profile: ProfileView, seed: int) -> str:
    return "\n\n".join([_docstring(title), IMPORTS, _constants(profile, seed)]) + "\n"


def _docstring(title: str) -> str:
    """The title alone: each block opens with what it does, and the constants say the rest."""
    return f'"""{title}"""'


def _constants(profile: ProfileView, seed: int) -> str:
    output = _OUTPUTS.get(profile.problem_type, "the prediction")
    lines = [
        f'INPUT, OUTPUT = Path("{contract.INPUT_DIR}"), Path("{contract.OUTPUT_DIR}")',
        f'SEED = int(os.environ.get("{contract.ENV_SEED}", "{seed}"))',
        f'THREADS = int(os.environ.get("{contract.ENV_THREADS}", "1"))',
        f'SAVE_MODEL = os.environ.get("{contract.ENV_SAVE_MODEL}") == "1"',
        f"N_OUTPUTS = {profile.n_outputs}  # predicted per row: {output}",
    ]
    if not profile.numbers_by_rule:  # else the features block names them by the rule (see features.py)
        lines += [
            f"FEATURES = {literal(profile.features, 0, len('FEATURES = '))}",
            '"""The input columns, in the table\'s order'
            + ("; all are numbers" if profile.all_numeric else "")
            + '."""',
        ]
    for name, kind, doc in _LISTS:
        columns = getattr(profile, kind)
        if name == "STRINGS" and not (profile.boolean or profile.numeric):
            continue  # every column is kept as a string: no list needed to tell them apart
        if columns:
            lines += [f"{name} = {literal(columns, 0, len(name) + 3)}", f'"""{doc}"""']
    return "\n".join(lines)
