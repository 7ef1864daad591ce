"""Small synthetic tasks for the built-in engineer's tests, prepared the way the harness prepares a run.

Also tests that the generated scripts run: one or two real runs per problem type (seconds each).
Other test_builtin_* modules import the builders from here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import cloudpickle
import numpy as np
import pandas as pd
import pytest

from mlestar import contract
from mlestar.blocks import block_names, get_block, replace_block
from mlestar.engineers.base import TaskContext
from mlestar.engineers.builtin import BuiltinEngineer
from mlestar.engineers.builtin.recipe import read_recipe
from mlestar.execution.base import Executor, Limits
from mlestar.metrics import get_metric
from mlestar.search import feature_cache
from mlestar.task.profile import profile_task
from mlestar.task.spec import ProblemType, TaskSpec
from tests.builders import build_spec

KINDS = ("binary", "multiclass", "regression", "multi_target")


@dataclass(frozen=True)
class Task:
    spec: TaskSpec
    ctx: TaskContext
    train: pd.DataFrame
    test: pd.DataFrame


def _binary(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, dict]:
    group = rng.integers(0, n // 3, n)
    frame = pd.DataFrame(
        {
            "pid": [f"{g:04d}_{i % 3 + 1:02d}" for i, g in enumerate(group)],
            "age": rng.normal(40, 12, n).round(),
            "spend_a": np.where(rng.random(n) < 0.6, 0, rng.exponential(500, n)),
            "spend_b": np.where(rng.random(n) < 0.6, 0, rng.exponential(300, n)),
            "planet": rng.choice(["Earth", "Mars", "Europa"], n),
            "cabin": [
                f"{d}/{rng.integers(1, 300)}/{s}"
                for d, s in zip(rng.choice(list("ABCDEFG"), n), rng.choice(["P", "S"], n), strict=True)
            ],
            "vip": rng.choice([True, False], n),
        }
    )
    frame.loc[rng.random(n) < 0.05, "age"] = np.nan
    logit = (
        0.04 * (frame["age"].fillna(40) - 40) - 0.002 * frame["spend_a"] + (frame["planet"] == "Europa") * 1.5
    )
    frame["label"] = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return frame, {
        "id": "pid",
        "targets": ("label",),
        "type": "binary",
        "metric": "accuracy",
        "classes": ("no", "yes"),
    }


def _multiclass(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, dict]:
    vocab = {
        "a": "storm sea ship wave sailor",
        "b": "castle king sword knight crown",
        "c": "garden flower rain bee leaf",
    }
    shared = ["the", "of", "and", "a", "in", "to", "it", "was"]
    labels = rng.choice(list(vocab), n)
    texts = [" ".join(rng.choice(vocab[y].split() + shared, rng.integers(6, 14))) for y in labels]
    frame = pd.DataFrame({"id": [f"id{i:05d}" for i in range(n)], "text": texts, "author": labels})
    return frame, {
        "id": "id",
        "targets": ("author",),
        "type": "multiclass",
        "metric": "log_loss",
        "classes": ("a", "b", "c"),
    }


def _regression(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, dict]:
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "size": rng.uniform(1, 10, n),
            "rooms": rng.integers(1, 6, n),
            "town": rng.choice(["north", "south", "east", "west"], n),
            "sold": pd.date_range("2020-01-01", periods=n, freq="D").astype(str),
        }
    )
    frame["price"] = np.exp(0.3 * frame["size"] + 0.1 * frame["rooms"] + rng.normal(0, 0.1, n))
    return frame, {
        "id": "id",
        "targets": ("price",),
        "type": "regression",
        "metric": "rmsle",
        "classes": None,
    }


def _multi_target(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, dict]:
    frame = pd.DataFrame(
        {"id": np.arange(1, n + 1), "share_x": rng.uniform(0, 1, n), "atoms": rng.choice([10, 20, 40], n)}
    )
    frame["energy"] = 0.1 + 0.2 * frame["share_x"] + rng.normal(0, 0.01, n)
    frame["gap"] = 1 + 2 * frame["share_x"] + rng.normal(0, 0.05, n)
    return frame, {
        "id": "id",
        "targets": ("energy", "gap"),
        "type": "multi_target_regression",
        "metric": "mean_rmsle",
        "classes": None,
    }


def _numbers(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, dict]:
    """A table of numbers only: scikit-learn's bundled breast-cancer measurements."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = data.frame.iloc[rng.permutation(len(data.frame))[:n]].reset_index(drop=True)
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame.insert(0, "id", np.arange(n))
    frame["target"] = np.where(frame["target"] == 1, "benign", "malignant")
    return frame, {
        "id": "id",
        "targets": ("target",),
        "type": "binary",
        "metric": "roc_auc",
        "classes": ("benign", "malignant"),
    }


def _hourly(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, dict]:
    """Hourly counts keyed by their date-time (the id is a feature), rows shuffled before the split
    so that test hours sit between train hours; the count follows the hour of the day and a level
    that drifts from hour to hour (what only neighbouring hours' answers reveal)."""
    hours = pd.date_range("2021-03-01", periods=n, freq="h")
    level = np.exp(np.cumsum(rng.normal(0, 0.15, n)))
    temperature = 10 + 8 * np.sin(2 * np.pi * (hours.hour - 9) / 24) + rng.normal(0, 1, n)
    count = level * (20 + 15 * np.sin(2 * np.pi * (hours.hour - 6) / 24) ** 2) + rng.normal(0, 1, n)
    frame = pd.DataFrame(
        {
            "datetime": hours.strftime("%Y-%m-%d %H:%M:%S"),
            "temperature": temperature.round(2),
            "humidity": rng.uniform(20, 90, n).round(1),
            "count": np.clip(count, 0, None).round(),
        }
    )
    frame = frame.iloc[rng.permutation(n)].reset_index(drop=True)
    return frame, {
        "id": "datetime",
        "targets": ("count",),
        "type": "regression",
        "metric": "rmsle",
        "classes": None,
        "id_is_feature": True,
    }


def _pairs(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, dict]:
    """Two short phrases and a context code per row; the answer is how alike the phrases are (the
    share of words they have in common), which neither phrase alone says."""
    vocabulary = [
        "wheel",
        "axle",
        "gear",
        "brake",
        "pedal",
        "chain",
        "frame",
        "seat",
        "spoke",
        "rim",
        "hub",
        "valve",
        "pump",
        "lever",
        "cable",
    ]
    first = [" ".join(rng.choice(vocabulary, rng.integers(2, 4), replace=False)) for _ in range(n)]
    second = []
    for phrase in first:
        kept = [w for w in phrase.split() if rng.random() < 0.5]
        second.append(" ".join(kept + list(rng.choice(vocabulary, rng.integers(1, 3), replace=False))))
    score = [
        len(set(a.split()) & set(b.split())) / len(set(a.split()) | set(b.split()))
        for a, b in zip(first, second, strict=True)
    ]
    frame = pd.DataFrame(
        {"id": [f"p{i:05d}" for i in range(n)], "anchor": first, "target": second,
         "context": rng.choice(["A01", "B02", "C03"], n), "score": np.round(score, 2)}
    )  # fmt: skip
    return frame, {
        "id": "id",
        "targets": ("score",),
        "type": "regression",
        "metric": "pearson",
        "classes": None,
    }


def _mixed(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, dict]:
    """Text, numbers and list cells in one table: a listing's description, its price and its tags
    (a list per row); whether it sells depends on all three."""
    words = [
        "bright",
        "quiet",
        "spacious",
        "modern",
        "old",
        "cosy",
        "central",
        "small",
        "large",
        "sunny",
        "garden",
        "view",
    ]
    tags = ["pets", "parking", "balcony", "lift", "furnished", "wifi"]
    description = [" ".join(rng.choice(words, rng.integers(5, 10))) for _ in range(n)]
    listed = [sorted(rng.choice(tags, rng.integers(0, 4), replace=False).tolist()) for _ in range(n)]
    price = rng.uniform(500, 3000, n).round()
    logit = (
        np.array(["sunny" in d for d in description]) * 3.0
        + np.array(["balcony" in t for t in listed]) * 3.0
        - (price - 1750) / 400
        - 1.5
    )
    frame = pd.DataFrame({"id": np.arange(n), "description": description, "price": price, "tags": listed})
    frame["sold"] = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return frame, {
        "id": "id",
        "targets": ("sold",),
        "type": "binary",
        "metric": "roc_auc",
        "classes": ("no", "yes"),
    }


def _multilabel(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, dict]:
    """Three yes/no labels per row, each driven by its own numbers and a shared category."""
    frame = pd.DataFrame({"id": np.arange(n), "shade": rng.choice(["red", "green", "blue"], n)})
    for j in range(3):
        frame[f"x{j}"] = rng.normal(size=n).round(3)
    for j in range(3):
        logit = 2 * frame[f"x{j}"] + (frame["shade"] == ["red", "green", "blue"][j]) * 1.5 - 0.5
        frame[f"label_{j}"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    targets = ("label_0", "label_1", "label_2")
    return frame, {
        "id": "id",
        "targets": targets,
        "type": "multilabel",
        "metric": "mean_columnwise_roc_auc",
        "classes": None,
    }


def _spans(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, dict]:
    """Short texts and the piece of each that carries its mood: the whole text when neutral, the
    mood's words otherwise."""
    filler = [
        "the",
        "day",
        "was",
        "long",
        "and",
        "we",
        "walked",
        "to",
        "the",
        "old",
        "station",
        "after",
        "lunch",
    ]
    moods = {"positive": ["really love it", "so great"], "negative": ["truly awful", "hate this"]}
    rows = []
    for _ in range(n):
        mood = rng.choice(["positive", "negative", "neutral"])
        words = list(rng.choice(filler, rng.integers(6, 10)))
        piece = str(rng.choice(moods[mood])) if mood != "neutral" else ""
        at = int(rng.integers(0, len(words) + 1))
        text = " ".join(words[:at] + ([piece] if piece else []) + words[at:])
        rows.append((text, mood, piece or text))
    frame = pd.DataFrame(rows, columns=["text", "mood", "selected"])
    frame.insert(0, "id", [f"t{i:05d}" for i in range(n)])
    return frame, {
        "id": "id",
        "targets": ("selected",),
        "type": "text",
        "metric": "word_jaccard",
        "classes": None,
    }


BUILDERS = {
    "binary": _binary,
    "multiclass": _multiclass,
    "regression": _regression,
    "multi_target": _multi_target,
    "numbers": _numbers,
    "hourly": _hourly,
    "pairs": _pairs,
    "mixed": _mixed,
    "multilabel": _multilabel,
    "spans": _spans,
}


def _write_row_files(task_dir: Path, frame: pd.DataFrame, split: str, rng: np.random.Generator) -> None:
    """Per-row geometry-like files: a few labelled points whose spacing depends on share_x."""
    for row_id, share in zip(frame["id"], frame["share_x"], strict=True):
        folder = task_dir / split / str(row_id)
        folder.mkdir(parents=True)
        lines = ["# points", "cell 1.0 0.0 0.0"]
        for i in range(6):
            spacing = 1 + share
            lines.append(f"atom {i * spacing:.3f} {rng.normal():.3f} 0.0 {'Ga' if i % 2 else 'O'}")
        (folder / "points.xyz").write_text("\n".join(lines) + "\n")


def make_task(root: Path, kind: str, n: int = 240, n_test: int = 60, seed: int = 0) -> Task:
    rng = np.random.default_rng(seed)
    frame, meta = BUILDERS[kind](rng, n + n_test)
    train, test = (
        frame.iloc[:n].reset_index(drop=True),
        frame.iloc[n:].drop(columns=list(meta["targets"])).reset_index(drop=True),
    )
    task_dir = root / "task"
    task_dir.mkdir(parents=True)
    extra: tuple[str, ...] = ()
    if kind == "multi_target":
        test["id"] = np.arange(1, n_test + 1)  # ids repeat across splits, as in real tasks
        _write_row_files(task_dir, train, "train", rng)
        _write_row_files(task_dir, test, "test", rng)
        extra = ("train", "test")
    spec = _spec(task_dir, meta, extra)
    data = root / "data"
    data.mkdir()
    as_json = {c: lambda v: json.dumps(list(v)) for c in frame.columns if frame[c].map(type).eq(list).any()}
    train.transform({c: as_json.get(c, lambda v: v) for c in train.columns}).to_parquet(
        data / "train.parquet", index=False
    )
    test.transform({c: as_json.get(c, lambda v: v) for c in test.columns}).to_parquet(
        data / "test.parquet", index=False
    )
    np.save(data / "target.npy", _encode(train, spec))
    np.save(data / "folds.npy", np.arange(n) % 4)
    spec.save(data / "task.json")
    (data / "files").symlink_to(task_dir)
    profile = profile_task(spec, train, test, task_dir)
    return Task(spec, TaskContext(spec, profile, 7, 1, 60.0, data), train, test)


def _spec(task_dir: Path, meta: dict, extra: tuple[str, ...]) -> TaskSpec:
    classes = meta["classes"]
    columns = tuple(classes) if meta["type"] == "multiclass" else tuple(meta["targets"])
    return build_spec(
        task_dir,
        meta["type"],
        targets=tuple(meta["targets"]),
        target_columns=columns,
        id_column=meta["id"],
        metric=meta["metric"],
        value_kind="number",
        description="A tiny synthetic task.",
        classes=tuple(classes) if classes else None,
        extra_paths=extra,
        id_is_feature=bool(meta.get("id_is_feature")),
    )


def _encode(train: pd.DataFrame, spec: TaskSpec) -> np.ndarray:
    if spec.problem_type is ProblemType.BINARY:
        return (train[spec.train_target_columns[0]].astype(str) == spec.classes[1]).to_numpy(np.int64)  # type: ignore[index]
    if spec.problem_type is ProblemType.MULTICLASS:
        order = {c: i for i, c in enumerate(spec.classes or ())}
        return train[spec.train_target_columns[0]].map(order).to_numpy(np.int64)
    if spec.problem_type is ProblemType.TEXT:
        return np.asarray(train[list(spec.train_target_columns)].astype(str).to_numpy(), dtype=str)
    values = train[list(spec.train_target_columns)].to_numpy(float)
    if spec.problem_type is ProblemType.MULTILABEL:
        return values.astype(np.int64)
    return values[:, 0] if values.shape[1] == 1 else values


def run_script(
    task: Task,
    script: str,
    workdir: Path,
    executor: Executor,
    save_model: bool = False,
    budget_s: float = 60,
    mode: str = "explore",
) -> tuple[np.ndarray, np.ndarray]:
    """Run a script as the harness does (forked from a server that has the libraries imported, one
    thread, the contract's variables) and return its (oof, test) predictions."""
    _lay_out(task, script, workdir)
    extra = {
        contract.ENV_TIME_BUDGET: str(budget_s),
        contract.ENV_SEED: "7",
        contract.ENV_SAVE_MODEL: "1" if save_model else "0",
        contract.ENV_MODE: mode,  # what the harness says: the search explores, the hand-over does not
    }
    done = executor.run(workdir / "solution.py", workdir, Limits(timeout_s=240, env=tuple(extra.items())))
    assert done.ok, done.stderr_tail[-3000:]
    return _predictions(workdir)


def run_in_new_process(
    task: Task, script: str, workdir: Path, hash_seed: str
) -> tuple[np.ndarray, np.ndarray]:
    """Run a script in a Python process of its own with this string-hash seed (a forked script
    shares its server's), and return its (oof, test) predictions."""
    _lay_out(task, script, workdir)
    env = {**os.environ, "MLESTAR_THREADS": "1", "MLESTAR_TIME_BUDGET": "60", "MLESTAR_SEED": "7"}
    env.update(dict.fromkeys(("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"), "1"))
    env.update({"PYTHONHASHSEED": hash_seed, "MLESTAR_SAVE_MODEL": "0", "MLESTAR_MODE": "explore"})
    done = subprocess.run(
        [sys.executable, "solution.py"], cwd=workdir, env=env, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return _predictions(workdir)


def _lay_out(task: Task, script: str, workdir: Path) -> None:
    workdir.mkdir(parents=True)
    (workdir / "input").symlink_to(task.ctx.data_dir)
    (workdir / "solution.py").write_text(script)


def _predictions(workdir: Path) -> tuple[np.ndarray, np.ndarray]:
    return np.load(workdir / "output" / "oof.npy"), np.load(workdir / "output" / "test.npy")


def check_outputs(task: Task, oof: np.ndarray, test: np.ndarray) -> None:
    n_outputs = task.spec.n_outputs
    assert oof.shape == (len(task.train), n_outputs)
    assert test.shape == (len(task.test), n_outputs)
    assert np.isfinite(oof).all() and np.isfinite(test).all()
    if task.spec.problem_type is ProblemType.MULTICLASS:
        np.testing.assert_allclose(test.sum(axis=1), 1.0, atol=1e-6)


@pytest.fixture
def engineer() -> BuiltinEngineer:
    return BuiltinEngineer()


def test_scripts_give_the_same_predictions_in_every_process(
    tmp_path: Path, engineer: BuiltinEngineer
) -> None:
    """Same script, same inputs, a different string-hash seed: identical predictions."""
    task = make_task(tmp_path, "multi_target")
    script = engineer.check_data_usage(task.ctx, engineer.draft(task.ctx, engineer.retrieve(task.ctx, 1)[0]))
    assert script is not None
    first = run_in_new_process(task, script, tmp_path / "one", hash_seed="1")
    second = run_in_new_process(task, script, tmp_path / "two", hash_seed="2")
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


@pytest.mark.parametrize("kind", KINDS)
def test_draft_runs_and_writes_contract_outputs(
    tmp_path: Path, engineer: BuiltinEngineer, kind: str, script_executor: Executor
) -> None:
    task = make_task(tmp_path, kind)
    candidate = engineer.retrieve(task.ctx, 1)[0]
    script = engineer.draft(task.ctx, candidate)
    if kind == "multi_target":
        script = engineer.check_data_usage(task.ctx, script) or script
        assert "file_features" in script
    oof, test = run_script(
        task, script, tmp_path / "attempt", script_executor, save_model=kind == "multi_target"
    )
    check_outputs(task, oof, test)
    if kind == "multi_target":
        with open(tmp_path / "attempt" / "output" / "model.pkl", "rb") as handle:
            predictor = cloudpickle.load(handle)
        cwd = Path.cwd()
        os.chdir(tmp_path / "attempt")  # the predictor reads the rows' files through ./input
        try:
            np.testing.assert_allclose(predictor.predict(task.test), test, rtol=1e-6)
        finally:
            os.chdir(cwd)


REFINED = {
    # The multi-class (text, log loss) draft already stacks with a boosted meta-model.
    "binary": [
        "[plan: train +stack]",
        "[plan: model +slower_learning +target_encoding]",
        "[plan: features +group_sizes +amount_totals]",
        "[plan: preprocess +rare_categories]",
    ],
    "multiclass": ["[plan: model +tuned]", "[plan: train +stack]"],
    "regression": [
        "[plan: model +tuned +slower_learning +seed_bagging]",
        "[plan: features +codes_as_categories]",
    ],
}


@pytest.mark.parametrize(
    "kind",
    # Regression's tuned, seed-bagged ensemble takes half a minute: with the long checks.
    [pytest.param(k, marks=pytest.mark.slow) if k == "regression" else k for k in sorted(REFINED)],
)
def test_refined_ensemble_runs(
    tmp_path: Path, engineer: BuiltinEngineer, kind: str, script_executor: Executor
) -> None:
    """A merged and refined script (the heavier helpers: stacking, tuning, early stopping, seed bags,
    target encoding, more feature families) still honours the contract."""
    task = make_task(tmp_path, kind)
    candidates = engineer.retrieve(task.ctx, 2)
    script = engineer.draft(task.ctx, candidates[0])
    script = engineer.merge(task.ctx, script, engineer.draft(task.ctx, candidates[1]), candidates[1])
    for plan in REFINED[kind]:
        block = plan.split()[1]
        script = engineer.settle(
            task.ctx, replace_block(script, block, engineer.implement(task.ctx, script, block, plan))
        )
    assert block_names(script)[-1] == "main"
    oof, test = run_script(task, script, tmp_path / "attempt", script_executor, budget_s=10, save_model=True)
    check_outputs(task, oof, test)
    # The saved predictor answers new rows as the run answered test (rare levels learned once).
    with open(tmp_path / "attempt" / "output" / "model.pkl", "rb") as handle:
        np.testing.assert_allclose(cloudpickle.load(handle).predict(task.test), test, rtol=1e-6)


def test_spans_are_learned_from_the_training_spans(
    tmp_path: Path, engineer: BuiltinEngineer, script_executor: Executor
) -> None:
    """Answers that are pieces of the text: the learned word scorer beats copying the whole text on
    the task's own metric, and both write text answers the harness reads."""
    task = make_task(tmp_path, "spans")
    learned, copy = engineer.retrieve(task.ctx, 4)
    assert (learned.name, copy.name) == ("span_words", "copy_text")
    metric, answers = get_metric("word_jaccard"), np.load(task.ctx.data_dir / "target.npy")
    scores = {}
    for candidate in (learned, copy):
        oof, test = run_script(
            task, engineer.draft(task.ctx, candidate), tmp_path / candidate.name, script_executor
        )
        assert (
            oof.dtype.kind == "U" and oof.shape == (len(task.train), 1) and test.shape == (len(task.test), 1)
        )
        scores[candidate.name] = metric.score(answers, oof)
    assert scores["copy_text"] < 0.6 < scores["span_words"]


def test_time_neighbours_see_other_rows_answers_only() -> None:
    """The helper looks up the fitted rows strictly before and after each row in time: a training row
    never gets its own answer, a new row gets its nearest fitted rows'."""
    from mlestar.engineers.builtin import model_helpers

    namespace: dict = {"np": np, "pd": pd, "copy": __import__("copy"), "Any": object}
    exec("from sklearn.base import BaseEstimator", namespace)
    exec(model_helpers._TIME_NEIGHBOURS.replace("TIME_COLUMN_VALUE", '"when_days"'), namespace)

    class Echo:
        def fit(self, x: pd.DataFrame, y: np.ndarray) -> Echo:
            self.seen = x
            return self

        def predict(self, x: pd.DataFrame) -> np.ndarray:
            return x["answer_before"].to_numpy()

    x = pd.DataFrame({"num__when_days": [3.0, 1.0, 2.0, 5.0]})
    model = namespace["TimeNeighbours"](Echo()).fit(x, np.array([30.0, 10.0, 20.0, 50.0]))
    seen = model.model_.seen
    np.testing.assert_array_equal(seen["answer_before"], [20.0, np.nan, 10.0, 30.0])
    np.testing.assert_array_equal(seen["answer_after"], [50.0, 20.0, 30.0, np.nan])
    assert not (seen["answer_before"] == [30.0, 10.0, 20.0, 50.0]).any()
    np.testing.assert_array_equal(model.predict(pd.DataFrame({"num__when_days": [4.0, 2.0]})), [30.0, 10.0])


@pytest.mark.slow
def test_hours_between_train_hours_use_their_neighbours(
    tmp_path: Path, engineer: BuiltinEngineer, script_executor: Executor
) -> None:
    """A date-time id is a feature: its parts, cycles and neighbours in time; where test hours sit
    between train hours, the answers of neighbouring hours (fitted rows only) beat the parts alone."""
    task = make_task(tmp_path, "hourly")
    ctx = task.ctx
    script = engineer.draft(ctx, next(c for c in engineer.retrieve(ctx, 10) if c.name == "lightgbm"))
    plain_oof, _ = run_script(task, script, tmp_path / "plain", script_executor)
    for plan in ("[plan: features +date_cycles +time_lags]", "[plan: model +time_neighbours]"):
        block = plan.split()[1]
        script = replace_block(script, block, engineer.implement(ctx, script, block, plan))
    oof, test = run_script(task, script, tmp_path / "neighbours", script_executor)
    check_outputs(task, oof, test)
    target, metric = np.load(ctx.data_dir / "target.npy"), get_metric("rmsle")
    assert metric.score(target, oof) < 0.9 * metric.score(target, plain_oof)


def test_text_pairs_are_compared_row_by_row(
    tmp_path: Path, engineer: BuiltinEngineer, script_executor: Executor
) -> None:
    """Two phrase columns sharing a vocabulary are detected from the data; the draft compares them
    (similarities, shared words, edit ratio) and a table model learns the answer from that."""
    task = make_task(tmp_path, "pairs")
    first = engineer.retrieve(task.ctx, 3)[0]
    assert engineer.cards[first.name].inputs == "tabular"
    script = engineer.draft(task.ctx, first)
    assert 'TEXT_PAIRS = [("anchor", "target")]' in script
    oof, test = run_script(task, script, tmp_path / "attempt", script_executor)
    check_outputs(task, oof, test)
    assert get_metric("pearson").score(np.load(task.ctx.data_dir / "target.npy"), oof) > 0.8


def test_text_numbers_and_lists_in_one_table(
    tmp_path: Path, engineer: BuiltinEngineer, script_executor: Executor
) -> None:
    """List cells become bags of tokens, text its latent topics, next to the numbers; a linear member
    reads sparse TF-IDF beside the scaled numbers. The model learns from all three."""
    task = make_task(tmp_path, "mixed")
    ctx = task.ctx
    by_name = {c.name: c for c in engineer.retrieve(ctx, 30)}
    script = engineer.draft(ctx, by_name["lightgbm"])
    assert "add_list_tokens" in script and "add_text_topics" in script  # the text's topics, as numbers
    script = engineer.merge(ctx, script, engineer.draft(ctx, by_name["linear"]), by_name["linear"])
    assert "TfidfVectorizer" in get_block(script, "preprocess")
    oof, test = run_script(task, script, tmp_path / "attempt", script_executor, save_model=True)
    check_outputs(task, oof, test)
    assert get_metric("roc_auc").score(np.load(ctx.data_dir / "target.npy"), oof) > 0.75
    # The topics are fitted once, in the script, and travel with the model: predicting refits nothing.
    with open(tmp_path / "attempt" / "output" / "model.pkl", "rb") as handle:
        predictor = cloudpickle.load(handle)
    fitted = dict(predictor.features.fitted)
    assert any(key.startswith("topics ") for key in fitted)
    rows = pd.read_parquet(ctx.data_dir / "test.parquet").head(5)
    first = predictor.predict(rows)
    assert predictor.features.fitted == fitted  # the same fitted objects, none added or replaced
    assert np.allclose(first, test[:5])


def test_text_views_are_fitted_once_per_run_and_read_back(
    tmp_path: Path, engineer: BuiltinEngineer, script_executor: Executor
) -> None:
    """Under the harness (./input/cache exists) a text view is kept with what it made; the next
    attempt on the same texts reads it back instead of fitting again, and predicts the same."""
    task = make_task(tmp_path, "mixed")
    by_name = {c.name: c for c in engineer.retrieve(task.ctx, 30)}
    script = engineer.draft(task.ctx, by_name["svm_chars"])
    shared = task.ctx.data_dir / "cache"
    shared.mkdir()
    first, _ = run_script(task, script, tmp_path / "first", script_executor)
    assert feature_cache.share(tmp_path / "first" / "cache", shared) != []  # the fitted view, shared
    stored = sorted(p.name for p in shared.glob("view-*.pkl"))
    second, _ = run_script(task, script, tmp_path / "second", script_executor)
    assert not (tmp_path / "second" / "cache").exists()  # read back: nothing fitted, nothing written
    assert sorted(p.name for p in shared.glob("view-*.pkl")) == stored
    assert np.array_equal(first, second)


def test_tuning_searches_only_while_exploring_and_then_stays_frozen(
    tmp_path: Path, engineer: BuiltinEngineer, script_executor: Executor
) -> None:
    """FROZEN = None: the study runs only in explore mode and writes what it found; with those
    settings frozen into the script (as the search does) it never searches again, gives the same
    predictions every time, and a later rewrite of the model block keeps them without tuning code."""
    task = make_task(tmp_path, "binary")
    # A short study (a few trials, a time box of seconds): what is tested is when it runs, not what it finds.
    ctx, budget_s = replace(task.ctx, script_budget_s=10.0), 10.0
    draft = engineer.draft(ctx, engineer.retrieve(ctx, 1)[0])
    spliced = replace_block(draft, "model", engineer.implement(ctx, draft, "model", "[plan: model +tuned]"))
    tuned = engineer.settle(ctx, spliced)  # as the search does: load gains the fit_model tuning calls
    assert tuned.count("\nFROZEN = None\n") == 1
    run_script(task, tuned, tmp_path / "handover", script_executor, budget_s=budget_s, mode="handover")
    assert not (tmp_path / "handover" / "output" / "frozen.json").exists()
    run_script(task, tuned, tmp_path / "explore", script_executor, budget_s=budget_s)
    found = json.loads((tmp_path / "explore" / "output" / "frozen.json").read_text())
    assert list(found) == ["lightgbm"] and found["lightgbm"]
    frozen = tuned.replace("\nFROZEN = None\n", f"\nFROZEN = {found!r}\n")
    first = run_script(task, frozen, tmp_path / "frozen-1", script_executor, budget_s=budget_s)
    second = run_script(
        task, frozen, tmp_path / "frozen-2", script_executor, budget_s=budget_s, mode="handover"
    )
    np.testing.assert_array_equal(first[0], second[0])
    assert not (tmp_path / "frozen-1" / "output" / "frozen.json").exists()
    bagged = replace_block(
        frozen, "model", engineer.implement(ctx, frozen, "model", "[plan: model +seed_bagging]")
    )
    assert "def tune(" not in bagged and "FROZEN = {" in get_block(bagged, "model")
    recipe = read_recipe(bagged, engineer.cards)
    assert recipe.model.has("tuned") and recipe.model.frozen_settings() == found


def test_a_single_member_draft_and_its_settled_refinement_run(
    tmp_path: Path, engineer: BuiltinEngineer, script_executor: Executor
) -> None:
    """The short single-member form writes the contract's outputs and a predictor that answers test
    as the run did; a second member spliced in and settled (as the search does) runs too."""
    task = make_task(tmp_path, "binary")
    lightgbm = next(c for c in engineer.retrieve(task.ctx, 20) if c.name == "lightgbm")
    draft = engineer.draft(task.ctx, lightgbm)
    assert "class Combiner" not in draft
    plan = "[plan: model +add:xgboost]"
    spliced = replace_block(draft, "model", engineer.implement(task.ctx, draft, "model", plan))
    for name, script in (("draft", draft), ("added", engineer.settle(task.ctx, spliced))):
        oof, test = run_script(task, script, tmp_path / name, script_executor, budget_s=10, save_model=True)
        check_outputs(task, oof, test)
        with open(tmp_path / name / "output" / "model.pkl", "rb") as handle:
            np.testing.assert_allclose(cloudpickle.load(handle).predict(task.test), test, rtol=1e-6)
