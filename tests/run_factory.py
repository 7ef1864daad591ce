"""Fabricate a finished mlestar run folder for tests: no search runs, no script is executed.

The folder follows mlestar.run_layout: config.json, task.json, data/ (parquet, target, folds),
attempts/<id>/ (solution.py, stdout.txt, stderr.txt, output/*.npy), journal.jsonl written through
mlestar.journal.Journal (so the format is the real one), submission.csv, solution.py and, when a
predictor is given, model/model.pkl. The journal holds six nodes: two drafts (one failed), a
debug of the failed one, a merge, a refinement that timed out and an ensemble, plus the events
the search writes (run_started, inputs_hashed, stages, decisions, final, run_finished).

The submission is written here by plain code, not by any mlestar function, so tests can check
mlestar's own mappings against it.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd

from mlestar.journal import Journal, Node
from mlestar.journal.events import EXAMPLE_ROWS
from mlestar.task.spec import SubmissionLayout, TaskSpec
from tests.builders import build_node, build_spec

FitPredictor = Callable[[pd.DataFrame, np.ndarray], Any]
"""(train features, encoded target) -> an object with .predict(frame) -> array (n, n_outputs)."""


@dataclass(frozen=True)
class FabricatedRun:
    run_dir: Path
    spec: TaskSpec
    nodes: tuple[Node, ...]
    train: pd.DataFrame
    test: pd.DataFrame
    target: np.ndarray
    submission: pd.DataFrame
    test_pred: np.ndarray | None
    """The final predictor's predictions on test.parquet (None without a predictor)."""
    data_sha256: dict[str, str] = field(default_factory=dict)

    @property
    def node_ids(self) -> list[str]:
        return [n.id for n in self.nodes]


def make_tables(problem: str = "binary", n_train: int = 60, n_test: int = 12, seed: int = 0) -> tuple:
    """Tiny train/test tables: id, x1 (float), x2 (int), colour (text), and the answer column."""
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    frame = pd.DataFrame(
        {
            "id": np.arange(1000, 1000 + n),
            "x1": rng.normal(size=n).round(4),
            "x2": rng.integers(0, 5, size=n),
            "colour": rng.choice(["red", "green", "blue"], size=n),
        }
    )
    signal = frame["x1"] + 0.3 * frame["x2"] - 0.6
    if problem == "binary":
        answer = np.where(signal + rng.normal(scale=0.5, size=n) > 0, "yes", "no")
        target = (answer == "yes").astype(np.int64)
        frame["label"] = answer
    else:
        target = (2.0 * signal + rng.normal(scale=0.1, size=n)).round(4)
        frame["y"] = target
    train = frame.iloc[:n_train].reset_index(drop=True)
    test = frame.iloc[n_train:].drop(columns=["label" if problem == "binary" else "y"]).reset_index(drop=True)
    return train, test, target[:n_train]


def make_spec(run_dir: Path, problem: str = "binary", name: str = "toy-binary") -> TaskSpec:
    task_dir = run_dir.parent / f"{run_dir.name}-task"
    binary = problem == "binary"
    answer = "label" if binary else "y"
    layout = SubmissionLayout(
        columns=("id", answer),
        value_kind="label" if binary else "number",
        row_order="test",
        dtypes=("int64", "object" if binary else "float64"),
    )
    return build_spec(
        task_dir,
        "binary" if binary else "regression",
        targets=(answer,),
        name=name,
        description="A tiny fabricated task.",
        submission=layout,
        classes=("no", "yes") if binary else None,
    )


def fabricate_run(
    run_dir: Path,
    *,
    problem: str = "binary",
    name: str | None = None,
    fit_predictor: FitPredictor | None = None,
    secret: str | None = None,
    config_extra: dict[str, Any] | None = None,
    on_journal: Callable[[Journal], None] | None = None,
) -> FabricatedRun:
    """Write a finished run into run_dir (created). secret, when given, is planted in a plan, an
    error, a script, an output tail and the config, for tests that check it never leaks.
    on_journal(journal) is called before any record is written (attach a tracker there)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    spec = make_spec(run_dir, problem, name or f"toy-{problem}")
    train, test, target = make_tables(problem)
    sha = _write_data(run_dir, spec, train, test, target)
    spec.save(run_dir / "task.json")
    config = _config(run_dir, spec, secret, config_extra)
    (run_dir / "config.json").write_text(json.dumps(config, indent=2))
    predictor = fit_predictor(train, target) if fit_predictor is not None else None
    test_pred = _save_model(run_dir, predictor, test)
    submission = _write_submission(run_dir, spec, test, test_pred)
    journal = Journal(run_dir)
    if on_journal is not None:
        on_journal(journal)
    example = None if test_pred is None else test_pred[:EXAMPLE_ROWS].tolist()  # as the hand-over journals it
    nodes = _write_journal(journal, run_dir, spec, config, sha, secret, example)
    return FabricatedRun(run_dir, spec, nodes, train, test, target, submission, test_pred, sha)


def _write_data(
    run_dir: Path, spec: TaskSpec, train: pd.DataFrame, test: pd.DataFrame, target: np.ndarray
) -> dict:
    data = run_dir / "data"
    data.mkdir(exist_ok=True)
    train.to_parquet(data / "train.parquet", index=False)
    test.to_parquet(data / "test.parquet", index=False)
    np.save(data / "target.npy", target)
    folds = np.arange(len(train)) % 3
    np.save(data / "folds.npy", folds)
    np.save(data / "folds_full.npy", folds)
    spec.save(data / "task.json")
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(data.iterdir())}


def _config(
    run_dir: Path, spec: TaskSpec, secret: str | None, extra: dict[str, Any] | None
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "task_dir": str(spec.task_dir),
        "run_dir": str(run_dir),
        "budget_s": 300.0,
        "max_nodes": None,
        "seed": 42,
        "jobs": 2,
        "engineer": "builtin",
        "search": {"m_candidates": 2, "t_outer": 1, "k_inner": 1, "r_ensemble": 1, "n_folds": 3},
        "tracking_uri": None,
        "max_tokens": 100000,
    }
    if secret is not None:
        config["openai_api_key"] = secret
        config["role_models"] = [["OPENAI_API_KEY", secret]]
    return {**config, **(extra or {})}


def _save_model(run_dir: Path, predictor: Any, test: pd.DataFrame) -> np.ndarray | None:
    if predictor is None:
        return None
    # By value: the pickle must load where the test module is not importable (a served model).
    cloudpickle.register_pickle_by_value(sys.modules[type(predictor).__module__])
    try:
        blob = cloudpickle.dumps(predictor)
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[type(predictor).__module__])
    (run_dir / "model").mkdir(exist_ok=True)
    (run_dir / "model" / "model.pkl").write_bytes(blob)
    pred = np.asarray(predictor.predict(test), dtype=float)
    return pred.reshape(len(test), -1)


def _write_submission(
    run_dir: Path, spec: TaskSpec, test: pd.DataFrame, pred: np.ndarray | None
) -> pd.DataFrame:
    column = spec.target_columns[0]
    if pred is None:  # no model: a constant submission still comes out
        values: Any = ["no"] * len(test) if spec.classes else np.zeros(len(test))
    elif spec.classes:
        values = np.where(pred[:, 0] >= 0.5, spec.classes[1], spec.classes[0])
    else:
        values = pred[:, 0]
    submission = pd.DataFrame({"id": test["id"], column: values})
    submission.to_csv(run_dir / "submission.csv", index=False)
    (run_dir / "solution.py").write_text("# %% block: main\nprint('final solution')\n")
    return submission


_SCRIPT = "# %% block: load\nimport pandas as pd\n# %% block: model\nSEED = 42\nprint('{node}')\n"


def _node_specs(secret: str | None) -> list[dict[str, Any]]:
    leak = f" (key {secret})" if secret else ""
    usage = {"prompt_tokens": 120.0, "completion_tokens": 40.0, "cost_usd": 0.0012}
    return [
        dict(
            id="draft-1",
            parent=None,
            stage="draft",
            role="draft",
            plan=f"Logistic regression on x1, x2{leak}",
            status="ok",
            score=0.81,
            meta={"model": "logistic_regression"},
            usage=usage,
        ),
        dict(
            id="draft-2",
            parent=None,
            stage="draft",
            role="draft",
            plan="Gradient boosting on all columns",
            status="failed",
            score=None,
            error=f"KeyError: 'colour2'{leak}",
            meta={"model": "lightgbm"},
            exception="KeyError",
            exit_code=1,
        ),
        dict(
            id="debug-draft-2-1",
            parent="draft-2",
            stage="draft",
            role="debug",
            plan="Fix the column name",
            status="ok",
            score=0.79,
            meta={"debug_round": 1},
        ),
        dict(
            id="merge-1",
            parent="draft-1",
            stage="merge",
            role="merge",
            plan="Merge draft-1 with the fix",
            status="ok",
            score=0.84,
            meta={"merged": ["draft-1", "debug-draft-2-1"]},
            usage=usage,
        ),
        dict(
            id="refine-1-1",
            parent="merge-1",
            stage="refine",
            role="implement",
            plan="Tune C on block model",
            status="timeout",
            score=None,
            error="timed out after 60 s",
            meta={"block": "model"},
            timed_out=True,
        ),
        dict(
            id="ensemble-1",
            parent="merge-1",
            stage="ensemble",
            role="ensemble",
            plan="Mean of the best two",
            status="ok",
            score=0.86,
            meta={"members": ["merge-1", "debug-draft-2-1"], "method": "mean"},
            code=False,
        ),
    ]


def _write_journal(
    journal: Journal,
    run_dir: Path,
    spec: TaskSpec,
    config: dict,
    sha: dict,
    secret: str | None,
    example: list[list[float]] | None,
) -> tuple[Node, ...]:
    """example: the model's predictions of the first test rows, None when the run has no model."""
    versions = {"mlestar": "0.1.0", "numpy": np.__version__, "pandas": pd.__version__}
    journal.event("run_started", config=config, task=spec.to_json(), engineer="builtin", versions=versions)
    journal.event("inputs_hashed", files={"train.csv": "0" * 64}, data=sha)
    nodes, stage = [], None
    start = time.time() - 600.0
    for i, item in enumerate(_node_specs(secret)):
        if item["stage"] != stage:
            if stage is not None:
                journal.event("stage_finished", stage=stage, best=None)
            stage = item["stage"]
            journal.event("stage_started", stage=stage)
        nodes.append(journal.add(_node(run_dir, item, start + 30.0 * i, secret)))
    journal.event("stage_finished", stage=stage, best="ensemble-1")
    journal.event("decision", what="merge_kept", node="merge-1")
    journal.event("final", node="ensemble-1", solution_kind="ensemble", score=0.86)
    journal.event(
        "run_finished",
        status="ok",
        best="ensemble-1",
        score=0.86,
        submission="submission.csv",
        solution="solution.py",
        model="model/model.pkl" if example is not None else None,
        threads=1,
        example_predictions=example,
    )
    return tuple(nodes)


def _node(run_dir: Path, item: dict[str, Any], started: float, secret: str | None) -> Node:
    node_id = item["id"]
    attempt = run_dir / "attempts" / node_id
    (attempt / "output").mkdir(parents=True, exist_ok=True)
    code_path = None
    stdout = f"fold scores for {node_id}\n" + (
        f"env says {secret}\n" if secret and node_id == "draft-2" else ""
    )
    stderr = "Traceback (most recent call last):\nKeyError: 'colour2'\n" if item.get("exception") else ""
    if item.get("code", True):
        script = _SCRIPT.format(node=node_id) + (f"# token = '{secret}'\n" if secret else "")
        (attempt / "solution.py").write_text(script)
        code_path = f"attempts/{node_id}/solution.py"
    (attempt / "stdout.txt").write_text(stdout)
    (attempt / "stderr.txt").write_text(stderr)
    np.save(attempt / "output" / "oof.npy", np.zeros((60, 1)))
    duration = 12.5
    result = None
    if item.get("code", True):
        result = {
            "exit_code": item.get("exit_code", None if item.get("timed_out") else 0),
            "signal": 9 if item.get("timed_out") else None,
            "timed_out": bool(item.get("timed_out")),
            "duration_s": duration,
            "peak_memory_mb": 150.0 + len(node_id),
            "stdout_tail": stdout,
            "stderr_tail": stderr,
            "exception": item.get("exception"),
            "traceback": stderr or None,
            "outputs": ["output/oof.npy"],
        }
    return build_node(
        node_id,
        parent=item["parent"],
        stage=item["stage"],
        role=item["role"],
        plan=item["plan"],
        code_path=code_path,
        status=item["status"],
        score=item["score"],
        started=started,
        ended=started + duration,
        result=result,
        error=item.get("error"),
        usage=dict(item.get("usage", {})),
        meta=dict(item["meta"]),
    )
