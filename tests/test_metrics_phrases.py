"""The metric read from a description's words, with its direction. Sentences are written for these
tests, in the way competition pages phrase their evaluation."""

from __future__ import annotations

import pytest

from mlestar.metrics import get_metric, names
from mlestar.task.metric_phrases import (
    DEFAULT_TEXT_METRIC,
    find_metric,
    fit_to_answers,
    fit_to_problem,
)
from mlestar.task.spec import ProblemType


@pytest.mark.parametrize(
    "text,metric,lower",
    [
        (
            "Entries are ranked by the word-level Jaccard score between your span and ours.",
            "word_jaccard",
            False,
        ),
        ("We compute the Jaccard similarity of the predicted and true phrases.", "word_jaccard", False),
        (
            "The score is the mean Levenshtein distance between submitted and true strings.",
            "mean_levenshtein",
            True,
        ),
        ("Your transcriptions are compared by edit distance, averaged over rows.", "mean_levenshtein", True),
        (
            "For every clip we take the Levenshtein distance between your label list and ours; the sum of "
            "these distances is divided by the total number of true labels.",
            "levenshtein_rate",
            True,
        ),
        (
            "Orderings are scored with the Kendall tau correlation, pooled over all documents.",
            "kendall_tau",
            False,
        ),
        ("Ranking quality is measured by Mean Average Precision @ 10 (MAP@10).", "map_at_10", False),
        ("Each user's list is scored by MAP@3.", "map_at_k", False),
        ("The leaderboard uses quadratic weighted kappa between rater and model.", "qwk", False),
        ("Predictions are judged on the Matthews correlation coefficient.", "mcc", False),
        ("We report the top-1 classification error over all images.", "top1_error", True),
        ("Results are ranked on micro-averaged F1 across all tags.", "f1_micro", False),
        ("The metric is the macro F1 score over species.", "f1_macro", False),
        ("Submissions use MeanFScore, Kaggle's micro-averaged F1.", "f1_micro", False),
        ("We use the probabilistic F1 score (pF1), which accepts probabilities.", "probabilistic_f1", False),
        (
            "Scored with micro F1 between the predicted and expected answers; long and short answers must match.",
            "answer_f1_micro",
            False,
        ),
        ("Models are ranked by label-weighted label-ranking average precision (lwlrap).", "lwlrap", False),
        (
            "Predictions are compared using the Kullback-Leibler divergence to the vote distribution.",
            "kl_divergence",
            True,
        ),
        (
            "Scored by a weighted multi-label logarithmic loss, with the any-label counted more.",
            "weighted_multilabel_logloss",
            True,
        ),
        (
            "Score: the log of the mean absolute error within each type, averaged over types.",
            "grouped_log_mae",
            True,
        ),
        ("Directions are scored by the mean angular error in radians.", "mean_angular_error", True),
        ("We average the 50th and 95th percentile distance errors of each phone.", "haversine_p50_p95", True),
        (
            "The metric is a modified Laplace log likelihood using your confidence.",
            "laplace_log_likelihood",
            False,
        ),
        ("Masks are scored with the global Dice coefficient over all pixels.", "global_dice", False),
        ("The leaderboard shows the mean Dice coefficient of each image's mask.", "mean_dice", False),
        (
            "Masks are evaluated by the mean average precision at different intersection over union (IoU) "
            "thresholds of their pixels.",
            "mask_iou_map",
            False,
        ),
        (
            "Scored by mean average precision at different IoU thresholds. The IoU of a set of predicted 3D "
            "bounding volumes is their shared volume over their union.",
            "box3d_map",
            False,
        ),
        ("The score is the Pascal VOC mean Average Precision (mAP) at IoU > 0.5.", "box_map_voc", False),
        ("We use the standard mAP at IoU > 0.4 over all findings.", "box_map_voc:iou=0.4", False),
        (
            "A modified F1 score: a hit needs center point coordinates that lie within the true bounding box.",
            "point_in_box_f1",
            False,
        ),
        ("Submissions are ranked on the Pearson correlation coefficient.", "pearson", False),
        ("The score is the mean column-wise Spearman's correlation coefficient.", "spearman", False),
        (
            "Each column's AUC is computed and the final score is the average of the individual AUCs.",
            "mean_columnwise_roc_auc",
            False,
        ),
    ],
)
def test_each_metric_from_its_phrasing(text: str, metric: str, lower: bool) -> None:
    found = find_metric(f"# Task\n\nSome background.\n\n## Evaluation\n\n{text}\n\n## Data\n\nFiles.")
    assert found is not None, text
    assert found.metric == metric
    assert found.lower_is_better is lower == get_metric(metric).lower_is_better


@pytest.mark.parametrize(
    "text,metric",
    [
        (
            "Scored on the Sørensen–Dice coefficient, except that precision weighs more: we use the F0.5 score.",
            "mask_fbeta",
        ),
        (
            "We combine the mean Dice coefficient with the 3D Hausdorff distance, 0.4 and 0.6.",
            "dice_hausdorff",
        ),
        (
            "First the overall AUC over all comments. Then the bias AUCs: subgroup AUC, BPSN AUC and BNSP AUC, "
            "combined with a generalized mean.",
            "subgroup_bias_auc",
        ),
    ],
)
def test_composite_scores_win_over_the_parts_they_name(text: str, metric: str) -> None:
    found = find_metric(f"## Evaluation\n\n{text}\n")
    assert found is not None and found.metric == metric


def test_a_composite_is_not_pieced_together_across_headings() -> None:
    text = "## Evaluation\n\nThe mean Dice coefficient.\n\n### Notes\n\nHausdorff was considered.\n"
    found = find_metric(text)
    assert found is not None and found.metric == "mean_dice"


def test_numbers_in_the_words_become_parameters() -> None:
    text = (
        "## Evaluation\n\nWe use the weighted AUC, each band of the ROC curve weighted:\n\n"
        "```\ntpr_thresholds = [0.0, 0.5, 1.0]\nweights = [3, 1]\n```\n"
    )
    found = find_metric(text)
    assert found is not None and found.metric == "weighted_roc_auc:tpr=0,0.5,1:weights=3,1"
    plain = find_metric("## Evaluation\n\nSubmissions are scored on a weighted AUC.\n")
    assert plain is not None and plain.metric == "weighted_roc_auc"


def test_every_found_name_is_a_registry_name() -> None:
    from mlestar.task.metric_phrases import COMPOSITES, PHRASES

    found = {name for _, name in (*PHRASES, *COMPOSITES)}
    assert found <= set(names()) | {"map_at_k"}
    for name in found:
        get_metric(name)


def test_text_answers_never_fall_back_to_accuracy() -> None:
    assert get_metric(DEFAULT_TEXT_METRIC).needs == "text"
    assert fit_to_answers("rmse", "text") == DEFAULT_TEXT_METRIC
    assert fit_to_answers("roc_auc", "text") == DEFAULT_TEXT_METRIC
    # a metric that reads text keeps its name; "accuracy" stays when the words say so
    assert fit_to_answers("mean_levenshtein", "text") == "mean_levenshtein"
    assert fit_to_answers("accuracy", "text") == "accuracy"
    # label lists: F1 is over the sets of labels
    assert fit_to_answers("f1", "label_lists") == "f1_micro_sets"
    assert fit_to_answers("f1_micro", "label_lists") == "f1_micro_sets"
    assert fit_to_answers("map_at_12", "label_lists") == "map_at_12"
    assert fit_to_answers("rmse", "numbers") == "rmse"
    with pytest.raises(ValueError, match="expected answers of kind"):
        fit_to_answers("rmse", "pictures")


def test_f1_is_fitted_to_the_problem() -> None:
    assert fit_to_problem("f1", ProblemType.MULTICLASS) == "f1_macro"
    assert fit_to_problem("f1", ProblemType.MULTILABEL) == "f1_micro"
    assert fit_to_problem("f1", ProblemType.BINARY) == "f1"
