"""The refinement catalogue: every change the built-in engineer can make to one block of a script,
when it applies, and a prior of what it usually gains (which orders plans and blocks).

Entries change a recipe (see recipe.py): a feature family, a preprocessing option, a model option,
a member, a way of combining members. refinements.py turns them into plans.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mlestar.engineers.builtin import features as feats
from mlestar.engineers.builtin import members as mem
from mlestar.engineers.builtin.cards import Card, rank_cards
from mlestar.engineers.builtin.media import render as media
from mlestar.engineers.builtin.media.options import MediaOptions
from mlestar.engineers.builtin.media.refine import REFINEMENTS, MediaRefinement
from mlestar.engineers.builtin.model_helpers import applies as option_applies
from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.engineers.builtin.recipe import FILES_OFF, FILES_ON, Recipe
from mlestar.engineers.builtin.views import SCALED_VIEWS, TABLE_VIEWS, ViewOptions


@dataclass(frozen=True)
class Context:
    profile: ProfileView
    cards: dict[str, Card]
    budget_s: float
    lower_is_better: bool


@dataclass(frozen=True)
class Entry:
    key: str
    block: str
    text: str
    applies: Callable[[Recipe, Context], bool]
    apply: Callable[[Recipe, Context], Recipe]
    gain: float = 0.002
    """A prior of the relative score gain the entry usually brings (orders plans and blocks)."""


def _family_entry(name: str) -> Entry:
    def applies(r: Recipe, c: Context) -> bool:
        # Features feed the table views only; text models read the raw text through their own views.
        reads_table = bool(set(TABLE_VIEWS) & set(r.views_needed(c.cards)))
        return reads_table and feats.FAMILIES[name].applies(c.profile) and name not in r.families

    def apply(r: Recipe, c: Context) -> Recipe:
        return r.with_(families=feats.canonical((*r.families, name)))

    return Entry(name, "features", _FAMILY_TEXT[name], applies, apply, _FAMILY_GAIN.get(name, 0.002))


_FAMILY_GAIN = {
    "structured_parts": 0.01,
    "date_parts": 0.01,
    "time_lags": 0.004,
    "group_sizes": 0.004,
    "amount_totals": 0.003,
    "numeric_groups": 0.003,
    "text_stats": 0.003,
    "text_topics": 0.004,
}
_FAMILY_TEXT = {
    "structured_parts": "parse structured strings (such as deck/number/side) into parts, numeric parts as numbers",
    "date_parts": "turn dates into calendar parts and elapsed days",
    "date_cycles": "add calendar positions (hour, weekday, day of year) as sine and cosine",
    "time_lags": "add each row's neighbours in time (days to them, their numeric inputs)",
    "id_parts": "use the numeric parts of structured ids (a position within a group) as features",
    "group_sizes": "add group sizes over shared keys (an id prefix, a name part, a repeated code)",
    "amount_totals": "add sums of related amounts, their non-zero count, an all-zero flag and log1p values",
    "numeric_groups": "add sums, spreads, ratios and log-products across related numeric columns",
    "frequencies": "add frequency encodings of the categorical columns",
    "codes_as_categories": "add categorical copies of code-like integer columns",
    "text_stats": "add statistics of the text (length, words, punctuation, capitals)",
    "text_pairs": "compare paired texts row by row (TF-IDF and LSA cosines, shared words, edit ratio)",
    "text_topics": "add the latent topics (LSA) of each text column as numbers",
    "list_tokens": "turn list cells into their length and a bag of their common tokens",
}


def _media_entry(refinement: MediaRefinement) -> Entry:
    """A files-block change for pictures, sounds or per-pixel pictures (media/refine.py)."""

    def current(r: Recipe, c: Context) -> MediaOptions:
        return r.media or media.default_options(c.profile)

    def applies(r: Recipe, c: Context) -> bool:
        kinds = media.kinds_of(media.media_entries(c.profile))
        return (
            r.files == FILES_ON and refinement.kind in kinds and refinement.change(current(r, c)) is not None
        )

    def apply(r: Recipe, c: Context) -> Recipe:
        return r.with_(media=refinement.change(current(r, c)) or current(r, c))

    return Entry(refinement.key, "files", refinement.text, applies, apply, refinement.gain)


def _option_entry(option: str, text: str, extra: Callable[[Recipe, Context], bool], gain: float) -> Entry:
    def applies(r: Recipe, c: Context) -> bool:
        if option == "tuned":
            users = [m for m in r.model.members[:1] if c.cards[m.card].space(c.profile.problem_type)]
        else:
            users = [
                m for m in r.model.members if option_applies(option, c.cards[m.card], c.profile.problem_type)
            ]
        return not r.model.has(option) and bool(users) and extra(r, c)

    def apply(r: Recipe, c: Context) -> Recipe:
        return r.with_(model=_with_option(r.model, option, c))

    return Entry(option, "model", text, applies, apply, gain)


def _with_option(spec: mem.ModelSpec, option: str, c: Context) -> mem.ModelSpec:
    members = spec.members
    trials = spec.tune_trials
    if option == "tuned":
        trials = tune_trials(spec, c)
    options = tuple(o for o in mem.OPTIONS if o in (*spec.options, option))
    time_column = time_feature(c.profile) if option == "time_neighbours" else spec.time_column
    return spec.with_(members=members, options=options, tune_trials=trials, time_column=time_column)


def _slower_learning(r: Recipe, c: Context) -> Recipe:
    members = tuple(_more_rounds(m, c.cards[m.card]) if _can_slow(m, r, c) else m for m in r.model.members)
    return r.with_(model=r.model.with_(members=members))


def _slower_applies(r: Recipe, c: Context) -> bool:
    return any(_can_slow(m, r, c) for m in r.model.members)


def _can_slow(member: mem.Member, r: Recipe, c: Context) -> bool:
    """A boosted member still at its card's learning rate (tuning sets its own rate)."""
    card = c.cards[member.card]
    default = card.defaults(c.profile.problem_type, c.profile.n_train).get("learning_rate")
    tuned = r.model.tunes(member, card, c.profile.problem_type)
    return bool(card.boosting) and not tuned and member.settings.get("learning_rate") == default


def _more_rounds(member: mem.Member, card: Card) -> mem.Member:
    """Half the learning rate and four times the cap on rounds; early stopping decides how many are used."""
    settings = member.settings
    for count in ("n_estimators", "iterations"):
        if count in settings:
            settings[count] = min(int(settings[count]) * 4, 10_000)
    settings["learning_rate"] = round(float(settings["learning_rate"]) / 2, 6)
    return mem.Member(member.name, member.card, tuple(sorted(settings.items())))


def tune_trials(spec: mem.ModelSpec, c: Context) -> int:
    """Trials that fit the time box: each costs about two fold fits of the first member."""
    card = c.cards[spec.members[0].card]
    per_trial = 2 * card.cost * max(c.profile.n_train, 1000) / 10_000 * max(c.profile.n_outputs, 1) + 0.2
    return int(max(5, min(60, 0.35 * c.budget_s / per_trial)))


def _tune_longer(r: Recipe, c: Context) -> Recipe:
    spec = r.model
    return r.with_(
        # More trials from a fresh study: frozen settings are searched again (while exploring).
        model=spec.with_(
            tune_trials=min(max(spec.tune_trials, tune_trials(spec, c)) * 2, 200),
            tune_share=round(min(0.6, spec.tune_share + 0.2), 2),
            frozen=(),
        )
    )


def _tuning_can_go_further(r: Recipe, c: Context) -> bool:
    """Tuned, over a space of three settings or more: a study's first few dozen trials cover one
    or two settings already (more trials settle on what they found), not a wider space."""
    if not r.model.has("tuned") or not r.model.members:
        return False
    return len(c.cards[r.model.members[0].card].space(c.profile.problem_type)) >= 3


def _class_weights(r: Recipe, c: Context) -> Recipe:
    members = []
    for m in r.model.members:
        weight = c.cards[m.card].class_weight
        settings = m.settings
        if weight:
            settings[weight["param"]] = weight["value"]
        members.append(mem.Member(m.name, m.card, tuple(sorted(settings.items()))))
    return r.with_(model=r.model.with_(members=tuple(members)))


def _weights_apply(r: Recipe, c: Context) -> bool:
    metric = c.profile.metric
    return (
        not c.profile.is_regression
        and c.profile.class_balance < 0.2
        and "accuracy" not in metric
        and "log" not in metric
        and not any(c.cards[m.card].class_weight.get("param") in m.settings for m in r.model.members)
        and any(c.cards[m.card].class_weight for m in r.model.members)
    )


def _member_entry(card_name: str) -> Entry:
    def applies(r: Recipe, c: Context) -> bool:
        # A refinement rewrites the model block alone: the member must read a view the script has.
        has_view = c.cards[card_name].view in (r.views or r.views_needed(c.cards))
        return has_view and card_name not in {m.card for m in r.model.members} and len(r.model.members) < 4

    def apply(r: Recipe, c: Context) -> Recipe:
        member = mem.member_for(c.cards[card_name], c.profile.problem_type, c.profile.n_train)
        spec = r.model
        return r.with_(model=spec.with_(members=(*spec.members, member)))

    text = f"add a {card_name} member to the ensemble"
    return Entry(f"add:{card_name}", "model", text, applies, apply, 0.003)


def _preprocess_entry(
    key: str, text: str, change: dict[str, object], needs_linear: bool, gain: float = 0.001
) -> Entry:
    def applies(r: Recipe, c: Context) -> bool:
        views = set(r.views or r.views_needed(c.cards))
        has_view = bool(views & set(SCALED_VIEWS if needs_linear else TABLE_VIEWS))
        has_categories = bool(c.profile.categorical or c.profile.structured) or needs_linear
        return has_view and has_categories and any(getattr(r.options, k) != v for k, v in change.items())

    def apply(r: Recipe, c: Context) -> Recipe:
        values = {**r.options.__dict__, **change}
        return r.with_(options=ViewOptions(**values))  # type: ignore[arg-type]

    return Entry(key, "preprocess", text, applies, apply, gain)


def _always(r: Recipe, c: Context) -> bool:
    return True


def _time_neighbours_apply(r: Recipe, c: Context) -> bool:
    """Rows ordered in time whose test rows sit between train rows (an interpolation, not a forecast),
    and the elapsed-time feature of the date parts to order them by."""
    return bool(c.profile.dates) and c.profile.time_interleaved and "date_parts" in r.families


def time_feature(profile: ProfileView) -> str:
    """The date parts' elapsed-days column of the first date column, spelled as the views spell it."""
    return "".join(ch if ch.isalnum() else "_" for ch in f"{profile.dates[0]}_days") if profile.dates else ""


def _log_target_applies(r: Recipe, c: Context) -> bool:
    p = c.profile
    return (
        p.is_regression
        and p.target_min > -1
        and (p.target_skew > 1 or "rmsle" in p.metric or "msle" in p.metric)
    )


def _stack_applies(r: Recipe, c: Context) -> bool:
    # One member: the meta-model recalibrates its probabilities (log loss); several: learned weights.
    return r.combine != "stack" and (len(r.model.members) > 1 or log_loss_task(c))


def catalogue(c: Context) -> list[Entry]:
    """Every entry; within a block, the most promising first (then in the order written here)."""
    entries = [_family_entry(name) for name in feats.ORDER]
    entries += [
        Entry(
            "files_on",
            "files",
            "use the rows' own files again",
            lambda r, c: r.files == FILES_OFF,
            lambda r, c: r.with_(files=FILES_ON),
            0.01,
        ),
        Entry(
            "files_off",
            "files",
            "stop using the rows' own files (if their features only add noise)",
            lambda r, c: r.files == FILES_ON and not media.applies(c.profile),
            lambda r, c: r.with_(files=FILES_OFF),
            0.001,
        ),
        *[_media_entry(refinement) for refinement in REFINEMENTS],
        _preprocess_entry(
            "rare_categories",
            "group categories seen fewer than 10 times into one level",
            {"rare_min_count": 10},
            needs_linear=False,
        ),
        _preprocess_entry(
            "quantile_scaling",
            "map numbers to a normal shape by quantiles before the linear model",
            {"scale": "quantile"},
            needs_linear=True,
        ),
        _preprocess_entry(
            "mean_imputation",
            "impute missing numbers with the mean instead of the median",
            {"impute": "mean"},
            needs_linear=True,
            gain=0.0005,
        ),
        _option_entry(
            "log_target",
            "fit on log1p of the target (the metric's log scale / a skewed target)",
            _log_target_applies,
            0.01,
        ),
        _option_entry(
            "tuned",
            "tune the first member's settings with Optuna on the harness folds, in a time box",
            _always,
            0.006,
        ),
        Entry(
            "slower_learning",
            "model",
            "boost at half the learning rate with four times the cap on rounds (early stopping picks how many)",
            _slower_applies,
            _slower_learning,
            0.004,
        ),
        _option_entry("seed_bagging", "average the members over three seeds", _always, 0.0015),
        _option_entry(
            "time_neighbours",
            "add the answers of the fitted rows just before and after each row in time (and how far they are)",
            _time_neighbours_apply,
            0.012,
        ),
        _option_entry(
            "target_encoding",
            "target-encode categories inside each training fold only",
            lambda r, c: bool(c.profile.categorical or c.profile.structured),
            0.002,
        ),
        Entry(
            "tune_longer",
            "model",
            "tune for twice as many trials",
            _tuning_can_go_further,
            _tune_longer,
            0.002,
        ),
        Entry(
            "class_weights",
            "model",
            "weight classes by inverse frequency",
            _weights_apply,
            _class_weights,
            0.003,
        ),
    ]
    ranked = [r.card.name for r in rank_cards(c.cards, c.profile.profile, c.budget_s)]
    entries += [_member_entry(name) for name in ranked[:6]]
    stack_gain = 0.02 if log_loss_task(c) else 0.003
    entries.append(
        Entry(
            "stack",
            "train",
            "combine the members with a stacked linear model fitted on out-of-fold predictions",
            _stack_applies,
            lambda r, c: r.with_(combine="stack"),
            stack_gain,
        )
    )
    entries.append(
        Entry(
            "stack_boost",
            "train",
            "combine the members with a small boosted-tree model reading their out-of-fold predictions and "
            "simple statistics of each row (numbers, the shape of any text)",
            lambda r, c: r.combine != "stack_boost",
            lambda r, c: r.with_(combine="stack_boost"),
            0.01 if c.profile.text else 0.003,
        )
    )
    return sorted(entries, key=lambda e: -e.gain)


def log_loss_task(c: Context) -> bool:
    metric = c.profile.metric
    return not c.profile.is_regression and ("log" in metric or "cross_entropy" in metric)


def potential(block: str, recipe: Recipe, c: Context) -> float:
    """The best prior gain among the block's applicable entries (0 when nothing is left)."""
    return max((e.gain for e in entries_for(block, recipe, c)), default=0.0)


def entries_for(block: str, recipe: Recipe, c: Context) -> list[Entry]:
    return [e for e in catalogue(c) if e.block == block and e.applies(recipe, c)]
