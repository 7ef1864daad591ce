"""A finished run folder, fabricated the way a run leaves one, for the export tests.

A tiny binary task (60 training rows, 20 test rows, a sample submission in a shuffled order and an
extra file the script reads through ./input/files). The final attempt's script runs for real in
its own folder with ./input linked as the harness links it; the run's submission.csv is written
from its test predictions by the harness's own submission code; solution.py is that script plus
the standalone submission block, with solution_parts/submission.py, exactly as the final stage
writes them.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from mlestar import contract
from mlestar.handover.shipped import write_parts
from mlestar.handover.standalone import standalone_script
from mlestar.handover.submission import to_submission_frame, write_submission
from mlestar.journal import Journal
from mlestar.run_layout import RunLayout
from mlestar.task.files import read_table
from mlestar.task.spec import TaskSpec
from tests.builders import build_node, build_spec, write_task

SEED = 42

MODEL_SCRIPT = '''"""Tiny seeded solution for the export tests: a logistic regression fitted by SGD in numpy."""

import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 42
FEATURES = ["a", "b"]
EPOCHS = 20

# %% block: load
train = pd.read_parquet("input/train.parquet")
test = pd.read_parquet("input/test.parquet")
y = np.load("input/target.npy")
folds = np.load("input/folds.npy")
scale = float(Path("input/files/extra/scale.txt").read_text())
X = train[FEATURES].to_numpy() * scale
X_test = test[FEATURES].to_numpy() * scale


# %% block: model
def fit(rows):
    """Weights (and a bias last) from a seeded random start, visiting rows in a seeded order."""
    rng = np.random.default_rng(SEED)
    xb = np.hstack([X[rows], np.ones((int(rows.sum()), 1))])
    w = rng.normal(0.0, 0.5, xb.shape[1])
    for _ in range(EPOCHS):
        for i in rng.permutation(len(xb)):
            w -= 0.05 * (1.0 / (1.0 + np.exp(-xb[i] @ w)) - y[rows][i]) * xb[i]
    return w


def predict(w, x):
    return 1.0 / (1.0 + np.exp(-(x @ w[:-1] + w[-1])))


oof = np.full((len(train), 1), np.nan)
test_pred = np.zeros((len(test), 1))
n_folds = int(folds.max()) + 1
for k in range(n_folds):
    w = fit((folds >= 0) & (folds != k))
    oof[folds == k, 0] = predict(w, X[folds == k])
    test_pred[:, 0] += predict(w, X_test) / n_folds


# %% block: save
Path("output").mkdir(exist_ok=True)
np.save("output/oof.npy", oof)
np.save("output/test.npy", test_pred)
if os.environ.get("MLESTAR_SAVE_MODEL") == "1":
    with open("output/model.pkl", "wb") as f:
        pickle.dump(fit(folds >= 0), f)
'''


def make_task(root: Path) -> TaskSpec:
    """The task folder (only what the scripts read through ./input/files) and its spec."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)  # a fresh folder
    ids = rng.permutation(np.arange(100, 120))
    write_task(
        root, {"extra/scale.txt": "2.0\n", "sample_submission.csv": pd.DataFrame({"id": ids, "label": 0.5})}
    )
    return build_spec(
        root,
        "binary",
        targets=("label",),
        sample=True,
        name="tiny-binary",
        description="Predict the label.",
        classes=("no", "yes"),
        extra_paths=("extra",),
    )


def write_data(layout: RunLayout, spec: TaskSpec) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(80, 2))
    y = (x @ np.array([1.0, -1.0]) + rng.normal(0, 0.5, 80) > 0).astype(int)
    frame = pd.DataFrame(x, columns=["a", "b"])
    frame.insert(0, "id", np.arange(80))
    layout.data.mkdir(parents=True)
    train = frame.iloc[:60].assign(label=np.where(y[:60] == 1, "yes", "no"))
    train.to_parquet(layout.data / contract.TRAIN_FILE, index=False)
    frame.iloc[60:].assign(id=np.arange(100, 120)).to_parquet(layout.data / contract.TEST_FILE, index=False)
    np.save(layout.data / contract.TARGET_FILE, y[:60])
    folds_full = np.arange(60) % 3
    np.save(layout.folds_full, folds_full)
    np.save(layout.folds, np.where(np.arange(60) < 45, folds_full, -1))
    spec.save(layout.data / contract.TASK_FILE)
    spec.save(layout.task)


def run_final_fit(layout: RunLayout, spec: TaskSpec, env: dict[str, str]) -> Path:
    """Run the model script as the harness runs a final fit; its attempt folder."""
    work = layout.attempt("final-draft-0")
    (work / contract.INPUT_DIR).mkdir(parents=True)
    (work / "solution.py").write_text(MODEL_SCRIPT)
    links = {
        contract.TRAIN_FILE: layout.data / contract.TRAIN_FILE,
        contract.TEST_FILE: layout.data / contract.TEST_FILE,
        contract.TARGET_FILE: layout.data / contract.TARGET_FILE,
        contract.TASK_FILE: layout.data / contract.TASK_FILE,
        contract.FOLDS_FILE: layout.folds_full,
        contract.FILES_LINK: spec.task_dir,
    }
    for name, target in links.items():
        (work / contract.INPUT_DIR / name).symlink_to(target.resolve())
    script_env = {
        **env,
        "PYTHONHASHSEED": "0",
        contract.ENV_SEED: str(SEED),
        contract.ENV_SAVE_MODEL: "1",
        contract.ENV_THREADS: "1",
    }
    subprocess.run([sys.executable, "solution.py"], cwd=work, env=script_env, check=True, capture_output=True)
    return work


def make_finished_run(root: Path, env: dict[str, str]) -> Path:
    """root/task and root/run; the run folder."""
    spec = make_task(root / "task")
    layout = RunLayout(root / "run")
    write_data(layout, spec)
    work = run_final_fit(layout, spec, env)
    test = pd.read_parquet(layout.data / contract.TEST_FILE)
    pred = np.load(work / contract.OUTPUT_DIR / contract.TEST_PRED_FILE)
    sample = read_table(spec.sample_submission_path, spec.id_column)  # type: ignore[arg-type]
    write_submission(to_submission_frame(spec, pred, test, sample), layout.submission)
    layout.model.parent.mkdir()
    shutil.copyfile(work / contract.OUTPUT_DIR / contract.MODEL_FILE, layout.model)
    layout.solution.write_text(standalone_script(MODEL_SCRIPT))
    write_parts(layout.solution_parts, spec, {})
    _write_journal(layout, spec)
    return layout.root


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_journal(layout: RunLayout, spec: TaskSpec) -> None:
    journal = Journal(layout.root)
    versions = {name: metadata.version(name) for name in ("numpy", "pandas")}
    journal.event(
        "run_started", config={"seed": SEED}, task=spec.to_json(), engineer="builtin", versions=versions
    )
    files = {str(p.relative_to(spec.task_dir)): _sha256(p) for p in spec.task_dir.rglob("*") if p.is_file()}
    data = {p.name: _sha256(p) for p in layout.data.iterdir()}
    journal.event("inputs_hashed", files=files, data=data)
    for node_id, stage in (("draft-0", "draft"), ("final-draft-0", "final")):
        code = f"attempts/{node_id}/solution.py"
        journal.add(build_node(node_id, stage=stage, role=stage, plan="fit", code_path=code, score=0.9))
    journal.event("final", node="draft-0", solution_kind="script", score=0.9)
    journal.event(
        "run_finished",
        status="ok",
        best="draft-0",
        score=0.9,
        submission="submission.csv",
        solution="solution.py",
        model="model/model.pkl",
        threads=1,
    )


def unfinished_copy(run_dir: Path, dest: Path) -> Path:
    """A copy of the run as it was before its run_finished event (the journal without it)."""
    shutil.copytree(run_dir, dest, symlinks=True)
    journal = dest / "journal.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    journal.write_text("".join(line for line in lines if '"run_finished"' not in line))
    return dest
