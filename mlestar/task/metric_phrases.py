"""Reading the metric from a task description, with a table of the phrasings Kaggle descriptions use.

The evaluation section ("## Evaluation", "### Metric") is searched first, then the whole text.
Composite scores, whose descriptions also name their parts ("Dice ... and Hausdorff distance",
"overall AUC ... bias AUCs"), are looked for first. Otherwise, of all the phrases found, the one
that starts first wins, and the longest on a tie, so "multi-class logarithmic loss" beats
"logarithmic loss" and "column-wise root mean squared logarithmic error" beats "root mean squared
logarithmic error". Numbers the words give become the metric's parameters (MAP@5, IoU > 0.4, the
bands and weights of a weighted AUC).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlestar.metrics import MAP_DEFAULT_K, get_metric
from mlestar.task.spec import ProblemType

_RMSLE = r"root mean squared? log(?:arithmic)? error"
_LOGLOSS = r"(?:log(?:arithmic)? ?loss|logloss)"
_AUC = r"(?:area under (?:the )?(?:roc |receiver operating characteristic )?curve|roc ?auc|auc ?roc|\bauc\b)"
_F1 = r"f ?1(?: ?score)?"
_NEAR = r"[^#]{0,300}?"
"""Up to a few sentences of the same section (headings are not crossed)."""

COMPOSITES: tuple[tuple[str, str], ...] = (
    (rf"dice{_NEAR}hausdorff|hausdorff{_NEAR}dice", "dice_hausdorff"),
    (r"\bbpsn\b|\bbnsp\b|generali[sz]ed mean of (?:the )?bias aucs?|\bbias aucs?\b", "subgroup_bias_auc"),
    (rf"(?:levenshtein|edit) distances?{_NEAR}divided by the (?:total )?number of", "levenshtein_rate"),
    (rf"\biou\b{_NEAR}\b3d bounding (?:volumes?|box(?:es)?)|3d (?:bounding )?box(?:es)? map", "box3d_map"),
    (r"\bf ?0\.5\b|f ?beta score", "mask_fbeta"),
)

PHRASES: tuple[tuple[str, str], ...] = (
    # (regular expression over normalised text, canonical metric name)
    (rf"(?:mean )?column ?wise (?:mean )?{_RMSLE}", "mean_rmsle"),
    (r"mean column ?wise rmsle|\bmcrmsle\b|column ?wise rmsle", "mean_rmsle"),
    (_RMSLE, "rmsle"),
    (r"\brmsle\b", "rmsle"),
    # rmse over several targets is already the mean of the per-column values (MCRMSE)
    (r"root mean squared? error|\brmse\b|\bmcrmse\b", "rmse"),
    (r"(?<!root )mean squared? error|\bmse\b", "mse"),
    (r"log(?:arithm)? of (?:the )?mean absolute error|\blog mae\b", "grouped_log_mae"),
    (r"mean absolute error|\bmae\b", "mae"),
    (r"weighted (?:roc )?auc|weighted area under (?:the )?(?:roc )?curve", "weighted_roc_auc"),
    (rf"(?:mean )?column ?wise (?:mean )?(?:roc )?{_AUC}", "mean_columnwise_roc_auc"),
    (
        rf"mean (?:roc )?{_AUC} (?:across|over|of) (?:all |the |each )*(?:columns|labels|targets)",
        "mean_columnwise_roc_auc",
    ),
    (rf"{_AUC}{_NEAR}(?:average|mean) of the (?:individual )?aucs", "mean_columnwise_roc_auc"),
    (_AUC, "roc_auc"),
    (r"weighted multi ?label log(?:arithmic)? ?loss", "weighted_multilabel_logloss"),
    (
        rf"multi ?class {_LOGLOSS}|multi ?class cross ?entropy|categorical cross ?entropy",
        "multiclass_logloss",
    ),
    (rf"{_LOGLOSS}|binary cross ?entropy", "log_loss"),
    (r"kullback ?(?:leibler|liebler)|\bkl ?divergence", "kl_divergence"),
    (r"quadratic(?:ally)? weighted (?:cohen'?s )?kappa|\bqwk\b|cohen'?s kappa|weighted kappa", "qwk"),
    (r"mean average precision ?@ ?(\d+)|\bmap ?@ ?(\d+)", "map_at_k"),
    (
        r"(?:mean average precision|\bmap\b)[^#]{0,80}?\biou\b ?(?:>=|>|=|of|at|above)? ?(\d?\.\d+)",
        "box_map_voc",
    ),
    (r"mean average precision at (?:different |multiple )?(?:intersection over union|iou)", "mask_iou_map"),
    (r"label ?weighted label ?ranking average precision|\blwlrap\b", "lwlrap"),
    (rf"{_F1}{_NEAR}(?:center|centre) points?{_NEAR}(?:within|inside)[^#]{{0,40}}?box", "point_in_box_f1"),
    (rf"micro (?:averaged? )?{_F1}[^#]{{0,120}}?\b(?:short|long|expected) answers\b", "answer_f1_micro"),
    (r"probabilistic f ?1|\bpf1\b", "probabilistic_f1"),
    (r"macro (?:averaged? )?f ?1|f ?1 (?:score )?\(?macro", "f1_macro"),
    (r"micro (?:averaged? )?f ?1|f ?1 (?:score )?\(?micro|\bmeanfscore\b", "f1_micro"),
    (r"\bf ?1(?: score)?\b|\bf score\b|f measure", "f1"),
    (r"matthews correlation|\bmcc\b|phi coefficient", "mcc"),
    (r"top ?1 (?:classification )?error", "top1_error"),
    (r"balanced accuracy", "balanced_accuracy"),
    (r"\baccuracy\b|percentage of (?:predicted labels|predictions) that (?:are|is) correct", "accuracy"),
    (r"pearson", "pearson"),
    (r"spearman", "spearman"),
    (r"kendall(?:'s)? (?:tau|rank)|kendall τ", "kendall_tau"),
    (r"\br ?\^ ?\{?2\}?(?![0-9])|\br²|r squared|coefficient of determination", "r2"),
    (r"(?:word ?level )?jaccard", "word_jaccard"),
    (r"levenshtein|levenhstein|edit distance", "mean_levenshtein"),
    (r"global dice", "global_dice"),
    (r"(?:sørensen )?dice (?:coefficient|score|similarity)", "mean_dice"),
    (r"mean angular error", "mean_angular_error"),
    (r"50th and 95th percentile", "haversine_p50_p95"),
    (r"laplace log ?likelihood", "laplace_log_likelihood"),
)

_COMPILED = tuple((re.compile(pattern), name) for pattern, name in PHRASES)
_COMPOSITES = tuple((re.compile(pattern), name) for pattern, name in COMPOSITES)
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_HEADING = re.compile(r"^(#{1,6})\s*(.*?)\s*#*\s*$", re.MULTILINE)
_SECTION_WORDS = ("evaluation", "metric", "scoring")
_TPR_BANDS = re.compile(r"tpr thresholds ?= ?\[([0-9., ]+)\]")
_BAND_WEIGHTS = re.compile(r"\bweights ?= ?\[([0-9., ]+)\]")


@dataclass(frozen=True)
class MetricMatch:
    metric: str
    phrase: str
    """The words of the description that named it."""

    @property
    def lower_is_better(self) -> bool:
        return get_metric(self.metric).lower_is_better


def normalise(text: str) -> str:
    """Lower case, links reduced to their text, markup and hyphens to spaces, runs of blanks to one.
    Headings keep their '#' so that phrases looked for across sentences stop at them."""
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
            norm = normalise(text)
            found = _first_phrase(norm, _COMPOSITES) or _first_phrase(norm, _COMPILED)
            if found is not None:
                return found
    return None


def _first_phrase(text: str, table: tuple[tuple[re.Pattern[str], str], ...]) -> MetricMatch | None:
    best: tuple[int, int, MetricMatch] | None = None
    for pattern, name in table:
        m = pattern.search(text)
        if m is None:
            continue
        key = (m.start(), -(m.end() - m.start()))
        if best is None or key < best[:2]:
            best = (*key, MetricMatch(_with_parameters(name, m, text), m.group(0)))
    return best[2] if best else None


def _with_parameters(name: str, m: re.Match[str], text: str) -> str:
    """The metric's full name with the numbers the description gives."""
    if name == "map_at_k":
        k = int(next(g for g in m.groups() if g))
        return name if k == MAP_DEFAULT_K else f"map_at_{k}"
    if name == "box_map_voc":
        return get_metric(f"box_map_voc:iou={float(m.group(1)):g}").name
    if name == "weighted_roc_auc":
        bands, weights = _TPR_BANDS.search(text), _BAND_WEIGHTS.search(text)
        if bands and weights:
            return get_metric(f"weighted_roc_auc:tpr={_numbers(bands)}:weights={_numbers(weights)}").name
    return name


def _numbers(m: re.Match[str]) -> str:
    return ",".join(v.strip() for v in m.group(1).split(",") if v.strip())


# ---------------------------------------------------------------- defaults and fitting

# The metric a problem type gets when the description names none.
DEFAULT_METRIC: dict[ProblemType, str] = {
    ProblemType.BINARY: "accuracy",
    ProblemType.MULTICLASS: "accuracy",
    ProblemType.REGRESSION: "rmse",
    ProblemType.MULTI_TARGET_REGRESSION: "rmse",
    ProblemType.MULTILABEL: "mean_columnwise_roc_auc",
}

DEFAULT_TEXT_METRIC = "word_jaccard"
"""The metric for free-text answers (spans, sentences) when the description names none: never
accuracy, which would make every distinct answer a class of its own."""

_ADAPT: dict[tuple[str, ProblemType], str] = {
    ("log_loss", ProblemType.MULTICLASS): "multiclass_logloss",
    ("multiclass_logloss", ProblemType.BINARY): "log_loss",
    ("roc_auc", ProblemType.MULTILABEL): "mean_columnwise_roc_auc",
    ("roc_auc", ProblemType.MULTICLASS): "mean_columnwise_roc_auc",
    ("mean_columnwise_roc_auc", ProblemType.BINARY): "roc_auc",
    ("rmsle", ProblemType.MULTI_TARGET_REGRESSION): "mean_rmsle",
    ("mean_rmsle", ProblemType.REGRESSION): "rmsle",
    ("f1", ProblemType.MULTICLASS): "f1_macro",
    ("f1", ProblemType.MULTILABEL): "f1_micro",
}


def fit_to_problem(metric: str, problem_type: ProblemType) -> str:
    """The variant of a named metric that fits the problem type (log loss on three classes is the
    multi-class log loss; RMSLE over two targets is the mean column-wise RMSLE)."""
    return _ADAPT.get((metric, problem_type), metric)


ANSWER_KINDS = ("numbers", "labels", "label_lists", "text")


def fit_to_answers(metric: str, answers: str) -> str:
    """The variant of a named metric that reads the task's answers.

    answers: "numbers" or "labels" (encoded by the harness: any metric), "label_lists" (space-
    separated labels per row: F1 becomes micro F1 over the sets), "text" (free text such as spans:
    a metric that reads only numbers becomes DEFAULT_TEXT_METRIC).
    """
    if answers not in ANSWER_KINDS:
        raise ValueError(f"expected answers of kind {', '.join(ANSWER_KINDS)}, found {answers!r}")
    if answers == "label_lists" and metric in ("f1", "f1_micro", "f1_macro"):
        return "f1_micro_sets"
    if answers in ("label_lists", "text") and get_metric(metric).text_fn is None:
        return DEFAULT_TEXT_METRIC
    return metric
