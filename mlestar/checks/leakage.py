"""Leakage checks usable on any solution script (built-in or LLM-written).

Static (the script's syntax tree):
  - a path outside ./input read, or a file named like the answers (answers.csv, private/...)
  - a supervised fit on test rows, or on validation rows (names such as x_val, valid_rows, y_test)
  - a train-only column (the answers or their proxies) named anywhere but in a drop
  - the encoded answers written into a feature table (frame[...] = target)
Dynamic (the run's data folder): a single input column that alone predicts the answer almost
perfectly is reported for review; it is often a leak, sometimes a genuinely decisive feature.

leakage_hints() gives both for one script, as an engineer shows them to whoever judges it.
"""

from __future__ import annotations

import ast
import json
import re
import threading
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from mlestar import syntax

_READERS = {
    "open",
    "read_csv",
    "read_parquet",
    "read_json",
    "read_table",
    "read_excel",
    "read_feather",
    "read_pickle",
    "load",
    "loadtxt",
    "genfromtxt",
    "Path",
    "imread",
    "read_text",
    "read_bytes",
    "glob",
    "listdir",
    "scandir",
}
_ANSWER_FILE = re.compile(
    r"(^|/)(private|answers?|solution|ground_truth|labels?_test)(\.|/|$)", re.IGNORECASE
)
_HELD_OUT = re.compile(r"(^|_)(val|valid|validation|holdout|held_out|test|tst|dev)(_|$|\d)", re.IGNORECASE)
_ANSWER_NAME = re.compile(r"(^|_)(y|target|targets|label|labels|answer|answers)(_|$)", re.IGNORECASE)
_FIT_METHODS = {"fit", "fit_transform", "fit_predict", "partial_fit"}
_SAFE_EVAL = {"eval_set", "validation_data", "eval_X", "X_val", "X_valid"}
_DROP_CALLS = {"drop", "pop", "difference", "remove", "discard"}
NEAR_PERFECT = 0.995


def leakage_hints(
    script: str, profile: Mapping[str, Any], answers: Sequence[str], data_dir: Path | None = None
) -> list[str]:
    """Static findings on the script, then (with the run's data folder) the columns that alone
    give the answer away. profile: the task profile (its "train_only" and "features")."""
    train_only = [str(c) for c in profile.get("train_only", ())]
    found = static_leaks(script, train_only, list(answers))
    if data_dir is not None:
        found += column_leaks(data_dir, profile)
    return found


def column_leaks(data_dir: Path, profile: Mapping[str, Any]) -> list[str]:
    """dynamic_leaks, judged once per run folder and profile: the data does not change during a
    run. A caller that comes while another is judging them waits for its answer (a run starts the
    judging beside its first scripts, so the check stage finds it done)."""
    with _judging:
        return list(_dynamic_once(str(data_dir), json.dumps(dict(profile), sort_keys=True, default=str)))


_judging = threading.Lock()


@lru_cache(maxsize=8)
def _dynamic_once(data_dir: str, profile_json: str) -> tuple[str, ...]:
    return tuple(dynamic_leaks(Path(data_dir), json.loads(profile_json)))


def static_leaks(
    script: str, train_only: list[str] | tuple[str, ...], answers: list[str] | tuple[str, ...] = ()
) -> list[str]:
    """Findings from the script text alone; [] when it looks clean (or cannot be parsed).

    train_only: columns of train that test lacks; answers: those of them that are the answers
    (reading an answer column as the label is fine; using it to make features is not)."""
    try:
        tree = syntax.parse(script)
    except SyntaxError:
        return []
    _link_parents(tree)
    answer_names = _answer_names(tree)
    findings: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            findings += _path_leaks(node) + _fit_leaks(node)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in train_only:
            if not _inside_drop(node) and (node.value not in answers or _feature_context(node)):
                findings.append(
                    f"line {node.lineno}: uses the train-only column {node.value!r} (answers are never features)"
                )
        elif isinstance(node, ast.Assign):
            findings += _answer_column_leaks(node, answer_names)
    return sorted(set(findings), key=_line_number)


def _link_parents(tree: ast.AST) -> None:
    for parent in ast.walk(tree):
        for child in ast.iter_child_nodes(parent):
            child.parent = parent  # type: ignore[attr-defined]


def _line_number(finding: str) -> int:
    match = re.match(r"line (\d+)", finding)
    return int(match.group(1)) if match else 0


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _path_leaks(node: ast.Call) -> list[str]:
    if _call_name(node) not in _READERS:
        return []
    found = []
    for arg in [*node.args, *[k.value for k in node.keywords]]:
        for const in ast.walk(arg):
            if isinstance(const, ast.Constant) and isinstance(const.value, str):
                text = const.value
                outside = text.startswith(("/", "~")) or ".." in Path(text).parts
                if outside or _ANSWER_FILE.search(text):
                    found.append(f"line {node.lineno}: reads {text!r}, outside ./input or an answers file")
    return found


def _names_in(node: ast.AST) -> list[str]:
    names = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            names.append(sub.id)
        elif isinstance(sub, ast.Attribute):
            names.append(sub.attr)
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            names.append(sub.value)
    return names


def _fit_leaks(node: ast.Call) -> list[str]:
    """A supervised fit (two or more positional arguments) on rows, or with answers, named as
    validation or test."""
    if _call_name(node) not in _FIT_METHODS or len(node.args) < 2:
        return []
    # The rows are the first argument; the second is only suspect when it names held-out answers,
    # so an unsupervised `features.fit(train, test)` (vocabulary, frequencies) is not a finding.
    rows = [n for n in _names_in(node.args[0]) if _HELD_OUT.search(n)]
    answers = [n for n in _names_in(node.args[1]) if _HELD_OUT.search(n) and _ANSWER_NAME.search(n)]
    held = sorted({*rows, *answers})
    if not held:
        return []
    return [
        f"line {node.lineno}: fits with answers on held-out rows ({', '.join(held)}): validation or test data"
    ]


def _inside_drop(node: ast.AST) -> bool:
    """Inside a drop/pop call, a `not in`/`!=` test, or a subscript of a Series of answers being removed."""
    current = node
    while hasattr(current, "parent"):
        current = current.parent
        if isinstance(current, ast.Call) and _call_name(current) in _DROP_CALLS:
            return True
        if isinstance(current, ast.Compare) and any(
            isinstance(op, ast.NotIn | ast.NotEq) for op in current.ops
        ):
            return True
        if isinstance(current, ast.Delete):
            return True
        if isinstance(current, ast.stmt):
            return False
    return False


_STATISTICS = {"groupby", "agg", "aggregate", "transform", "map", "merge", "pivot_table", "apply", "join"}


def _feature_context(node: ast.AST) -> bool:
    """An answer column in a feature list, a per-group statistic, or a new table column."""
    current = node
    while hasattr(current, "parent"):
        parent = current.parent
        if isinstance(parent, ast.List | ast.Tuple | ast.Set) and not isinstance(
            getattr(parent, "parent", None), ast.Subscript
        ):
            return True
        if isinstance(parent, ast.Call) and _call_name(parent) in _STATISTICS:
            return True
        if isinstance(parent, ast.Assign) and current is parent.value:
            return any(isinstance(t, ast.Subscript) for t in parent.targets)
        if isinstance(parent, ast.stmt):
            return False
        current = parent
    return False


def _answer_names(tree: ast.AST) -> set[str]:
    """Variables loaded from target.npy."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(c, ast.Constant) and isinstance(c.value, str) and "target.npy" in c.value
            for c in ast.walk(node.value)
        ):
            names.update(t.id for target in node.targets for t in ast.walk(target) if isinstance(t, ast.Name))
    return names


def _answer_column_leaks(node: ast.Assign, answers: set[str]) -> list[str]:
    """frame["col"] = target: the answers stored as a column of a table that holds features."""
    if not answers or not any(isinstance(t, ast.Subscript) for t in node.targets):
        return []
    if isinstance(node.value, ast.Name) and node.value.id in answers:
        return [f"line {node.lineno}: stores the answers ({node.value.id}) as a table column"]
    return []


def dynamic_leaks(data_dir: Path, profile: dict[str, Any], max_rows: int = 20_000) -> list[str]:
    """Input columns that alone predict the answer almost perfectly on the harness folds."""
    train_path, target_path = data_dir / "train.parquet", data_dir / "target.npy"
    if not train_path.exists() or not target_path.exists():
        return []
    target = np.load(target_path, allow_pickle=False)
    present = set(pq.read_schema(train_path).names)
    kinds = profile.get("columns", {})
    columns = [
        c for c in profile.get("features", []) if c in present and kinds.get(c, {}).get("kind") != "text"
    ]
    train = pd.read_parquet(train_path, columns=columns).head(max_rows)
    target = target[: len(train)]
    folds = _folds(data_dir, len(train))
    found = []
    for column in columns:
        score = single_column_score(train[column], target, folds)
        if score is not None and score >= NEAR_PERFECT:
            found.append(
                f"column {column!r} alone predicts the answer almost perfectly (out-of-fold score {score:.4f}): "
                "review whether it leaks the answer"
            )
    return found


def _folds(data_dir: Path, n: int) -> np.ndarray:
    path = data_dir / "folds.npy"
    if path.exists():
        return np.load(path)[:n]
    return np.arange(n) % 5


def single_column_score(values: pd.Series, target: np.ndarray, folds: np.ndarray) -> float | None:
    """How well one column predicts the answer out of fold, on a 0..1 scale (1 = perfectly).

    Classification: accuracy of the majority answer per value (binned when numeric) over the
    accuracy left to explain. Regression: R^2 of the mean answer per value."""
    if target.ndim > 1:
        target = target[:, 0]
    keys = _keys(values)
    if keys is None:
        return None
    classification = np.issubdtype(target.dtype, np.integer) or len(np.unique(target)) <= 20
    values_seen, keys = np.unique(keys, return_inverse=True)  # keys 0..K-1, for counting with bincount
    keys = keys.ravel()
    per_key = _majority_per_key if classification else _mean_per_key
    predicted = np.full(len(target), np.nan)
    for k in np.unique(folds[folds >= 0]):
        fit, valid = (folds >= 0) & (folds != k), folds == k
        predicted[valid] = per_key(keys[fit], target[fit], len(values_seen))[keys[valid]]
    used = ~np.isnan(predicted)
    if used.sum() < 0.9 * (folds >= 0).sum():
        return None
    y, p = target[used].astype(float), predicted[used]
    if classification:
        return float((y == p).mean())
    variance = float(np.var(y))
    return 1 - float(np.mean((y - p) ** 2)) / variance if variance > 0 else None


def _keys(values: pd.Series) -> np.ndarray | None:
    if pd.api.types.is_numeric_dtype(values) and values.nunique() > 50:
        ranks = values.rank(method="dense")
        return np.asarray(pd.cut(ranks, bins=50, labels=False).fillna(-1).astype(int))
    codes = pd.factorize(values.astype("object").fillna("(missing)"))[0]
    if len(np.unique(codes)) > 0.5 * len(codes):
        return None
    return np.asarray(codes)


def _majority_per_key(keys: np.ndarray, answers: np.ndarray, n_keys: int) -> np.ndarray:
    """The most frequent answer of each key (the smallest on a tie; NaN for a key without rows),
    counted in one bincount: a pandas mode per group took seconds on a 30-column table."""
    classes, codes = np.unique(answers, return_inverse=True)
    counts = np.bincount(keys * len(classes) + codes.ravel(), minlength=n_keys * len(classes))
    counts = counts.reshape(n_keys, len(classes))
    majority = classes[counts.argmax(axis=1)].astype(float)
    majority[counts.sum(axis=1) == 0] = np.nan
    return majority


def _mean_per_key(keys: np.ndarray, answers: np.ndarray, n_keys: int) -> np.ndarray:
    """The mean answer of each key (NaN for a key without rows)."""
    rows = np.bincount(keys, minlength=n_keys).astype(float)
    sums = np.bincount(keys, weights=answers.astype(float), minlength=n_keys)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(rows > 0, sums / rows, np.nan)
