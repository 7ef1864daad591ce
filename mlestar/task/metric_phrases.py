"""Reading the metric from a task description, with a table of common Kaggle phrasings.

The evaluation section ("## Evaluation", "### Metric") is searched first, then the whole text. Of
all the phrases found, the one that starts first wins, and the longest on a tie, so "multi-class
logarithmic loss" beats "logarithmic loss" and "column-wise root mean squared logarithmic error"
beats "root mean squared logarithmic error".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlestar.metrics import MAP_DEFAULT_K
from mlestar.task.spec import ProblemType

_RMSLE = r"root mean squared? log(?:arithmic)? error"
_LOGLOSS = r"(?:log(?:arithmic)? ?loss|logloss)"
_AUC = r"(?:area under (?:the )?(?:roc |receiver operating characteristic )?curve|roc ?auc|auc ?roc|\bauc\b)"

PHRASES: tuple[tuple[str, str], ...] = (
    # (regular expression over normalised text, canonical metric name)
    (rf"(?:mean )?column ?wise (?:mean )?{_RMSLE}", "mean_rmsle"),
    (r"mean column ?wise rmsle|\bmcrmsle\b|column ?wise rmsle", "mean_rmsle"),
    (_RMSLE, "rmsle"),
    (r"\brmsle\b", "rmsle"),
    # rmse over several targets is already the mean of the per-column values (MCRMSE)
    (r"root mean squared? error|\brmse\b|\bmcrmse\b", "rmse"),
    (r"(?<!root )mean squared? error|\bmse\b", "mse"),
    (r"mean absolute error|\bmae\b", "mae"),
    (rf"(?:mean )?column ?wise (?:mean )?(?:roc )?{_AUC}", "mean_columnwise_roc_auc"),
    (
        rf"mean (?:roc )?{_AUC} (?:across|over|of) (?:all |the |each )*(?:columns|labels|targets)",
        "mean_columnwise_roc_auc",
    ),
    (_AUC, "roc_auc"),
    (
        rf"multi ?class {_LOGLOSS}|multi ?class cross ?entropy|categorical cross ?entropy",
        "multiclass_logloss",
    ),
    (rf"{_LOGLOSS}|binary cross ?entropy", "log_loss"),
    (r"quadratic(?:ally)? weighted (?:cohen'?s )?kappa|\bqwk\b|cohen'?s kappa|weighted kappa", "qwk"),
    (r"mean average precision ?@ ?(\d+)|\bmap ?@ ?(\d+)", "map_at_k"),
    (r"macro (?:averaged? )?f ?1|f ?1 (?:score )?\(?macro", "f1_macro"),
    (r"micro (?:averaged? )?f ?1|f ?1 (?:score )?\(?micro", "f1_micro"),
    (r"\bf ?1(?: score)?\b|\bf score\b|f measure", "f1"),
    (r"balanced accuracy", "balanced_accuracy"),
    (r"\baccuracy\b|percentage of (?:predicted labels|predictions) that (?:are|is) correct", "accuracy"),
    (r"pearson", "pearson"),
    (r"spearman", "spearman"),
    (r"\br ?\^ ?\{?2\}?(?![0-9])|\br²|r squared|coefficient of determination", "r2"),
)

_COMPILED = tuple((re.compile(pattern), name) for pattern, name in PHRASES)
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_HEADING = re.compile(r"^(#{1,6})\s*(.*?)\s*#*\s*$", re.MULTILINE)
_SECTION_WORDS = ("evaluation", "metric", "scoring")


@dataclass(frozen=True)
class MetricMatch:
    metric: str
    phrase: str
    """The words of the description that named it."""


def normalise(text: str) -> str:
    """Lower case, links reduced to their text, markup and hyphens to spaces, runs of blanks to one."""
    text = _LINK.sub(r"\1", text.lower())
    text = re.sub(r"[*_`$\\{}]", " ", text)
    text = text.replace("-", " ").replace("‐", " ").replace("–", " ")
    return re.sub(r"\s+", " ", text)


def evaluation_section(description: str) -> str | None:
    """The text under the first heading that names evaluation, metric or scoring, up to the next
    heading of the same or a higher level."""
    headings = list(_HEADING.finditer(description))
    for i, h in enumerate(headings):
        if any(word in h.group(2).lower() for word in _SECTION_WORDS):
            level = len(h.group(1))
            end = next((n.start() for n in headings[i + 1 :] if len(n.group(1)) <= level), len(description))
            return description[h.end() : end]
    return None


def find_metric(description: str) -> MetricMatch | None:
    """The metric the description asks for, or None when no known phrase is there."""
    section = evaluation_section(description)
    for text in (section, description):
        if text:
            found = _first_phrase(normalise(text))
            if found is not None:
                return found
    return None


def _first_phrase(text: str) -> MetricMatch | None:
    best: tuple[int, int, MetricMatch] | None = None
    for pattern, name in _COMPILED:
        m = pattern.search(text)
        if m is None:
            continue
        key = (m.start(), -(m.end() - m.start()))
        if best is None or key < best[:2]:
            best = (*key, MetricMatch(_with_k(name, m), m.group(0)))
    return best[2] if best else None


def _with_k(name: str, m: re.Match[str]) -> str:
    if name != "map_at_k":
        return name
    k = int(next(g for g in m.groups() if g))
    return name if k == MAP_DEFAULT_K else f"map_at_{k}"


# The metric a problem type gets when the description names none.
DEFAULT_METRIC: dict[ProblemType, str] = {
    ProblemType.BINARY: "accuracy",
    ProblemType.MULTICLASS: "accuracy",
    ProblemType.REGRESSION: "rmse",
    ProblemType.MULTI_TARGET_REGRESSION: "rmse",
    ProblemType.MULTILABEL: "mean_columnwise_roc_auc",
}

_ADAPT: dict[tuple[str, ProblemType], str] = {
    ("log_loss", ProblemType.MULTICLASS): "multiclass_logloss",
    ("multiclass_logloss", ProblemType.BINARY): "log_loss",
    ("roc_auc", ProblemType.MULTILABEL): "mean_columnwise_roc_auc",
    ("roc_auc", ProblemType.MULTICLASS): "mean_columnwise_roc_auc",
    ("mean_columnwise_roc_auc", ProblemType.BINARY): "roc_auc",
    ("rmsle", ProblemType.MULTI_TARGET_REGRESSION): "mean_rmsle",
    ("mean_rmsle", ProblemType.REGRESSION): "rmsle",
    ("f1", ProblemType.MULTICLASS): "f1_macro",
    ("f1", ProblemType.MULTILABEL): "f1_macro",
}


def fit_to_problem(metric: str, problem_type: ProblemType) -> str:
    """The variant of a named metric that fits the problem type (log loss on three classes is the
    multi-class log loss; RMSLE over two targets is the mean column-wise RMSLE)."""
    return _ADAPT.get((metric, problem_type), metric)
