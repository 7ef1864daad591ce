"""Detection metrics over prediction strings: geometry by hand, AP against scikit-learn, and small
hand-worked detection cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from mlestar.metrics import get_metric
from mlestar.metrics.boxes import Box, iou, parse_boxes
from mlestar.metrics.boxes3d import clip_convex, iou_3d, parse_objects, polygon_area


def test_parse_boxes_and_their_errors() -> None:
    assert parse_boxes("opacity 0.9 1 2 3 4 none 1 0 0 1 1") == [
        Box("opacity", 0.9, 1, 2, 3, 4),
        Box("none", 1.0, 0, 0, 1, 1),
    ]
    assert parse_boxes("  ") == []
    with pytest.raises(ValueError, match="expected 6 values per box"):
        parse_boxes("opacity 0.9 1 2 3")
    with pytest.raises(ValueError, match="expected numbers after each box label"):
        parse_boxes("a b c d e f")


def test_box_iou_by_hand() -> None:
    a, b = Box("x", 1, 0, 0, 10, 10), Box("x", 1, 5, 0, 15, 10)
    assert iou(a, b) == pytest.approx(50 / 150)
    assert iou(a, a) == 1.0 and iou(a, Box("x", 1, 20, 20, 30, 30)) == 0.0
    assert iou(Box("x", 1, 0, 0, 0, 0), Box("x", 1, 0, 0, 0, 0)) == 0.0


def test_box_map_voc_against_sklearn_average_precision() -> None:
    truth = np.array(["op 1 0 0 10 10", "op 1 50 50 60 60", ""])
    pred = np.array(["op 0.9 1 1 10 10", "op 0.6 0 0 5 5", ""])
    # pairs: hit (1, .9), false alarm (0, .6), missed box (1, 0), nothing in image 3 (0, 0)
    want = skm.average_precision_score([1, 0, 1, 0], [0.9, 0.6, 0.0, 0.0])
    assert want == pytest.approx(0.75)
    assert get_metric("box_map_voc").score(truth, pred) == pytest.approx(want)
    # labels are averaged; predictions of a label no answer holds are ignored; a label whose pairs
    # are all hits (here: b, missed, nothing else) scores the share of its boxes found
    two = np.array(["a 1 0 0 10 10 b 1 20 20 30 30"])
    assert get_metric("box_map_voc").score(two, np.array(["a 0.5 0 0 10 10 z 0.9 0 0 1 1"])) == pytest.approx(
        0.5
    )
    found_one = np.array(["a 1 0 0 10 10 a 1 20 20 30 30"])
    assert get_metric("box_map_voc").score(found_one, np.array(["a 0.5 0 0 10 10"])) == pytest.approx(0.5)
    # IoU must be above the threshold: 1/3 misses at 0.5 (a false alarm and a missed box), hits at 0.3
    shifted = np.array(["a 0.5 5 0 15 10"])
    missed = skm.average_precision_score([0, 1], [0.5, 0.0])
    assert get_metric("box_map_voc").score(np.array(["a 1 0 0 10 10"]), shifted) == pytest.approx(missed)
    assert get_metric("box_map_voc:iou=0.3").score(np.array(["a 1 0 0 10 10"]), shifted) == pytest.approx(1.0)


def test_box_map_coco_reads_101_recall_points() -> None:
    truth = np.array(["3 1 10 10 20 20", "3 1 40 40 50 50"])
    pred = np.array(["3 0.9 10 10 20 20 3 0.8 90 90 95 95", "3.0 0.7 40 40 50 50"])
    # ranked: hit, false alarm, hit -> recall .5 .5 1, precision 1 .5 .67 (made 1 .67 .67)
    want = (51 * 1.0 + 50 * (2 / 3)) / 101
    assert get_metric("box_map_coco").score(truth, pred) == pytest.approx(want)
    assert get_metric("box_map_coco").score(truth, np.array(["", ""])) == 0.0


def test_box_map_coco_compares_boxes_as_the_reference_evaluator_reads_them() -> None:
    # corners [10, 20] and [16, 26] overlap by 0.25 (no match at 0.4); read as x, y, width,
    # height they span [10, 30] and [16, 42], which overlap by 140 / 320 = 0.4375
    truth, pred = np.array(["1 1 10 0 20 10"]), np.array(["1 0.9 16 0 26 10"])
    assert get_metric("box_map_coco").score(truth, pred) == pytest.approx(1.0)
    missed = skm.average_precision_score([0, 1], [0.9, 0.0])
    assert get_metric("box_map_voc:iou=0.4").score(truth, pred) == pytest.approx(missed) == pytest.approx(0.5)


def test_rotated_ground_rectangles_intersect_exactly() -> None:
    square = [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)]
    c = math.sqrt(2)
    diamond = [(c, 0.0), (0.0, c), (-c, 0.0), (0.0, -c)]
    # a square and the same square turned 45 degrees share a regular octagon of area 8(sqrt2 - 1)
    assert polygon_area(clip_convex(square, diamond)) == pytest.approx(8 * (math.sqrt(2) - 1))
    assert polygon_area(clip_convex(square, [(5.0, 5.0), (6.0, 5.0), (6.0, 6.0)])) == 0.0


def test_iou_3d_by_hand() -> None:
    def box(x: float, yaw: float, w: float = 2.0, length: float = 4.0) -> str:
        return f"1.0 {x} 0 0 {w} {length} 2 {yaw} car"

    [a] = parse_objects(box(0, 0))
    [b] = parse_objects(box(2, 0))  # half a length along the heading: 8 / (16 + 16 - 8)
    assert iou_3d(a, b) == pytest.approx(1 / 3)
    [turned] = parse_objects(box(0, math.pi))  # turned half round: the same box
    assert iou_3d(a, turned) == pytest.approx(1.0)
    [sq], [sq45] = parse_objects(box(0, 0, 2, 2)), parse_objects(box(0, math.pi / 4, 2, 2))
    assert iou_3d(sq, sq45) == pytest.approx(1 / math.sqrt(2))


def test_parse_objects_finds_whether_answers_carry_a_confidence() -> None:
    with_conf = parse_objects("1.0 0 0 0 2 4 2 0.3 car 0.5 5 5 0 2 4 2 0 bus")
    without = parse_objects("0 0 0 2 4 2 0.3 car 5 5 0 2 4 2 0 bus")
    assert [o.name for o in with_conf] == [o.name for o in without] == ["car", "bus"]
    assert with_conf[0].yaw == without[0].yaw == 0.3
    with pytest.raises(ValueError, match="expected positive box sizes"):
        parse_objects("1.0 0 0 0 0 4 2 0.3 car")


def test_box3d_map_by_hand() -> None:
    truth = np.array(["0 0 0 2 4 2 0 car 20 0 0 2 4 2 0 car 40 0 0 2 2 2 0 bus"])
    # car: one exact hit and one false alarm -> AP .5 at every threshold; bus never predicted -> 0
    pred = np.array(["0.9 0 0 0 2 4 2 0 car 0.5 90 90 0 2 4 2 0 car"])
    assert get_metric("box3d_map").score(truth, pred) == pytest.approx(0.25)
    # a bus turned 45 degrees overlaps by 1/sqrt(2): a hit at 0.50 .. 0.70 only
    turned = np.array([f"1.0 40 0 0 2 2 2 {math.pi / 4} bus"])
    assert get_metric("box3d_map").score(np.array(["40 0 0 2 2 2 0 bus"]), turned) == pytest.approx(0.5)
    # rows without a true object are left out
    both = get_metric("box3d_map").score(
        np.array(["40 0 0 2 2 2 0 bus", ""]), np.array([turned[0], turned[0]])
    )
    assert both == pytest.approx(0.5)


def test_point_in_box_f1_by_hand() -> None:
    truth = np.array(["A 0 0 10 10 B 20 20 5 5", "C 0 0 4 4", ""])
    # A found by (5, 5); B's point lies outside; (6, 6) and C at (1, 1) are extra on page 1;
    # page 2's point sits on the box edge (not strictly inside); page 3 has one extra point
    pred = np.array(["A 5 5 A 6 6 B 30 30 C 1 1", "C 0 2", "A 1 1"])
    tp, fp, fn = 1, 3 + 1 + 1, 1 + 1
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert get_metric("point_in_box_f1").score(truth, pred) == pytest.approx(
        2 * precision * recall / (precision + recall)
    )
    assert get_metric("point_in_box_f1").score(truth[:1], np.array(["A 1 1 B 21 21"])) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="expected groups of 3 values"):
        get_metric("point_in_box_f1").score(truth[:1], np.array(["A 1"]))
