"""Run-length masks: the pure encode/decode functions, and every mask metric against the same
score computed on decoded numpy masks (scikit-learn / scipy where they hold one)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.distance import directed_hausdorff
from sklearn import metrics as skm

from mlestar.metrics import get_metric
from mlestar.metrics.rle import overlap, parse_runs, rle_decode, rle_encode

H, W = 13, 17


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(3)


def _mask(rng: np.random.Generator, empty: float = 0.25) -> np.ndarray:
    m = np.zeros((H, W), dtype=bool)
    if rng.random() < empty:
        return m
    r, c = rng.integers(0, H), rng.integers(0, W)
    m[max(0, r - 3) : r + rng.integers(1, 5), max(0, c - 4) : c + rng.integers(1, 6)] = True
    m |= rng.random((H, W)) < 0.03
    return m


def _pairs(rng: np.random.Generator, n: int = 60) -> tuple[list[np.ndarray], list[np.ndarray]]:
    truth = [_mask(rng) for _ in range(n)]
    pred = [np.roll(t, rng.integers(-2, 3), axis=1) if rng.random() < 0.8 else _mask(rng) for t in truth]
    return truth, pred


def _rles(masks: list[np.ndarray], order: str = "F") -> np.ndarray:
    return np.array([rle_encode(m, order=order) for m in masks])  # type: ignore[arg-type]


def test_rle_encoding_by_hand_in_both_pixel_orders() -> None:
    m = np.array([[1, 0, 1], [1, 1, 0]], dtype=bool)
    # column-major: pixels (1,1) (2,1) | (2,2) | (1,3) -> 1, 2, 4, 5
    assert rle_encode(m) == "1 2 4 2"
    # row-major: (1,1) | (1,3) (2,1) (2,2) -> 1, 3, 4, 5
    assert rle_encode(m, order="C") == "1 1 3 3"
    assert rle_encode(np.zeros((2, 2))) == ""
    assert np.array_equal(rle_decode("1 2 4 2", (2, 3)), m)
    assert np.array_equal(rle_decode("1 1 3 3", (2, 3), order="C"), m)
    assert not rle_decode("-", (2, 3)).any() and not rle_decode("  ", (2, 3)).any()


def test_rle_round_trips(rng: np.random.Generator) -> None:
    for _ in range(50):
        m = _mask(rng)
        for order in ("F", "C"):
            assert np.array_equal(rle_decode(rle_encode(m, order=order), (H, W), order=order), m)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad,message",
    [
        ("1 2 3", "odd count"),
        ("0 2", "positive starts and lengths"),
        ("3 0", "positive starts and lengths"),
        ("5 2 1 2", "sorted runs that do not overlap"),
        ("1 3 2 2", "sorted runs that do not overlap"),
        ("1 x", "pairs of integers"),
    ],
)
def test_invalid_rle_is_refused(bad: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_runs(bad)
    with pytest.raises(ValueError, match=message):
        get_metric("mean_dice").score(np.array(["1 1"]), np.array([bad]))


def test_run_overlap_counts_the_shared_pixels(rng: np.random.Generator) -> None:
    assert overlap(parse_runs("1 5 10 3"), parse_runs("4 8")) == 2 + 2  # pixels 4,5 and 10,11
    assert overlap(parse_runs("1 3"), parse_runs("4 2")) == 0  # touching runs share nothing
    truth, pred = _pairs(rng)
    for t, p in zip(truth, pred, strict=True):
        assert overlap(parse_runs(rle_encode(t)), parse_runs(rle_encode(p))) == int((t & p).sum())


def _dice(t: np.ndarray, p: np.ndarray, empty: float) -> float:
    total = t.sum() + p.sum()
    return 2 * (t & p).sum() / total if total else empty


def test_mean_and_global_dice(rng: np.random.Generator) -> None:
    truth, pred = _pairs(rng)
    y, p = _rles(truth), _rles(pred)
    want = np.mean([_dice(t, q, 1.0) for t, q in zip(truth, pred, strict=True)])
    assert get_metric("mean_dice").score(y, p) == pytest.approx(want)
    flat_t, flat_p = np.concatenate([t.ravel() for t in truth]), np.concatenate([q.ravel() for q in pred])
    assert get_metric("global_dice").score(y, p) == pytest.approx(_dice(flat_t, flat_p, 1.0))
    # "-" marks an empty mask; two empty masks agree
    assert get_metric("mean_dice").score(np.array(["-", "1 4"]), np.array(["", "3 4"])) == pytest.approx(
        (1.0 + 2 * 2 / 8) / 2
    )


def test_mask_fbeta_matches_sklearn_on_the_pixels(rng: np.random.Generator) -> None:
    truth, pred = _pairs(rng)
    metric = get_metric("mask_fbeta")
    want = np.mean(
        [
            skm.fbeta_score(t.ravel(), q.ravel(), beta=0.5, zero_division=0)
            for t, q in zip(truth, pred, strict=True)
        ]
    )
    assert metric.score(_rles(truth, "C"), _rles(pred, "C")) == pytest.approx(want)
    f1 = np.mean(
        [skm.f1_score(t.ravel(), q.ravel(), zero_division=0) for t, q in zip(truth, pred, strict=True)]
    )
    assert get_metric("mask_fbeta:beta=1").score(_rles(truth), _rles(pred)) == pytest.approx(f1)


def test_mask_iou_map_by_hand_and_by_thresholds(rng: np.random.Generator) -> None:
    metric = get_metric("mask_iou_map")
    # IoU 3/5 = 0.6 beats 0.50 and 0.55 only: 2 of 10 thresholds
    assert metric.score(np.array(["1 4"]), np.array(["2 4"])) == pytest.approx(0.2)
    assert metric.score(np.array(["", ""]), np.array(["", "1 1"])) == pytest.approx(0.5)
    truth, pred = _pairs(rng)
    want = []
    for t, q in zip(truth, pred, strict=True):
        if not t.any():
            want.append(float(not q.any()))
            continue
        iou = (t & q).sum() / (t | q).sum()
        want.append(np.mean([iou > th for th in np.arange(0.5, 1.0, 0.05)]))
    assert metric.score(_rles(truth), _rles(pred)) == pytest.approx(np.mean(want))


def test_mask_iou_map_reads_an_empty_prediction_as_the_whole_image_when_shapes_are_given() -> None:
    big = np.zeros((10, 10), dtype=bool)
    big[:8] = True  # 80 % of the image
    y, p = np.array([rle_encode(big)]), np.array([""])
    shapes = np.array([[10, 10]])
    # the reference grader's binning compares an empty prediction as if it covered the image: IoU 0.8
    want = np.mean(np.arange(0.5, 1.0, 0.05) < 0.8)
    assert get_metric("mask_iou_map").score(y, p, {"image_shape": shapes}) == pytest.approx(want)
    assert get_metric("mask_iou_map").score(y, p) == 0.0


def _hausdorff(t: np.ndarray, p: np.ndarray) -> float:
    if not t.any() and not p.any():
        return math.nan
    if np.array_equal(t, p):
        return 0.0
    if not t.any() or not p.any() or p.sum() > 10 * t.sum():
        return 1.0
    a, b = np.argwhere(t) / t.shape, np.argwhere(p) / t.shape
    return max(directed_hausdorff(a, b)[0], directed_hausdorff(b, a)[0]) / math.sqrt(3)


def test_dice_hausdorff_stacks_slices_into_volumes(rng: np.random.Generator) -> None:
    volumes, slices, classes = 4, 5, 2
    keys = [(v, s, c) for v in range(volumes) for s in range(slices) for c in range(classes)]
    order = rng.permutation(len(keys))  # rows arrive in any order
    keys = [keys[i] for i in order]
    truth = [_mask(rng, empty=0.5) for _ in keys]
    pred = [np.roll(t, 1, axis=0) if rng.random() < 0.7 else _mask(rng, 0.5) for t in truth]
    dice = [_dice(t, q, math.nan) for t, q in zip(truth, pred, strict=True)]
    distances = []
    for v in range(volumes):
        stack_t = np.stack(
            [
                np.logical_or.reduce([truth[i] for i, k in enumerate(keys) if k[:2] == (v, s)])
                for s in range(slices)
            ]
        )
        stack_p = np.stack(
            [
                np.logical_or.reduce([pred[i] for i, k in enumerate(keys) if k[:2] == (v, s)])
                for s in range(slices)
            ]
        )
        distances.append(_hausdorff(stack_t, stack_p))
    want = 0.4 * np.nanmean(dice) + 0.6 * (1 - np.nanmean(distances))
    ctx = {
        "volume": np.array([f"case{v}" for v, _, _ in keys]),
        "slice": np.array([f"slice_{s:04d}" for _, s, _ in keys]),
        "image_shape": np.tile([H, W], (len(keys), 1)),
    }
    metric = get_metric("dice_hausdorff")
    assert metric.score(_rles(truth), _rles(pred), ctx) == pytest.approx(want)
    assert metric.score(_rles(truth), _rles(truth), ctx) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="expected the per-row context volume, slice, image_shape"):
        metric.score(_rles(truth), _rles(pred))
