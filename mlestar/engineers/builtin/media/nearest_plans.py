"""Refinement plans for nearest-answer scripts (nearest_script.py): each changes one setting of
the model block (the answer rule, how many neighbours, how many principal components). The search
scores each plan out of fold with the task's metric and keeps what helped, so the choice of
nearest row or medoid, of K and of the space is made by evidence, not by taste.

There is no ablation (without its features a row has nothing to be compared by); plans carry the
same "[plan: block +key ...]" tag as the other scripts' (refinements.py), and a plan that helped
is kept and the next untried entry added to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlestar.blocks import get_block, replace_block
from mlestar.engineers.base import EngineerFailure, PlanOutcome
from mlestar.engineers.builtin.media import nearest_script
from mlestar.engineers.builtin.refinements import parse_plan

Settings = dict[str, Any]
BLOCK = "model"


@dataclass(frozen=True)
class NearestRefinement:
    key: str
    text: str
    change: Callable[[Settings], Settings | None]
    """The changed settings; None when it does not apply (already so)."""


def _set(**values: Any) -> Callable[[Settings], Settings | None]:
    def change(settings: Settings) -> Settings | None:
        if settings["ANSWER"] == "overall":
            return None  # one answer for all rows: neither neighbours nor distances count
        if values.get("K") and settings["ANSWER"] != "medoid":
            return None  # neighbours beyond the first count only for the medoid
        if all(settings[k] == v for k, v in values.items()):
            return None
        return {**settings, **values}

    return change


def _medoid(settings: Settings) -> Settings | None:
    if settings["ANSWER"] != "nearest":
        return None
    return {**settings, "ANSWER": "medoid", "K": max(int(settings["K"]), 5)}


CATALOGUE = (
    NearestRefinement("medoid", "answer with the medoid of the five nearest rows' answers", _medoid),
    NearestRefinement("nearest", "answer with the nearest row's answer alone", _set(ANSWER="nearest")),
    NearestRefinement("k_10", "take the medoid of the ten nearest rows' answers", _set(K=10)),
    NearestRefinement("k_3", "take the medoid of the three nearest rows' answers", _set(K=3)),
    NearestRefinement("pca_8", "measure distances in 8 principal components (the broad look of a row)", _set(PCA_SIZE=8)),
    NearestRefinement("pca_off", "measure distances in all the standardised features", _set(PCA_SIZE=0)),
    NearestRefinement("pca_64", "measure distances in 64 principal components", _set(PCA_SIZE=64)),
)  # fmt: skip
"""Every change, most promising first."""


def entries(settings: Settings) -> list[NearestRefinement]:
    return [e for e in CATALOGUE if e.change(settings) is not None]


def plan_text(keys: tuple[str, ...]) -> str:
    texts = {e.key: e.text for e in CATALOGUE}
    sentence = "; ".join(texts.get(k, k) for k in keys)
    return f"On the {BLOCK} block: {sentence}. [plan: {BLOCK} {' '.join(f'+{k}' for k in keys)}]"


def refinable_blocks(script: str) -> list[str]:
    return [BLOCK] if entries(nearest_script.read_model(script)) else []


def next_plan(script: str, history: list[PlanOutcome], lower_is_better: bool) -> str:
    """The best earlier plan (when it helped) with one more untried entry, else the next untried
    entry alone."""
    settings = nearest_script.read_model(script)
    tried = [parsed[1] for h in history if (parsed := parse_plan(h.plan)) and parsed[0] == BLOCK]
    untried = [e.key for e in entries(settings) if all(e.key not in keys for keys in tried)]
    best = _best_previous(history, lower_is_better)
    candidates = [(*best, key) for key in untried if key not in best] if best else []
    candidates += [(key,) for key in untried]
    done = {frozenset(keys) for keys in tried}
    for keys in candidates:
        if frozenset(keys) not in done:
            return plan_text(keys)
    raise EngineerFailure("no refinement left to try on the model block of the nearest-answer script")


def _best_previous(history: list[PlanOutcome], lower_is_better: bool) -> tuple[str, ...] | None:
    best, best_gain = None, 0.0
    for h in history:
        parsed = parse_plan(h.plan)
        if parsed is None or parsed[0] != BLOCK or h.score is None:
            continue
        gain = (h.base_score - h.score) if lower_is_better else (h.score - h.base_score)
        if gain > best_gain:
            best, best_gain = parsed[1], gain
    return best


def implement(script: str, block: str, plan: str) -> str:
    """The model block's new body after the plan's entries, in the plan's order."""
    parsed = parse_plan(plan)
    if parsed is None or parsed[0] != BLOCK or block != BLOCK:
        raise EngineerFailure(
            f"the built-in engineer cannot read this plan for the {block} block: {plan[:200]!r}"
        )
    settings = nearest_script.read_model(script)
    by_key = {e.key: e for e in CATALOGUE}
    for key in parsed[1]:
        if key not in by_key:
            raise EngineerFailure(f"unknown refinement {key!r} for a nearest-answer script")
        settings = by_key[key].change(settings) or settings
    body = nearest_script.model_block(int(settings["K"]), str(settings["ANSWER"]), int(settings["PCA_SIZE"]))
    if body.strip() == _model_body(script).strip():
        raise EngineerFailure("the plan changes nothing in the model block")
    return body


def _model_body(script: str) -> str:
    return get_block(script, BLOCK)


def with_plan(script: str, plan: str) -> str:
    """The whole script after a plan (for tests and callers that want the script, not the block)."""
    return replace_block(script, BLOCK, implement(script, BLOCK, plan))
