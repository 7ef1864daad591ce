"""The model block: ensemble members built from model cards, with the model-level options.

Members are written as settings constants (NAME = {...}, read back with ast) and one statement each
in `make_models`, which returns name -> (input view, unfitted estimator). Boosted members always
stop early (model_helpers.EarlyStopped). Options (each a helper in the block, present only when
used): log_target, seed_bagging, target_encoding, time_neighbours, tuned (Optuna on the harness
folds within a time box).
"""

from __future__ import annotations

import ast
import re
import sys
import textwrap
from dataclasses import dataclass, field, replace
from typing import Any

from mlestar import syntax
from mlestar.engineers.builtin import model_helpers as helpers
from mlestar.engineers.builtin import tuning
from mlestar.engineers.builtin.cards import Card
from mlestar.engineers.builtin.pysrc import WIDTH, literal

OPTIONS = ("log_target", "seed_bagging", "target_encoding", "time_neighbours", "tuned")


@dataclass(frozen=True)
class Member:
    name: str
    card: str
    params: tuple[tuple[str, Any], ...]

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def constant(self) -> str:
        return self.name.upper()


@dataclass(frozen=True)
class ModelSpec:
    members: tuple[Member, ...]
    options: tuple[str, ...] = ()
    tune_trials: int = 0
    tune_share: float = 0.35
    """Share of the script's time budget the Optuna study may use."""
    frozen: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    """Settings the search froze after tuning, per member: rendered as FROZEN, with no tuning code."""
    time_column: str = ""
    """The elapsed-time feature time_neighbours orders rows by (a name ending the view's column)."""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def has(self, option: str) -> bool:
        return option in self.options

    def frozen_settings(self) -> dict[str, dict[str, Any]]:
        return {name: dict(settings) for name, settings in self.frozen}

    def with_(self, **changes: Any) -> ModelSpec:
        return replace(self, **changes)

    def tunes(self, member: Member, card: Card, problem_type: str) -> bool:
        """Tuning searches the first member's settings (when its card has a search space)."""
        return self.has("tuned") and member == self.members[0] and bool(card.space(problem_type))


def member_for(card: Card, problem_type: str, n_rows: int, name: str | None = None) -> Member:
    params = tuple(sorted(card.defaults(problem_type, n_rows).items()))
    return Member(name or card.name, card.name, params)


def render_model(spec: ModelSpec, cards: dict[str, Card], problem_type: str, metric: str) -> str:
    """The whole model block for these members and options."""
    used = [cards[m.card] for m in spec.members]
    role = used[0].role(problem_type) if used else "classifier"
    views_used = tuple(dict.fromkeys(c.view for c in used))
    parts = [
        _opening(spec, used) + "\n" + _imports(used, role, spec) + "\n\n"
        f"VIEWS = {literal(views_used)}  # the input views the members read; the preprocess block fits them\n"
        + "\n".join([*(_settings(m) for m in spec.members), helpers.constants(used)]).rstrip("\n"),
        *[c.helper_code(role) for c in _unique(used) if c.helper_code(role)],
    ]
    if spec.has("tuned"):
        parts.append(tuning.frozen_constant(spec))
    for member, card in zip(spec.members, used, strict=True):
        if spec.tunes(member, card, problem_type) and not spec.frozen:
            parts += [_space(member, card, problem_type, spec), _builder(member, card, role)]
    parts += helpers.render(spec, used, problem_type, metric)
    if spec.has("tuned") and not spec.frozen:
        parts.append(tuning.render(problem_type, metric))
    parts.append(_make_models(spec, used, problem_type, role))
    return "\n\n\n".join(p.strip("\n") for p in parts if p) + "\n"


def _opening(spec: ModelSpec, used: list[Card]) -> str:
    described = "; ".join(f"{m.name} ({c.title})" for m, c in zip(spec.members, used, strict=True))
    options = ", ".join(o.replace("_", " ") for o in spec.options) or "none"
    text = f"# Members: {described}. Options: {options}."
    return "\n".join(textwrap.wrap(text, WIDTH, subsequent_indent="# "))


def _unique(cards: list[Card]) -> list[Card]:
    seen: dict[str, Card] = {}
    for card in cards:
        seen.setdefault(card.name, card)
    return list(seen.values())


def _imports(cards: list[Card], role: str, spec: ModelSpec) -> str:
    lines: set[str] = set()
    for card in cards:
        lines.update(line for line in card.imports.get(role, "").splitlines() if line.strip())
    lines.update(helpers.imports(spec, cards, role))
    return "\n".join(sorted(merge_imports(lines), key=import_order))


def merge_imports(lines: set[str]) -> set[str]:
    """One `from module import a, b` line per module, so no name is imported twice."""
    names: dict[str, set[str]] = {}
    plain = set()
    for line in lines:
        if line.startswith("from ") and " import " in line:
            module, _, imported = line[len("from ") :].partition(" import ")
            names.setdefault(module, set()).update(n.strip() for n in imported.split(","))
        else:
            plain.add(line)
    return plain | {f"from {m} import {', '.join(sorted(n, key=str.lower))}" for m, n in names.items()}


def import_order(line: str) -> tuple[bool, bool, str]:
    """Standard library first, then third-party; plain imports before from-imports, by module."""
    module = line.split()[1]
    return (module.split(".")[0] not in sys.stdlib_module_names, line.startswith("from "), module)


def _settings(member: Member) -> str:
    head = f"{member.constant} = "
    return f"{head}{literal(dict(sorted(member.settings.items())), 0, len(head))}"


COUNTS = ("n_estimators", "iterations", "max_iter")
"""Settings early stopping decides (a cap on the rounds): tuning leaves them alone for boosted members."""


def _space(member: Member, card: Card, problem_type: str, spec: ModelSpec) -> str:
    space = {k: tuple(v) for k, v in sorted(card.space(problem_type).items())}
    if card.boosting:
        space = {k: v for k, v in space.items() if k not in COUNTS}
    head = f"{member.constant}_SPACE = "
    return (
        f"{head}{literal(space, 0, len(head))}\n"
        '"""Optuna search space: (low, high, "log" | "int" | "float")."""\n'
        f"TUNE_TRIALS = {spec.tune_trials}\n"
        f"TUNE_SHARE = {spec.tune_share}\n"
        '"""The study stops after TUNE_TRIALS trials or this share of the time budget."""'
    )


def _expression(card: Card, role: str, settings: str) -> str:
    return " ".join(card.estimator[role].replace("PARAMS", settings).split())


def _builder(member: Member, card: Card, role: str) -> str:
    expression = _expression(card, role, "settings")
    inputs = ", inputs: dict[str, Any]" if "inputs" in expression else ""
    return (
        f"def {member.name}_model(settings: dict[str, Any]{inputs}) -> Any:\n"
        f"    return {_wrap_call(expression, 4, 7)}\n"
    )


def _wrap_call(expression: str, indent: int, head: int) -> str:
    """A long call with its arguments on continuation lines."""
    name, _, rest = expression.partition("(")
    if indent + head + len(expression) <= WIDTH or not rest.endswith(")"):
        return expression
    pad = " " * (indent + 4)
    body = textwrap.wrap(rest[:-1], WIDTH - len(pad), break_long_words=False, break_on_hyphens=False)
    return f"{name}(\n" + "".join(f"{pad}{line}\n" for line in body) + " " * indent + ")"


def _make_models(spec: ModelSpec, cards: list[Card], problem_type: str, role: str) -> str:
    lines, mixed = [], helpers.mixed_boosting(cards)
    for member, card in zip(spec.members, cards, strict=True):
        settings = member.constant
        if spec.tunes(member, card, problem_type) and spec.frozen:
            lines.append(f'    {member.name}_settings = {{**{settings}, **FROZEN["{member.name}"]}}')
            estimator = _expression(card, role, f"{member.name}_settings")
        elif spec.tunes(member, card, problem_type):
            # Tuning fits one seed: the seed bag would triple every trial for little information.
            single = spec.with_(options=tuple(o for o in spec.options if o != "seed_bagging"))
            inputs = ", inputs" if "inputs" in _expression(card, role, "s") else ""
            build = helpers.wrap(f"{member.name}_model(s{inputs})", single, card, problem_type, mixed)
            lines.append(
                f'    {member.name}_settings = tuned_settings(\n        "{member.name}", {settings}, {settings}_SPACE, '
                f'lambda s: {build}, inputs["{card.view}"], target, folds,\n    )'
            )
            estimator = f"{member.name}_model({member.name}_settings{inputs})"
        else:
            estimator = _expression(card, role, settings)
        head = f"    {member.name} = "
        whole = helpers.wrap(estimator, spec, card, problem_type, mixed)
        if len(head) + len(whole) <= WIDTH:  # the estimator in its wrappers, on one line
            lines.append(head + whole)
            continue
        lines.append(head + _wrap_call(estimator, 4, len(head) - 4))
        wrapped = helpers.wrap(member.name, spec, card, problem_type, mixed)
        if wrapped != member.name:
            lines.append(f"    {member.name} = {wrapped}")
    entries = ", ".join(
        f'"{m.name}": ("{c.view}", {m.name})' for m, c in zip(spec.members, cards, strict=True)
    )
    returned = f"    return {{{entries}}}"
    if len(returned) > WIDTH:
        rows = [
            f'        "{m.name}": ("{c.view}", {m.name}),' for m, c in zip(spec.members, cards, strict=True)
        ]
        returned = "    return {\n" + "\n".join(rows) + "\n    }"
    return (
        "def make_models(inputs: dict[str, Any], target: np.ndarray, folds: np.ndarray) -> dict[str, tuple[str, Any]]:\n"
        + "\n".join(lines)
        + "\n"
        + returned
        + "\n"
    )


def read_model(block: str) -> ModelSpec:
    """The members and options of a model block written by render_model."""
    tree = syntax.parse(block)
    constants: dict[str, Any] = {}
    members_found: list[tuple[str, str]] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                constants[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
        elif isinstance(node, ast.FunctionDef) and node.name == "make_models":
            members_found = _returned_members(node)
    members = [
        Member(name, _card_of(name), tuple(sorted(dict(constants.get(name.upper(), {})).items())))
        for name, _view in members_found
    ]
    frozen = constants.get("FROZEN")
    tuned = "def tune(" in block or isinstance(frozen, dict)
    options = tuple(
        o for o in OPTIONS if (o == "tuned" and tuned) or (o != "tuned" and helpers.detect(o, block))
    )
    return ModelSpec(
        tuple(members),
        options,
        int(constants.get("TUNE_TRIALS", 0)),
        float(constants.get("TUNE_SHARE", 0.35)),
        frozen=_frozen(frozen),
        time_column=str(constants.get("NEIGHBOUR_TIME", "")),
    )


def _frozen(value: Any) -> tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]:
    """FROZEN as the search wrote it ({member: {setting: value}}), in a comparable form."""
    if not isinstance(value, dict):
        return ()
    return tuple(
        (str(name), tuple(sorted(dict(settings).items()))) for name, settings in sorted(value.items())
    )


def _returned_members(function: ast.FunctionDef) -> list[tuple[str, str]]:
    """(name, view) of each entry of the dict make_models returns."""
    for node in ast.walk(function):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Dict):
            found = []
            for key, value in zip(node.value.keys, node.value.values, strict=True):
                if isinstance(key, ast.Constant) and isinstance(value, ast.Tuple) and value.elts:
                    view = value.elts[0]
                    found.append((str(key.value), str(view.value) if isinstance(view, ast.Constant) else ""))
            return found
    return []


def _card_of(member_name: str) -> str:
    """Member names are card names, with a numeric suffix when a card appears twice."""
    return re.sub(r"_\d+$", "", member_name)
