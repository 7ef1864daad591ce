"""A small real run shared by the serving, monitoring and retrain tests, built once per session.

The task is synthetic and seeded: a binary answer from a number (x1), a small integer (x2), a
category (colour) and free text (note), scored by ROC AUC with a probability submission. The run
is a real `mlestar run` (built-in engineer, one draft, no refinement) tracked to its own MLflow
store, so its model is registered.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlestar.app import start_run
from mlestar.config import RunConfig, SearchSettings
from tests.builders import write_task

WORDS = ("fast", "slow", "blue", "red", "happy", "late", "early", "big", "small", "new")
N_TRAIN = 400
N_TEST = 150


def shop_rows(n: int, seed: int, shift: float = 0.0, flip: bool = False, start_id: int = 1) -> pd.DataFrame:
    """Rows with answers. shift moves x1 and the colour mix; flip reverses the concept (x1's sign)."""
    rng = np.random.default_rng(seed)
    colour_p = [0.5, 0.3, 0.2] if shift == 0 else [0.15, 0.25, 0.6]
    frame = pd.DataFrame(
        {
            "id": np.arange(start_id, start_id + n),
            "x1": rng.normal(shift, 1.0, n).round(4),
            "x2": rng.integers(0, 5, n),
            "colour": rng.choice(["red", "green", "blue"], n, p=colour_p),
            "note": [" ".join(rng.choice(WORDS, int(k))) for k in rng.integers(4, 12, n)],
        }
    )
    sign = -1.0 if flip else 1.0
    logit = sign * 2.0 * frame["x1"] + 0.4 * (frame["x2"] - 2) + (frame["colour"] == "red") * 0.8
    frame["label"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def make_task(folder: Path, seed: int = 7) -> Path:
    """Seed 7's training rows are typical of their population (the true model's AUC on them is
    0.869, the population's 0.870), so the run's validation score is not optimistic by luck."""
    folder.mkdir(parents=True)  # a fresh folder: never one a run already used
    test = shop_rows(N_TEST, seed + 1, start_id=10_000).drop(columns=["label"])
    files = {
        "train.csv": shop_rows(N_TRAIN, seed),
        "test.csv": test,
        "sample_submission.csv": pd.DataFrame({"id": test["id"], "label": 0.5}),
        "description.md": "# Shop\n\nPredict whether a customer buys.\n\n## Evaluation\n\n"
        "Submissions are evaluated on area under the ROC curve between the predicted probability and the label.\n",
    }
    return write_task(folder, files)


def run_config(task: Path, run: Path, **extra: object) -> RunConfig:
    base = RunConfig(
        task_dir=task,
        run_dir=run,
        budget_s=240.0,
        max_nodes=1,
        jobs=1,
        seed=3,
        # One split (repeats=1): its readers need a served, registered model, not a steadier score.
        search=SearchSettings(m_candidates=1, t_outer=0, k_inner=1, r_ensemble=0, n_folds=3, repeats=1),
        tracking=True,
        live=False,
    )
    from dataclasses import replace

    return replace(base, **extra)  # type: ignore[arg-type]


def real_run(factory: pytest.TempPathFactory) -> Path:
    """This process's copy of the shared run (built once per session, then copied, so a test that
    writes into its run folder never disturbs another process's)."""
    root = factory.getbasetemp() / "shared-real-run"
    if not root.is_dir():
        part = root.with_name(f"{root.name}.part")
        shutil.rmtree(part, ignore_errors=True)  # a copy cut short
        shutil.copytree(_built_once(factory), part, symlinks=True)
        part.rename(root)
    return root / "run"


def _built_once(factory: pytest.TempPathFactory) -> Path:
    """The pristine run, built by the first pytest-xdist worker that needs it while the others wait
    (a real run is the costliest fixture of the suite); no test uses it in place."""
    session = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        session = session.parent  # what the workers of this session share
    built = session / "real-run-build"
    with (session / "real-run-build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        failed = session / "real-run-build.failed"
        if failed.is_file():  # one failed build is enough: every reader would wait for another
            pytest.fail(f"the shared real run failed once this session: {failed.read_text()}")
        if not (built / "done.json").is_file():
            shutil.rmtree(built, ignore_errors=True)
            task = make_task(built / "shop")
            outcome = start_run(run_config(task, built / "run"))
            if outcome.status != "ok":
                failed.write_text(repr(outcome))
            assert outcome.status == "ok", outcome
            (built / "done.json").write_text(json.dumps({"score": outcome.score}))
    return built
