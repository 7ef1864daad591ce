"""How long the harness spends scoring one attempt's out-of-fold predictions, per metric.

    .venv/bin/python bench/bench_metrics.py [--scale 1.0]

Synthetic answers and predictions at sizes typical of the tasks each metric serves; prints one row
per metric: rows scored, seconds (best of 3), microseconds per row.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from mlestar.metrics import Metric, get_metric
from mlestar.metrics.rle import rle_encode

Data = tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]
Case = tuple[str, int, Callable[[np.random.Generator, int], Data]]


def _strings(rng: np.random.Generator, n: int) -> Data:
    chars = list("CHNOS=/()+-123456789")
    truth = np.array(["".join(rng.choice(chars, rng.integers(40, 120))) for _ in range(n)])
    pred = np.array([t[: len(t) // 2] + "".join(rng.choice(chars, 20)) for t in truth])
    return truth, pred, {}


def _spans(rng: np.random.Generator, n: int) -> Data:
    words = [f"w{i}" for i in range(500)]
    truth = np.array([" ".join(rng.choice(words, rng.integers(1, 20))) for _ in range(n)])
    return truth, np.array([t.split(" ", 1)[-1] for t in truth]), {}


def _masks(rng: np.random.Generator, n: int) -> Data:
    side = 256
    truth, pred = [], []
    for _ in range(n):
        m = rng.random((side, side)) < 0.002
        m[64:160, 80:200] = rng.random() < 0.7
        truth.append(rle_encode(m))
        pred.append(rle_encode(np.roll(m, 3, axis=0)))
    return np.array(truth), np.array(pred), {"image_shape": np.tile([side, side], (n, 1))}


def _boxes(rng: np.random.Generator, n: int) -> Data:
    def row(k: int, conf: bool) -> str:
        xy = rng.uniform(0, 900, (k, 2))
        return " ".join(
            f"{rng.integers(0, 14)} {rng.random() if conf else 1:.2f} {x:.0f} {y:.0f} {x + 60:.0f} {y + 40:.0f}"
            for x, y in xy
        )

    return np.array([row(3, False) for _ in range(n)]), np.array([row(8, True) for _ in range(n)]), {}


def _boxes3d(rng: np.random.Generator, n: int) -> Data:
    def row(k: int) -> str:
        return " ".join(
            f"{rng.random():.2f} {x:.1f} {y:.1f} 0 2 4.5 1.6 {rng.uniform(-3, 3):.2f} car"
            for x, y in rng.uniform(0, 60, (k, 2))
        )

    return np.array([row(15) for _ in range(n)]), np.array([row(25) for _ in range(n)]), {}


def _numbers(rng: np.random.Generator, n: int) -> Data:
    y = rng.integers(0, 2, n)
    return y, np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1), {}


CASES: list[Case] = [
    ("roc_auc", 200_000, _numbers),
    ("log_loss", 200_000, _numbers),
    ("mean_levenshtein", 20_000, _strings),
    ("word_jaccard", 50_000, _spans),
    ("f1_micro_sets", 50_000, _spans),
    ("map_at_12", 50_000, _spans),
    ("mean_dice", 2_000, _masks),
    ("mask_iou_map", 2_000, _masks),
    ("box_map_voc", 2_000, _boxes),
    ("box_map_coco", 2_000, _boxes),
    ("box3d_map", 200, _boxes3d),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every row count")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'metric':<20} {'rows':>8} {'seconds':>9} {'us/row':>9}")
    for name, rows, make in CASES:
        n = max(10, int(rows * args.scale))
        y, p, ctx = make(rng, n)
        best = min(_timed(get_metric(name), y, p, ctx) for _ in range(3))
        print(f"{name:<20} {n:>8} {best:>9.3f} {best / n * 1e6:>9.1f}")


def _timed(metric: Metric, y: np.ndarray, p: np.ndarray, ctx: dict[str, np.ndarray]) -> float:
    start = time.perf_counter()
    metric.score(y, p, ctx)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
