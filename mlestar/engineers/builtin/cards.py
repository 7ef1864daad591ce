"""Model cards: the built-in engineer's knowledge of models, one YAML file per model.

A card says when a model applies (problem types, kind of inputs, sizes), which input view it reads,
how to build its estimator (a Python expression in which PARAMS stands for the card's settings),
its default settings, an Optuna search space and a rough cost. Users add cards by pointing
`BuiltinEngineer(card_dirs=...)` at folders of the same YAML files; a user card replaces a built-in
card of the same name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlestar.engineers.builtin.media.options import MEDIA_KINDS
from mlestar.errors import ConfigError

BUILTIN_CARDS = Path(__file__).parent / "cards"
INPUT_KINDS = ("tabular", "text", "any")
VIEWS = ("trees", "native", "linear", "scaled", "words", "chars")
_REQUIRED = ("name", "title", "summary", "inputs", "view", "problem_types", "estimator", "imports")


@dataclass(frozen=True)
class Card:
    name: str
    title: str
    summary: str
    inputs: str
    """"tabular" (needs non-text columns), "text" (needs a text column) or "any"."""
    view: str
    """The input view the model reads: trees, native, linear, scaled, words or chars."""
    problem_types: tuple[str, ...]
    estimator: dict[str, str]
    """"classifier"/"regressor" -> a Python expression; PARAMS is replaced by the settings' name."""
    imports: dict[str, str]
    params: dict[str, Any]
    """Default settings, or {"classifier": {...}, "regressor": {...}} when they differ."""
    search_space: dict[str, Any] = field(default_factory=dict)
    small_data_params: dict[str, Any] = field(default_factory=dict)
    helpers: str | dict[str, str] = ""
    """Extra code the model block needs (e.g. a small estimator class), or that code per role."""
    family: str = ""
    boosting: str = ""
    """"lightgbm", "xgboost" or "catboost" when the model can stop early on a holdout."""
    class_weight: dict[str, str] = field(default_factory=dict)
    seed_param: str = ""
    good_with: tuple[str, ...] = ()
    """Column kinds the model handles especially well (a small boost in the ranking)."""
    min_rows: int = 1
    max_rows: int | None = None
    cost: float = 1.0
    """Rough seconds per 10,000 rows and fold on one thread."""
    strength: float = 0.5
    """A prior of how good the model usually is where it applies (0..1)."""
    source: str = "builtin"

    def role(self, problem_type: str) -> str:
        return "regressor" if "regression" in problem_type else "classifier"

    def supports(self, problem_type: str) -> bool:
        return problem_type in self.problem_types and self.role(problem_type) in self.estimator

    def defaults(self, problem_type: str, n_rows: int) -> dict[str, Any]:
        params = _by_role(self.params, self.role(problem_type))
        if n_rows < 5000:
            params = {**params, **self.small_data_params}
        return dict(params)

    def space(self, problem_type: str) -> dict[str, Any]:
        return _by_role(self.search_space, self.role(problem_type))

    def helper_code(self, role: str) -> str:
        return self.helpers.get(role, "") if isinstance(self.helpers, dict) else self.helpers


def _by_role(values: dict[str, Any], role: str) -> dict[str, Any]:
    if set(values) <= {"classifier", "regressor"} and values:
        return dict(values.get(role, {}))
    return dict(values)


def load_cards(card_dirs: tuple[Path, ...] = ()) -> dict[str, Card]:
    """Built-in cards, then the user's folders in order (a later card replaces an earlier one)."""
    cards: dict[str, Card] = {}
    for folder, source in [(BUILTIN_CARDS, "builtin"), *[(Path(d), "user") for d in card_dirs]]:
        if not folder.is_dir():
            raise ConfigError(f"expected a folder of model cards (*.yaml), found no folder at {folder}")
        for path in sorted(folder.glob("*.y*ml")):
            card = parse_card(path, source)
            cards[card.name] = card
    return cards


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML was built with it: the cards are read at every run's start
(22 cards: 0.13 s in Python, 0.02 s in C)."""


def parse_card(path: Path, source: str = "user") -> Card:
    try:
        data = yaml.load(path.read_text(), Loader=_SAFE_LOADER)
    except yaml.YAMLError as e:
        raise ConfigError(f"expected a YAML model card in {path}, found a parse error: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping in model card {path}, found {type(data).__name__}")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise ConfigError(f"expected fields {list(_REQUIRED)} in model card {path}, missing {missing}")
    if data["inputs"] not in INPUT_KINDS or data["view"] not in VIEWS:
        raise ConfigError(
            f"expected inputs in {INPUT_KINDS} and view in {VIEWS} in {path}, "
            f"found {data['inputs']!r} and {data['view']!r}"
        )
    known = set(Card.__dataclass_fields__) - {"source"}
    values = {k: v for k, v in data.items() if k in known}
    values["problem_types"] = tuple(values["problem_types"])
    values["good_with"] = tuple(values.get("good_with", ()))
    values.setdefault("params", {})
    values["summary"] = " ".join(str(values["summary"]).split())
    return Card(**values, source=source)


@dataclass(frozen=True)
class Ranked:
    card: Card
    score: float
    reason: str


def rank_cards(cards: dict[str, Card], profile: dict[str, Any], budget_s: float) -> list[Ranked]:
    """Cards that apply to the task, best first (ties broken by name, so the order is stable)."""
    kinds = feature_kinds(profile)
    has_text = "text" in kinds
    # Paired texts are compared by numeric features (how alike they are): a job for table models.
    has_tabular = bool(kinds - {"text"}) or bool(profile.get("text_pairs"))
    ranked = []
    for card in cards.values():
        score = _score(card, profile, has_text, has_tabular, budget_s)
        if score is not None:
            ranked.append(Ranked(card, round(score, 4), _reason(card, has_text, has_tabular)))
    ranked.sort(key=lambda r: (-r.score, r.card.name))
    return _diversify(ranked)


def feature_kinds(profile: dict[str, Any]) -> set[str]:
    columns = profile.get("columns", {})
    kinds = {columns[c]["kind"] for c in profile.get("features", []) if c in columns}
    if any(f.get("kind") in MEDIA_KINDS or f.get("per") == "pixel" for f in profile.get("files", [])):
        kinds.add("numeric")  # pictures, sounds and numeric files become numeric features
    return kinds - {"constant", "id"}


def _score(
    card: Card, profile: dict[str, Any], has_text: bool, has_tabular: bool, budget_s: float
) -> float | None:
    n_rows = int(profile.get("n_train", 0))
    if not card.supports(str(profile.get("problem_type"))) or n_rows < card.min_rows:
        return None
    if card.max_rows is not None and n_rows > card.max_rows:
        return None
    # Table models read text too, through its statistics and topics (drafted with them on text alone).
    if card.inputs == "text" and not has_text or card.inputs == "tabular" and not (has_tabular or has_text):
        return None
    score = card.strength + (0.01 if set(card.good_with) & feature_kinds(profile) else 0.0)
    if has_text and not has_tabular:
        # Text-only tasks: text models first; a linear model on TF-IDF is the only general fallback.
        score += 0.5 if card.inputs == "text" else 0.0
    elif has_text and card.inputs == "any":
        score += 0.2
    seconds = estimated_seconds(card, profile)
    if seconds > 0.5 * budget_s and profile.get("files"):
        # Per-row files: the first script runs alone with no time box (it computes the files'
        # features for all), and one that may not finish leaves the run with nothing. Cards that
        # fit come first; the others follow cheapest first, as they have the best chance.
        score -= 1.0 + seconds / budget_s
    elif seconds > 0.5 * budget_s:
        score -= 0.3 if seconds < budget_s else 1.0
    return score


def estimated_seconds(card: Card, profile: dict[str, Any]) -> float:
    """Rough seconds of a card's first script: its cost over five folds, for the table's width,
    once per output (a model per label; boosting grows a tree per class)."""
    n_rows = int(profile.get("n_train", 0))
    outputs = max(int(profile.get("n_outputs", 1)), 1)
    return card.cost * max(n_rows, 1000) / 10_000 * 5 * media_width_factor(profile) * outputs


def media_width_factor(profile: dict[str, Any]) -> float:
    """How much wider than a usual table the inputs are when per-row pictures or sounds add
    hundreds of feature columns (a model's cost grows with its columns); 1 for other tasks."""
    from mlestar.engineers.builtin.media.render import feature_width

    extra = feature_width(profile)
    return max(1.0, (extra + len(profile.get("features", []))) / 60) if extra else 1.0


def _reason(card: Card, has_text: bool, has_tabular: bool) -> str:
    inputs = "text and table" if has_text and has_tabular else "text" if has_text else "table"
    return f"{card.title}: {card.inputs} model for a {inputs} task"


_FAMILY_SLOTS = {"boosting": 3, "naive_bayes": 2, "linear_text": 2}
"""How many cards of a family may lead the ranking before other families get their turn."""


def _diversify(ranked: list[Ranked]) -> list[Ranked]:
    """Let other families in early so the first candidates differ (merges gain most from variety)."""
    seen: dict[str, int] = {}
    keyed = []
    for position, item in enumerate(ranked):
        family = item.card.family or item.card.name
        seen[family] = seen.get(family, 0) + 1
        keyed.append((seen[family] > _FAMILY_SLOTS.get(family, 1), position, item))
    return [item for _, _, item in sorted(keyed, key=lambda k: (k[0], k[1]))]
