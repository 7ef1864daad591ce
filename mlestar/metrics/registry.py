"""Every metric by name, the aliases people write, and metrics with parameters.

A name may carry parameters: "map_at_5" (MAP@5), or "base:key=v,v:key=v" for the families below,
e.g. "weighted_multilabel_logloss:neg=7,1,1:pos=14,2,2" or "mask_fbeta:beta=1". A name without
parameters gets the family's defaults.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from mlestar.errors import ConfigError
from mlestar.metrics import boxes, boxes3d, masks, ranking, text
from mlestar.metrics import classification as cls
from mlestar.metrics import regression as reg
from mlestar.metrics.base import Metric, PlainFn, ResampledFn, ScoreFn, plain

MAP_DEFAULT_K = 3
Params = dict[str, tuple[float, ...]]


def _m(
    name: str,
    lower: bool,
    needs: str,
    fn: PlainFn | None,
    title: str,
    text_fn: ScoreFn | None = None,
    uses: tuple[str, ...] = (),
    scored: ScoreFn | None = None,
    resampled: ResampledFn | None = None,
) -> Metric:
    """A registry entry: `fn` reads (answers, predictions); `scored` also reads the context."""
    numeric = scored if scored is not None else plain(fn) if fn is not None else None
    return Metric(name, lower, needs, numeric, title, text_fn, uses, resampled)


def _map(k: int) -> Metric:
    name = "map_at_k" if k == MAP_DEFAULT_K else f"map_at_{k}"
    return _m(name, False, "probability", ranking.map_at(k), f"MAP@{k}", text.text_map_at(k))


_ENTRIES = (
    _m("accuracy", False, "label", cls.accuracy, "accuracy", text.text_accuracy,
       resampled=cls.accuracy_resampled),
    _m("balanced_accuracy", False, "label", cls.balanced_accuracy, "balanced accuracy"),
    _m("top1_error", True, "label", cls.top1_error, "top-1 classification error", text.text_top1_error),
    _m("f1", False, "label", cls.f1("binary"), "F1 score (binary)"),
    _m("f1_macro", False, "label", cls.f1("macro"), "F1 score (macro average)", text.text_f1("macro")),
    _m("f1_micro", False, "label", cls.f1("micro"), "F1 score (micro average)", text.text_f1("micro")),
    _m("f1_micro_sets", False, "text", None, "micro F1 over label sets", text.f1_micro_sets,
       scored=text.f1_micro_indicators),
    _m("mcc", False, "label", cls.mcc, "Matthews correlation coefficient"),
    _m("qwk", False, "label", cls.qwk, "quadratic weighted kappa"),
    _m("probabilistic_f1", False, "probability", cls.probabilistic_f1, "probabilistic F1"),
    _m("roc_auc", False, "probability", ranking.roc_auc, "area under the ROC curve",
       resampled=ranking.roc_auc_resampled),
    _m("mean_columnwise_roc_auc", False, "probability", ranking.mean_columnwise_roc_auc, "mean column-wise ROC AUC",
       resampled=ranking.mean_columnwise_roc_auc_resampled),
    _m("lwlrap", False, "probability", ranking.lwlrap, "label-weighted label-ranking average precision"),
    _map(MAP_DEFAULT_K),
    _m("log_loss", True, "probability", cls.log_loss, "binary log loss", resampled=cls.log_loss_resampled),
    _m("multiclass_logloss", True, "probability", cls.multiclass_logloss, "multi-class log loss",
       resampled=cls.multiclass_logloss_resampled),
    _m("kl_divergence", True, "probability", cls.kl_divergence, "Kullback-Leibler divergence"),
    _m("rmse", True, "value", reg.rmse, "root mean squared error", resampled=reg.rmse_resampled),
    _m("mse", True, "value", reg.mse, "mean squared error", resampled=reg.mse_resampled),
    _m("mae", True, "value", reg.mae, "mean absolute error", resampled=reg.mae_resampled),
    _m("rmsle", True, "value", reg.rmsle, "root mean squared logarithmic error", resampled=reg.rmsle_resampled),
    _m("mean_rmsle", True, "value", reg.mean_rmsle, "mean column-wise RMSLE"),
    _m("r2", False, "value", reg.r2, "coefficient of determination (R^2)"),
    _m("pearson", False, "value", reg.correlation(rank=False), "Pearson correlation"),
    _m("spearman", False, "value", reg.correlation(rank=True), "Spearman rank correlation"),
    _m("grouped_log_mae", True, "value", None, "mean over groups of log MAE", scored=reg.grouped_log_mae),
    _m("mean_angular_error", True, "value", reg.mean_angular_error, "mean angular error (radians)"),
    _m("haversine_p50_p95", True, "value", None, "mean of p50 and p95 haversine distance (m)",
       scored=reg.haversine_p50_p95),
    _m("laplace_log_likelihood", False, "value", reg.laplace_log_likelihood, "modified Laplace log likelihood"),
    _m("word_jaccard", False, "text", None, "word-level Jaccard", text.word_jaccard),
    _m("mean_levenshtein", True, "text", None, "mean Levenshtein distance", text.mean_levenshtein),
    _m("levenshtein_rate", True, "text", None, "token edit distance per true token", text.levenshtein_rate),
    _m("kendall_tau", False, "text", None, "Kendall tau of orderings", text.kendall_tau),
    _m("answer_f1_micro", False, "text", None, "micro F1 of answer cells", text.answer_f1_micro),
    _m("mean_dice", False, "text", None, "mean Dice of run-length masks", masks.mean_dice),
    _m("global_dice", False, "text", None, "Dice over all pixels of run-length masks", masks.global_dice),
    _m("mask_iou_map", False, "text", None, "mean precision over IoU thresholds 0.5-0.95 of masks",
       masks.mask_iou_map),
    _m("dice_hausdorff", False, "text", None, "0.4 Dice + 0.6 (1 - 3D Hausdorff) of masks",
       masks.dice_hausdorff(), uses=(masks.VOLUME, masks.SLICE, masks.IMAGE_SHAPE)),
    _m("box3d_map", False, "text", None, "mAP of 3D boxes over IoU 0.5-0.95", boxes3d.box3d_map),
    _m("point_in_box_f1", False, "text", None, "F1 of labelled points in true boxes", boxes.point_in_box_f1),
)  # fmt: skip

METRICS: dict[str, Metric] = {m.name: m for m in _ENTRIES}


# ---------------------------------------------------------------- families with parameters


@dataclass(frozen=True)
class Family:
    defaults: Params
    build: Callable[[Params], Metric]


def _weighted_auc(p: Params) -> Metric:
    return _m("weighted_roc_auc", False, "probability", ranking.weighted_roc_auc(p["tpr"], p["weights"]),
              "ROC AUC weighted by TPR band")  # fmt: skip


def _bias_auc(p: Params) -> Metric:
    fn = ranking.subgroup_bias_auc(p["p"][0], p["w"][0])
    return _m("subgroup_bias_auc", False, "probability", None, "overall and subgroup bias AUC",
              uses=(ranking.SUBGROUPS,), scored=fn)  # fmt: skip


def _weighted_logloss(p: Params) -> Metric:
    fn = cls.weighted_multilabel_logloss(p["neg"], p["pos"])
    return _m("weighted_multilabel_logloss", True, "probability", fn, "weighted multi-label log loss")


def _mask_fbeta(p: Params) -> Metric:
    beta = p["beta"][0]
    return _m(
        "mask_fbeta", False, "text", None, f"mean F{beta:g} of run-length masks", masks.mask_fbeta(beta)
    )


def _voc(p: Params) -> Metric:
    fn = boxes.box_map_voc(p["iou"][0])
    return _m("box_map_voc", False, "text", None, f"box mAP at IoU > {p['iou'][0]:g} (VOC)", fn)


def _coco(p: Params) -> Metric:
    fn = boxes.box_map_coco(p["iou"][0])
    return _m("box_map_coco", False, "text", None, f"box mAP at IoU {p['iou'][0]:g} (COCO)", fn)


FAMILIES: dict[str, Family] = {
    "weighted_roc_auc": Family({"tpr": (0.0, 0.4, 1.0), "weights": (2.0, 1.0)}, _weighted_auc),
    "subgroup_bias_auc": Family({"p": (-5.0,), "w": (0.25,)}, _bias_auc),
    "weighted_multilabel_logloss": Family({"neg": (), "pos": ()}, _weighted_logloss),
    "mask_fbeta": Family({"beta": (0.5,)}, _mask_fbeta),
    "box_map_voc": Family({"iou": (0.5,)}, _voc),
    "box_map_coco": Family({"iou": (0.4,)}, _coco),
}

ALIASES: dict[str, str] = {
    "auc": "roc_auc",
    "rocauc": "roc_auc",
    "logloss": "log_loss",
    "binary_logloss": "log_loss",
    "multi_logloss": "multiclass_logloss",
    "multiclass_log_loss": "multiclass_logloss",
    "mcrmsle": "mean_rmsle",
    "columnwise_rmsle": "mean_rmsle",
    "mcrmse": "rmse",
    "kappa": "qwk",
    "quadratic_weighted_kappa": "qwk",
    "r_squared": "r2",
    "map": "map_at_k",
    f"map_at_{MAP_DEFAULT_K}": "map_at_k",
    "exact_match": "accuracy",
    "jaccard": "word_jaccard",
    "levenshtein": "mean_levenshtein",
    "edit_distance": "mean_levenshtein",
    "matthews_corrcoef": "mcc",
    "kl": "kl_divergence",
    "dice": "mean_dice",
    "pf1": "probabilistic_f1",
}

_MAP_AT = re.compile(r"^map_?(?:at_?|@)(\d+)$")


def get_metric(name: str) -> Metric:
    """The metric called name: a canonical name, an alias, "map_at_<k>", or a family with parameters."""
    base, _, rest = name.strip().partition(":")
    key = base.strip().lower().replace("-", "_").replace(" ", "_")
    key = ALIASES.get(key, key)
    if key in FAMILIES:
        return _family_metric(key, rest, name)
    if rest:
        raise ConfigError(f"expected no parameters for the metric {key}, found {rest!r} in {name!r}")
    if key in METRICS:
        return METRICS[key]
    m = _MAP_AT.match(key)
    if m and int(m.group(1)) > 0:
        return _map(int(m.group(1)))
    known = ", ".join(sorted([*METRICS, *FAMILIES]))
    raise ConfigError(f"expected a metric name, one of {known} (or map_at_<k>); found {name!r}")


def _family_metric(key: str, rest: str, name: str) -> Metric:
    family = FAMILIES[key]
    params = dict(family.defaults)
    for part in filter(None, (s.strip() for s in rest.split(":"))):
        field, _, raw = part.partition("=")
        field = field.strip().lower()
        if field not in family.defaults:
            raise ConfigError(
                f"expected parameters {', '.join(family.defaults)} for the metric {key}, found {field!r} in {name!r}"
            )
        try:
            params[field] = tuple(float(v) for v in raw.split(",") if v.strip())
        except ValueError:
            raise ConfigError(f"expected numbers for {key}:{field}=..., found {raw!r}") from None
    try:
        metric = family.build(params)
    except ValueError as e:
        raise ConfigError(f"expected valid parameters for the metric {key}: {e}") from None
    spelled = _spelling(key, params, family.defaults)
    return Metric(
        spelled, metric.lower_is_better, metric.needs, metric.fn, metric.title, metric.text_fn, metric.uses
    )


def _spelling(key: str, params: Params, defaults: Params) -> str:
    """The canonical name: parameters written out only where they differ from the defaults."""
    parts = [f"{k}={','.join(f'{v:g}' for v in params[k])}" for k in defaults if params[k] != defaults[k]]
    return ":".join([key, *parts])


def names() -> tuple[str, ...]:
    """Every canonical name (families by their base name)."""
    return (*METRICS, *FAMILIES)
