"""The module docstring of a built-in script: the task, the plan it was written for, how to run it."""

from __future__ import annotations

import textwrap

from mlestar.engineers.base import TaskContext

WIDTH = 100


def title_for(ctx: TaskContext) -> str:
    spec = ctx.spec
    direction = "lower" if spec.lower_is_better else "higher"
    rows = ctx.profile.get("n_train", "?")
    title = f"{spec.name}: {spec.problem_type} task, {rows} training rows, metric {spec.metric} ({direction} is better)."
    return "\n".join(textwrap.wrap(title, WIDTH))


def notes_for(plan: str) -> list[str]:
    paragraphs = [
        f"Plan: {plan}",
        "Written by mlestar's built-in engineer. Each named block below says what it does; later "
        "refinements rewrite one block at a time, so the blocks, not this note, are the record.",
        "Run it in a folder whose ./input holds the harness's files (train.parquet, test.parquet, "
        "target.npy, folds.npy): it writes out-of-fold and test predictions to ./output, and the "
        "fitted predictor to ./output/model.pkl when MLESTAR_SAVE_MODEL=1.",
    ]
    return ["\n".join(textwrap.wrap(p, WIDTH)) + "\n" for p in paragraphs]
