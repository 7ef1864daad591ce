"""The settings of a block that a generic edit may turn: model parameters and constants.

Found on the syntax tree of any script, whoever wrote it:
  - keyword arguments of calls (LGBMRegressor(n_estimators=300), Ridge(alpha=2.0)) whose name
    says what they do, and, for the model classes of the libraries a solution may use, the
    parameters left at their defaults (known, so they can be set);
  - entries of parameter dictionaries ({"learning_rate": 0.05, "num_leaves": 63});
  - module-level constants whose name says what they are (N_ESTIMATORS = 500, RIDGE = 1.0).
Only numbers written as literals count: a setting computed by the script is left alone.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from mlestar import blocks, syntax

KEYWORD_KINDS: dict[str, str] = {
    "n_estimators": "rounds",
    "iterations": "rounds",
    "num_boost_round": "rounds",
    "num_iterations": "rounds",
    "learning_rate": "rate",
    "eta": "rate",
    "alpha": "reg",
    "reg_lambda": "reg",
    "lambda_l2": "reg",
    "l2_leaf_reg": "reg",
    "l2_regularization": "reg",
    "C": "inv_reg",
    "max_depth": "depth",
    "depth": "depth",
    "num_leaves": "leaves",
    "max_leaf_nodes": "leaves",
    "min_child_samples": "min_leaf",
    "min_samples_leaf": "min_leaf",
    "min_data_in_leaf": "min_leaf",
    "min_child_weight": "min_leaf",
    "subsample": "subsample",
    "bagging_fraction": "subsample",
    "colsample_bytree": "subsample",
    "feature_fraction": "subsample",
    "subsample_freq": "bagging_freq",
    "bagging_freq": "bagging_freq",
    "n_neighbors": "neighbors",
}
"""Parameter name -> what it does. max_iter counts rounds only for HistGradientBoosting."""

CLASS_DEFAULTS: dict[str, tuple[str, dict[str, float]]] = {
    "LGBM": ("boosting", {"n_estimators": 100, "learning_rate": 0.1, "num_leaves": 31,
                          "min_child_samples": 20, "reg_lambda": 0.0, "subsample": 1.0,
                          "subsample_freq": 0, "colsample_bytree": 1.0}),
    "XGB": ("boosting", {"n_estimators": 100, "learning_rate": 0.3, "max_depth": 6,
                         "min_child_weight": 1.0, "reg_lambda": 1.0, "subsample": 1.0,
                         "colsample_bytree": 1.0}),
    "CatBoost": ("boosting", {"depth": 6, "l2_leaf_reg": 3.0}),
    "HistGradientBoosting": ("boosting", {"max_iter": 100, "learning_rate": 0.1, "max_leaf_nodes": 31,
                                          "min_samples_leaf": 20, "l2_regularization": 0.0}),
    "GradientBoosting": ("boosting", {"n_estimators": 100, "learning_rate": 0.1, "max_depth": 3,
                                      "min_samples_leaf": 1, "subsample": 1.0}),
    "RandomForest": ("forest", {"n_estimators": 100, "min_samples_leaf": 1}),
    "ExtraTrees": ("forest", {"n_estimators": 100, "min_samples_leaf": 1}),
    "LogisticRegression": ("linear", {"C": 1.0}),
    "LinearSVC": ("linear", {"C": 1.0}),
    "SVC": ("kernel", {"C": 1.0}),
    "SVR": ("kernel", {"C": 1.0}),
    "RidgeClassifier": ("linear", {"alpha": 1.0}),
    "Ridge": ("linear", {"alpha": 1.0}),
    "Lasso": ("linear", {"alpha": 1.0}),
    "ElasticNet": ("linear", {"alpha": 1.0}),
    "KNeighbors": ("neighbors", {"n_neighbors": 5}),
    "MLP": ("network", {"alpha": 0.0001}),
}  # fmt: skip
"""Model classes by name prefix: their family and the defaults of the parameters worth turning
(CatBoost picks its learning rate and rounds itself, so they are left to it)."""

_CONSTANT_WORDS: dict[str, str] = {
    "ESTIMATORS": "rounds", "ROUNDS": "rounds", "ITERATIONS": "rounds", "TREES": "rounds",
    "LR": "rate", "RATE": "rate", "ETA": "rate",
    "ALPHA": "reg", "RIDGE": "reg", "LAMBDA": "reg", "L2": "reg", "REG": "reg", "PENALTY": "reg",
    "C": "inv_reg", "DEPTH": "depth", "LEAVES": "leaves", "NEIGHBORS": "neighbors", "NEIGHBOURS": "neighbors",
}  # fmt: skip
_UPPER = re.compile(r"^[A-Z][A-Z0-9_]*$")


@dataclass(frozen=True)
class Knob:
    name: str
    """The parameter or constant name."""
    kind: str
    """What turning it does: rounds, rate, reg, inv_reg, depth, leaves, min_leaf, subsample,
    bagging_freq, neighbors."""
    value: float
    integer: bool
    owner: str
    """The class, dictionary or "constants" it belongs to, with its place: "LGBMRegressor@12:8"."""
    family: str
    """boosting, forest, linear, kernel, neighbors, network, or "" when unknown."""
    start: int
    """Where its value is written in the script (characters), or where a new keyword goes."""
    end: int
    explicit: bool
    """False: left at the class default; setting it inserts a keyword argument."""


def find_knobs(script: str, block: str) -> list[Knob]:
    """Every knob in one block of the script, in the order they appear."""
    tree = syntax.parse(script)
    first, last = _line_range(script, block)
    lines = _line_starts(script)
    found: list[Knob] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if not first <= line <= last:
            continue
        if isinstance(node, ast.Call):
            found += _call_knobs(node, script, lines)
        elif isinstance(node, ast.Dict):
            found += _dict_knobs(node, script, lines)
    found += _constant_knobs(tree, first, last, script, lines)
    return sorted(found, key=lambda k: (k.start, k.name))


def family_of(owner_name: str) -> tuple[str, dict[str, float]]:
    for prefix, (family, defaults) in CLASS_DEFAULTS.items():
        if owner_name.startswith(prefix):
            return family, defaults
    return "", {}


def _call_knobs(node: ast.Call, script: str, lines: list[int]) -> list[Knob]:
    name = _called(node.func)
    family, defaults = family_of(name)
    owner = f"{name}@{node.lineno}:{node.col_offset}"
    kinds = (
        dict(KEYWORD_KINDS, max_iter="rounds") if name.startswith("HistGradientBoosting") else KEYWORD_KINDS
    )
    found, given = [], set()
    for kw in node.keywords:
        given.add(kw.arg)
        number = _number(kw.value)
        if kw.arg in kinds and number is not None:
            start, end = _span(kw.value, lines, script)
            found.append(Knob(kw.arg, kinds[kw.arg], number[0], number[1], owner, family, start, end, True))
    if None in given or not defaults:  # **kwargs may already hold anything: add nothing
        return found
    at = _insertion_point(node, lines, script)
    for param, value in defaults.items():
        if param not in given:
            integer = isinstance(value, int) and not isinstance(value, bool)
            found.append(Knob(param, kinds[param], float(value), integer, owner, family, at, at, False))
    return found


def _dict_knobs(node: ast.Dict, script: str, lines: list[int]) -> list[Knob]:
    found = []
    owner = f"params@{node.lineno}:{node.col_offset}"
    for key, value in zip(node.keys, node.values, strict=True):
        if not (isinstance(key, ast.Constant) and key.value in KEYWORD_KINDS):
            continue
        number = _number(value)
        if number is not None:
            start, end = _span(value, lines, script)
            kind = KEYWORD_KINDS[str(key.value)]
            found.append(Knob(str(key.value), kind, number[0], number[1], owner, "", start, end, True))
    return found


def _constant_knobs(tree: ast.Module, first: int, last: int, script: str, lines: list[int]) -> list[Knob]:
    found = []
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and first <= node.lineno <= last and len(node.targets) == 1):
            continue
        target = node.targets[0]
        number = _number(node.value)
        if not isinstance(target, ast.Name) or not _UPPER.match(target.id) or number is None:
            continue
        kinds = [_CONSTANT_WORDS[w] for w in target.id.split("_") if w in _CONSTANT_WORDS]
        if kinds:
            start, end = _span(node.value, lines, script)
            found.append(Knob(target.id, kinds[-1], number[0], number[1], "constants", "", start, end, True))
    return found


def _number(node: ast.expr) -> tuple[float, bool] | None:
    """(value, is an integer) of a numeric literal, signs included; None for anything else."""
    sign = 1.0
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
        node = node.operand
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    ):
        return sign * float(node.value), isinstance(node.value, int)
    return None


def _called(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _line_range(script: str, block: str) -> tuple[int, int]:
    """The first and last line numbers (1-based) of a block's body."""
    found = [b for b in blocks.parse_blocks(script) if b.name == block]
    if len(found) != 1:
        raise blocks.BlockError(f"expected one block named {block!r}; found {len(found)}")
    b = found[0]
    return script.count("\n", 0, b.body_start) + 1, script.count("\n", 0, max(b.body_start, b.end - 1)) + 1


def _line_starts(script: str) -> list[int]:
    starts = [0]
    for i, ch in enumerate(script):
        if ch == "\n":
            starts.append(i + 1)
    return starts


def _offset(lines: list[int], script: str, lineno: int, col_bytes: int) -> int:
    """A character offset from ast's line number and UTF-8 byte column."""
    start = lines[lineno - 1]
    end = lines[lineno] if lineno < len(lines) else len(script)
    return start + len(script[start:end].encode("utf-8")[:col_bytes].decode("utf-8", "ignore"))


def _span(node: ast.expr, lines: list[int], script: str) -> tuple[int, int]:
    start = _offset(lines, script, node.lineno, node.col_offset)
    end = _offset(lines, script, node.end_lineno or node.lineno, node.end_col_offset or node.col_offset)
    return start, end


def _insertion_point(node: ast.Call, lines: list[int], script: str) -> int:
    """Right after the call's last argument (before the spaces and the closing parenthesis)."""
    _, end = _span(node, lines, script)
    at = end - 1
    while at > 0 and script[at - 1].isspace():
        at -= 1
    return at
