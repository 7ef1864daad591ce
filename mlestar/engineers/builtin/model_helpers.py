"""Model-level options of the model block, each a small helper written into the script when used.

Boosted members are always wrapped in EarlyStopped: their number of rounds is chosen on a share of
each fit's own rows, so a noisy table stops early and a clean one uses (about) the card's cap. Its fit
returns the model refitted with those rounds (what cross_fit and the other wrappers keep and
predict with), so it needs no predict of its own nor scikit-learn's BaseEstimator; only as the last
step of target encoding's Pipeline, which keeps the step itself, is it a whole estimator (fit returns
it, it predicts through the refitted model).
Wrapping order, inside out: estimator -> EarlyStopped -> SeedBag -> target_encoded -> TimeNeighbours
-> LogTarget.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlestar.engineers.builtin.cards import Card
    from mlestar.engineers.builtin.members import ModelSpec

_DETECT = {
    "log_target": "class LogTarget(",
    "seed_bagging": "class SeedBag(",
    "target_encoding": "def target_encoded(",
    "time_neighbours": "class TimeNeighbours(",
}


def detect(option: str, block: str) -> bool:
    return _DETECT[option] in block


def applies(option: str, card: Card, problem_type: str) -> bool:
    """Whether an option changes this member (others are left unwrapped)."""
    if option == "seed_bagging":
        return bool(card.seed_param)
    if option == "target_encoding":
        return card.view == "trees"
    if option == "log_target":
        return "regression" in problem_type
    if option == "time_neighbours":
        return card.view in ("trees", "native") and problem_type in (
            "regression",
            "binary",
            "multi_target_regression",
        )
    return False


def wrap(expression: str, spec: ModelSpec, card: Card, problem_type: str, mixed: bool = False) -> str:
    """The member's estimator in its option wrappers; `mixed`: the block boosts with several
    libraries, so EarlyStopped is told which one this member's is."""
    if card.boosting:
        flavour = f', "{card.boosting}"' if mixed else ""
        expression = f"EarlyStopped({expression}{flavour})"
    if spec.has("seed_bagging") and applies("seed_bagging", card, problem_type):
        expression = f'SeedBag({expression}, "{card.seed_param}")'
    if spec.has("target_encoding") and applies("target_encoding", card, problem_type):
        expression = f"target_encoded({expression})"
    if spec.has("time_neighbours") and applies("time_neighbours", card, problem_type):
        expression = f"TimeNeighbours({expression})"
    if spec.has("log_target") and applies("log_target", card, problem_type):
        expression = f"LogTarget({expression})"
    return expression


def _users(option: str, spec: ModelSpec, cards: list[Card], problem_type: str) -> list[Card]:
    return [c for c in cards if spec.has(option) and applies(option, c, problem_type)]


def _boosted(cards: list[Card]) -> list[Card]:
    return [c for c in cards if c.boosting]


def mixed_boosting(cards: list[Card]) -> bool:
    """Whether members boost with more than one library (EarlyStopped then takes a flavour)."""
    return len({c.boosting for c in _boosted(cards)}) > 1


def imports(spec: ModelSpec, cards: list[Card], role: str) -> set[str]:
    problem_type = "regression" if role == "regressor" else "binary"
    lines: set[str] = set()
    wrappers = ("log_target", "seed_bagging", "time_neighbours")
    pipelined = _boosted(cards) and _users("target_encoding", spec, cards, problem_type)
    if pipelined or any(_users(option, spec, cards, problem_type) for option in wrappers):
        lines.add("from sklearn.base import BaseEstimator")
    if _users("target_encoding", spec, cards, problem_type):
        lines.update(
            {
                "from sklearn.compose import make_column_transformer",
                "from sklearn.pipeline import Pipeline",
                "from sklearn.preprocessing import TargetEncoder",
            }
        )
    if spec.has("tuned") and not spec.frozen:
        lines.update({"import json", "import optuna"})
    return lines


def constants(cards: list[Card]) -> str:
    """The early-stopping settings, beside the members' own (empty when no member boosts)."""
    return _PATIENCE if _boosted(cards) else ""


def render(spec: ModelSpec, cards: list[Card], problem_type: str, metric: str) -> list[str]:
    out = []
    stoppers = sorted({c.boosting for c in _boosted(cards)})
    if stoppers:
        pipelined = bool(_users("target_encoding", spec, cards, problem_type))
        out.append(_early_stopping(stoppers, problem_type, pipelined, _refitted(cards, problem_type)))
    if _users("seed_bagging", spec, cards, problem_type):
        out.append(
            _SEED_BAG.replace("INNER", "inner.model if isinstance(inner, EarlyStopped) else inner")
            if stoppers
            else _SEED_BAG.replace("INNER", "inner")
        )
    if _users("target_encoding", spec, cards, problem_type):
        target_type = (
            "continuous"
            if "regression" in problem_type
            else "multiclass"
            if problem_type == "multiclass"
            else "binary"
        )
        out.append(_TARGET_ENCODING.replace("TARGET_TYPE_VALUE", f'"{target_type}"'))
    if _users("time_neighbours", spec, cards, problem_type):
        out.append(_TIME_NEIGHBOURS.replace("TIME_COLUMN_VALUE", f'"{spec.time_column}"'))
    if _users("log_target", spec, cards, problem_type):
        out.append(_LOG_TARGET)
    return out


_ROUNDS = {
    "lightgbm": "probe.best_iteration_",
    "xgboost": "probe.best_iteration + 1",
    "catboost": "probe.get_best_iteration() + 1",
}
"""Per boosting library: the best round of the probe (each stops early by its early_stopping_rounds)."""


def _refitted(cards: list[Card], problem_type: str) -> str:
    """What EarlyStopped's fit returns: the boosted members' class where they share one, else Any."""
    names = {c.estimator[c.role(problem_type)].split("(")[0].strip() for c in _boosted(cards)}
    name = names.pop() if len(names) == 1 else ""
    return name if name.isidentifier() and name[0].isupper() else "Any"  # a class, not a factory


def _early_stopping(
    flavours: list[str], problem_type: str, pipelined: bool = False, refitted: str = "Any"
) -> str:
    """EarlyStopped for these libraries and this kind of answer: one library needs no flavour
    argument, several branch on it; a classifier keeps each class's only row unwatched. Its fit
    returns the refitted model, except in a Pipeline (`pipelined`), where it is an estimator that
    predicts probabilities (class labels too for several classes) or numbers. XGBoost's fit alone
    reports every round unless told not to (the others are quiet from their settings)."""
    probe = "        probe = copy.deepcopy(self.model).set_params(early_stopping_rounds=PATIENCE)\n"
    if len(flavours) == 1:
        f = flavours[0]
        quiet = ", verbose=False" if f == "xgboost" else ""
        probe += (
            f"        probe.fit(take(x, ~watch), y[~watch], eval_set=[(take(x, watch), y[watch])]{quiet})\n"
            f"        self.rounds_ = {_ROUNDS[f]}\n"
        )
        init = "    def __init__(self, model: Any) -> None:\n        self.model = model\n"
        count = "iterations" if f == "catboost" else "n_estimators"  # CatBoost's name for it
        refit = f"copy.deepcopy(self.model).set_params({count}=int(self.rounds_ * 1.1) + 1).fit(x, y)\n"
    else:
        quiet = ""
        if "xgboost" in flavours:
            quiet = ", **quiet"
            probe += '        quiet = {"verbose": False} if self.flavour == "xgboost" else {}\n'
        probe += (
            f"        probe.fit(take(x, ~watch), y[~watch], eval_set=[(take(x, watch), y[watch])]{quiet})\n"
        )
        probe += "".join(
            f'        {"if" if i == 0 else "elif"} self.flavour == "{f}":\n            self.rounds_ = {_ROUNDS[f]}\n'
            for i, f in enumerate(flavours)
        )
        init = (
            "    def __init__(self, model: Any, flavour: str) -> None:\n"
            "        self.model, self.flavour = model, flavour\n"
        )
        count = '"iterations" if self.flavour == "catboost" else "n_estimators"'
        if "catboost" not in flavours:
            count = '"n_estimators"'
        probe += f"        rounds = {{{count}: int(self.rounds_ * 1.1) + 1}}\n"
        refit = "copy.deepcopy(self.model).set_params(**rounds).fit(x, y)\n"
    classifier = "regression" not in problem_type
    head = _EARLY_STOPPED.replace("INIT\n", init).replace("PROBE\n", probe)
    head = head.replace("UNWATCHED\n", _ONLY_ROW if classifier else "")
    if not pipelined:
        return head.replace("(BaseEstimator)", "").replace("RETURNS", refitted) + "        return " + refit
    classes = _CLASSES if problem_type == "multiclass" else ""
    return (
        head.replace("RETURNS", "EarlyStopped")
        + f"        self.model_ = {refit}{classes}        return self\n\n"
        + (_PREDICT_PROBA if classifier else _PREDICT)
    )


_PATIENCE = (
    "PATIENCE, WATCH_EVERY = 100, 10  # rounds stop PATIENCE after the best on every WATCH_EVERY-th row"
)

_EARLY_STOPPED = """class EarlyStopped(BaseEstimator):
INIT

    def fit(self, x: Any, y: np.ndarray) -> RETURNS:
        order = np.random.default_rng(SEED).permutation(len(y))  # rows with the same answer: a seeded order
        watch = np.argsort(order[np.argsort(y[order], kind="stable")]) % WATCH_EVERY == WATCH_EVERY - 1
UNWATCHED
PROBE
"""

_ONLY_ROW = (
    "        watch &= pd.Series(y).duplicated(keep=False).to_numpy()  # a class's only row is never watched\n"
)
_CLASSES = "        self.classes_ = self.model_.classes_\n"
_PREDICT_PROBA = """    def predict_proba(self, x: Any) -> np.ndarray:
        return self.model_.predict_proba(x)
"""
_PREDICT = """    def predict(self, x: Any) -> np.ndarray:
        return self.model_.predict(x)
"""


_SEED_BAG = '''SEEDS = 3
"""Copies of the model, each with its own seed; their predictions are averaged."""


class SeedBag(BaseEstimator):
    """The same model fitted with several seeds and averaged: less variance at the same bias."""

    def __init__(self, model: Any, seed_param: str) -> None:
        self.model, self.seed_param = model, seed_param

    def fit(self, x: Any, y: np.ndarray) -> SeedBag:
        self.models_ = []
        for i in range(SEEDS):
            model = copy.deepcopy(self.model)
            inner = model
            (INNER).set_params(**{self.seed_param: SEED + i})
            self.models_.append(model.fit(x, y))
        self.classes_ = getattr(self.models_[0], "classes_", None)
        return self

    def predict(self, x: Any) -> np.ndarray:
        return np.mean([m.predict(x) for m in self.models_], axis=0)

    def predict_proba(self, x: Any) -> np.ndarray:
        return np.mean([m.predict_proba(x) for m in self.models_], axis=0)
'''

_TARGET_ENCODING = '''def target_encoded(model: Any) -> Any:
    """Category codes replaced by the mean answer of their category, learned inside each training
    fold only (and cross-fitted there, so no row sees its own answer)."""
    encoder = TargetEncoder(target_type=TARGET_TYPE_VALUE, random_state=SEED)
    encoded = make_column_transformer((encoder, category_codes), remainder="passthrough")
    return Pipeline([("encode", encoded), ("model", model)])


def category_codes(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if str(c).startswith("cat__")]
'''

_TIME_NEIGHBOURS = '''NEIGHBOUR_TIME = TIME_COLUMN_VALUE
"""The elapsed-time feature (days) that orders rows in time."""


class TimeNeighbours(BaseEstimator):
    """Adds the answers of the fitted rows just before and just after each row in time, and how many
    days away they are. Only the rows the model is fitted on are looked up, strictly earlier or later:
    a row never sees its own answer, nor a validation row's."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def fit(self, x: pd.DataFrame, y: np.ndarray) -> TimeNeighbours:
        time = elapsed_days(x)
        known = ~np.isnan(time)
        order = np.argsort(time[known], kind="stable")
        self.times_, self.answers_ = time[known][order], np.asarray(y, dtype=float)[known][order]
        self.model_ = copy.deepcopy(self.model).fit(self.with_neighbours(x), y)
        self.classes_ = getattr(self.model_, "classes_", None)
        return self

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return self.model_.predict(self.with_neighbours(x))

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        return self.model_.predict_proba(self.with_neighbours(x))

    def with_neighbours(self, x: pd.DataFrame) -> pd.DataFrame:
        time, out = elapsed_days(x), x.copy()
        for name, index in (("before", np.searchsorted(self.times_, time, "left") - 1),
                            ("after", np.searchsorted(self.times_, time, "right"))):
            found = (index >= 0) & (index < len(self.times_)) & ~np.isnan(time)
            index = index.clip(0, max(len(self.times_) - 1, 0))
            out[f"answer_{name}"] = np.where(found, self.answers_[index], np.nan) if len(self.times_) else np.nan
            out[f"days_{name}"] = np.where(found, np.abs(self.times_[index] - time), np.nan) if len(self.times_) else np.nan
        return out


def elapsed_days(x: pd.DataFrame) -> np.ndarray:
    """The NEIGHBOUR_TIME column of a view's table (views may prefix or clean up column names)."""
    plain = {"".join(ch if ch.isalnum() else "_" for ch in str(c)): c for c in x.columns}
    column = next((c for name, c in plain.items() if name.endswith(NEIGHBOUR_TIME)), None)
    return x[column].to_numpy(dtype=float) if column is not None else np.full(len(x), np.nan)
'''

_LOG_TARGET = '''class LogTarget(BaseEstimator):
    """Fit on log1p of the answer and predict through expm1: errors count on a log scale (as RMSLE
    does) and a long right tail stops dominating the fit."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def fit(self, x: Any, y: np.ndarray) -> LogTarget:
        self.model_ = copy.deepcopy(self.model).fit(x, np.log1p(y))
        return self

    def predict(self, x: Any) -> np.ndarray:
        return np.expm1(self.model_.predict(x))
'''
