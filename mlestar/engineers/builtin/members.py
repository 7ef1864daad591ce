"""The model block: ensemble members built from model cards, with the model-level options.

Members are written as settings constants (NAME = {...}, read back with ast) and builder functions
(`def name_model(settings)`); `make_models` returns name -> (input view, unfitted estimator).
Options (each a helper in the block, present only when used): log_target, early_stopping,
seed_bagging, target_encoding, tuned (Optuna on the harness folds within a time box).
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass, field
from typing import Any

from mlestar import syntax
from mlestar.engineers.builtin import model_helpers as helpers
from mlestar.engineers.builtin.cards import Card
from mlestar.engineers.builtin.pysrc import literal

OPTIONS = ("log_target", "early_stopping", "seed_bagging", "target_encoding", "tuned")


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
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def has(self, option: str) -> bool:
        return option in self.options


def member_for(card: Card, problem_type: str, n_rows: int, name: str | None = None) -> Member:
    params = tuple(sorted(card.defaults(problem_type, n_rows).items()))
    return Member(name or card.name, card.name, params)


def render_model(spec: ModelSpec, cards: dict[str, Card], problem_type: str, metric: str) -> str:
    """The whole model block for these members and options."""
    used = [cards[m.card] for m in spec.members]
    role = used[0].role(problem_type) if used else "classifier"
    views_used = tuple(dict.fromkeys(c.view for c in used))
    described = "; ".join(f"{m.name} ({c.title})" for m, c in zip(spec.members, used, strict=True))
    options = ", ".join(o.replace("_", " ") for o in spec.options) or "none"
    summary = "\n".join(
        textwrap.wrap(f"# Members: {described}. Options: {options}.", 100, subsequent_indent="# ")
    )
    views_doc = '"""The input views the members read; the preprocess block fits only these."""'
    parts = [
        summary + "\n" + _imports(used, role, spec),
        f"VIEWS = {literal(views_used)}\n{views_doc}",
        *[c.helpers for c in _unique(used) if c.helpers],
    ]
    for member, card in zip(spec.members, used, strict=True):
        parts.append(_settings(member, card))
        if spec.has("tuned") and member == spec.members[0] and card.space(problem_type):
            parts.append(_space(member, card, problem_type, spec))
        parts.append(_builder(member, card, role))
    parts += helpers.render(spec, used, problem_type, metric)
    parts.append(_make_models(spec, used, problem_type))
    return "\n\n\n".join(p.strip("\n") for p in parts if p) + "\n"


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
    return "\n".join(sorted(lines, key=import_order))


_STDLIB = {"copy", "re", "functools", "collections", "json", "math", "os", "time", "itertools", "typing"}


def import_order(line: str) -> tuple[bool, bool, str]:
    """Standard library first, then third-party; plain imports before from-imports, by module."""
    module = line.split()[1]
    return (module.split(".")[0] not in _STDLIB, line.startswith("from "), module)


def _settings(member: Member, card: Card) -> str:
    return f'{member.constant} = {_literal(member.settings)}\n"""{card.title}: settings."""'


def _literal(settings: dict[str, Any]) -> str:
    return literal(dict(sorted(settings.items())))


COUNTS = ("n_estimators", "iterations", "max_iter")
"""Settings early stopping decides; tuning leaves them alone when it is on."""


def _space(member: Member, card: Card, problem_type: str, spec: ModelSpec) -> str:
    space = {k: tuple(v) for k, v in sorted(card.space(problem_type).items())}
    if spec.has("early_stopping") and card.boosting:
        space = {k: v for k, v in space.items() if k not in COUNTS}
    return (
        f"{member.constant}_SPACE = {literal(space)}\n"
        '"""Optuna search space: (low, high, "log" | "int" | "float")."""\n'
        f"TUNE_TRIALS = {spec.tune_trials}\n"
        f"TUNE_SHARE = {spec.tune_share}\n"
        '"""The study stops after TUNE_TRIALS trials or this share of the time budget."""'
    )


def _builder(member: Member, card: Card, role: str) -> str:
    expression = " ".join(card.estimator[role].replace("PARAMS", "settings").split())
    return (
        f"def {member.name}_model(settings: dict[str, Any], inputs: dict[str, Any]) -> Any:\n"
        f"    return {_wrap_call(expression, 4)}\n"
    )


def _wrap_call(expression: str, indent: int) -> str:
    """A long call with its arguments on continuation lines."""
    head, _, rest = expression.partition("(")
    if len(expression) + indent + 7 <= 100 or not rest.endswith(")"):
        return expression
    pad = " " * (indent + 4)
    body = textwrap.wrap(rest[:-1], 100 - len(pad), break_long_words=False, break_on_hyphens=False)
    return f"{head}(\n" + "".join(f"{pad}{line}\n" for line in body) + " " * indent + ")"


def _make_models(spec: ModelSpec, cards: list[Card], problem_type: str) -> str:
    lines = []
    for member, card in zip(spec.members, cards, strict=True):
        settings = member.constant
        if spec.has("tuned") and member == spec.members[0] and card.space(problem_type):
            # Tuning fits one seed: the seed bag would triple every trial for little information.
            single = ModelSpec(spec.members, tuple(o for o in spec.options if o != "seed_bagging"))
            build = helpers.wrap(f"{member.name}_model(s, inputs)", single, card, problem_type)
            lines.append(
                f"    {member.name}_settings = tune(\n        lambda s: {build},\n"
                f'        {settings}, {settings}_SPACE, inputs["{card.view}"], target, folds,\n    )'
            )
            settings = f"{member.name}_settings"
        lines.append(f"    {member.name}_base = {member.name}_model({settings}, inputs)")
        model = helpers.wrap(f"{member.name}_base", spec, card, problem_type)
        lines.append(f'    models["{member.name}"] = ("{card.view}", {model})')
    doc = '"""The members to train: name -> (input view, unfitted estimator). Their predictions are combined."""'
    return (
        "def make_models(inputs: dict[str, Any], target: np.ndarray, folds: np.ndarray) -> dict[str, tuple[str, Any]]:\n"
        f"    {doc}\n    models: dict[str, tuple[str, Any]] = {{}}\n"
        + "\n".join(lines)
        + "\n    return models\n"
    )


def read_model(block: str) -> ModelSpec:
    """The members and options of a model block written by render_model."""
    tree = syntax.parse(block)
    constants: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                constants[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    order = re.findall(r'models\["(\w+)"\] = \("(\w+)", ', block)
    builders = dict(re.findall(r"^def (\w+)_model\(settings", block, re.MULTILINE) and _builder_cards(block))
    members = []
    for name, _view in order:
        settings = constants.get(name.upper(), {})
        members.append(Member(name, builders.get(name, _card_of(name)), tuple(sorted(settings.items()))))
    options = tuple(o for o in OPTIONS if helpers.detect(o, block))
    return ModelSpec(
        tuple(members),
        options,
        int(constants.get("TUNE_TRIALS", 0)),
        float(constants.get("TUNE_SHARE", 0.35)),
    )


def _builder_cards(block: str) -> list[tuple[str, str]]:
    return [(name, _card_of(name)) for name in re.findall(r"^def (\w+)_model\(settings", block, re.MULTILINE)]


def _card_of(member_name: str) -> str:
    """Member names are card names, with a numeric suffix when a card appears twice."""
    return re.sub(r"_\d+$", "", member_name)
