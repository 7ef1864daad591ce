"""Fake column values for the replicas, one generator per kind named in catalogue.yaml.

Every generator takes the number of rows, a seeded random generator and the frame built so far
(answers such as spans read the text they are cut from), and returns a list of values. Nothing here
is real data: words come from a small made-up vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

WORDS = [
    "amber",
    "brisk",
    "cobalt",
    "dune",
    "ember",
    "fable",
    "glint",
    "harbor",
    "islet",
    "jasper",
    "kettle",
    "lumen",
    "meadow",
    "nectar",
    "orbit",
    "pebble",
    "quartz",
    "ripple",
    "saffron",
    "timber",
    "umbra",
    "velvet",
    "willow",
    "xenon",
    "yonder",
    "zephyr",
]
Gen = Callable[[int, np.random.Generator, pd.DataFrame, list[str]], list[Any]]


def _hex(rng: np.random.Generator, n: int, width: int = 12) -> list[str]:
    out: set[str] = set()
    while len(out) < n:
        out.add("".join(rng.choice(list("0123456789abcdef"), size=width)))
    return sorted(out, key=lambda _: rng.random())


def _sentence(rng: np.random.Generator, lo: int = 6, hi: int = 16) -> str:
    return " ".join(rng.choice(WORDS, size=int(rng.integers(lo, hi))))


def _id(n: int, rng: np.random.Generator, _: pd.DataFrame, args: list[str]) -> list[Any]:
    kind = args[0] if args else "int"
    if kind == "int":
        return list(range(1, n + 1))
    if kind.startswith("hex"):
        return [h + kind[3:] for h in _hex(rng, n)]
    if kind.startswith("pad"):
        return [f"{i:05d}{kind[3:]}" for i in rng.permutation(np.arange(1, 10 * n))[:n]]
    if kind == "pfx":
        return [f"{args[1]}{i}" for i in range(1, n + 1)]
    if kind == "datetime":
        start = pd.Timestamp("2011-01-01 00:00:00")
        return [str(start + pd.Timedelta(hours=int(h))) for h in sorted(rng.choice(20 * n, n, replace=False))]
    raise ValueError(f"unknown id kind {kind!r}")


def _labels(n: int, rng: np.random.Generator, names: list[str]) -> list[Any]:
    # every label appears at least a few times so folds can be stratified
    base = [names[i % len(names)] for i in range(n)]
    return list(rng.permutation(np.array(base, dtype=object)))


def _tags(n: int, rng: np.random.Generator, k: int, sep: str) -> list[str]:
    vocab = [f"tag{w}" for w in WORDS[:k]]
    return [
        sep.join(sorted(rng.choice(vocab, size=int(rng.integers(1, 4)), replace=False))) for _ in range(n)
    ]


def _span(n: int, rng: np.random.Generator, frame: pd.DataFrame, args: list[str]) -> list[str]:
    out = []
    for text in frame[args[0]].astype(str):
        words = text.split()
        a = int(rng.integers(0, len(words)))
        b = int(rng.integers(a + 1, len(words) + 1))
        out.append(" ".join(words[a:b]))
    return out


def _rle(n: int, rng: np.random.Generator) -> list[str]:
    out = []
    for _ in range(n):
        if rng.random() < 0.4:
            out.append("")
            continue
        start = int(rng.integers(1, 50))
        out.append(f"{start} {int(rng.integers(1, 9))} {start + 20} {int(rng.integers(1, 9))}")
    return out


def _boxes(n: int, rng: np.random.Generator, per_box: int) -> list[str]:
    out = []
    for _ in range(n):
        boxes = []
        for _ in range(int(rng.integers(0, 3))):
            label = str(rng.choice(["car", "U+3042", "opacity"]))
            boxes.append(" ".join([label, *[f"{rng.random() * 100:.1f}" for _ in range(per_box - 1)]]))
        out.append(" ".join(boxes))
    return out


def _boxes3d(n: int, rng: np.random.Generator) -> list[str]:
    """3-D boxes as the layout writes them: centre x y z, width, length, height, yaw, then the class."""
    out = []
    for _ in range(n):
        boxes = []
        for _ in range(int(rng.integers(0, 3))):
            centre = [f"{v:.1f}" for v in rng.uniform(0, 100, 3)]
            size = [f"{v:.1f}" for v in rng.uniform(1, 5, 3)]
            boxes.append(
                " ".join(
                    [*centre, *size, f"{rng.uniform(-3, 3):.2f}", str(rng.choice(["car", "pedestrian"]))]
                )
            )
        out.append(" ".join(boxes))
    return out


def _order(n: int, rng: np.random.Generator) -> list[str]:
    return [" ".join(_hex(rng, int(rng.integers(3, 7)), 8)) for _ in range(n)]


SIMPLE: dict[str, Callable[[int, np.random.Generator], list[Any]]] = {
    "num": lambda n, r: list(np.round(r.normal(10, 3, n), 4)),
    "int": lambda n, r: list(r.integers(0, 50, n)),
    "cat": lambda n, r: list(r.choice(["alpha", "beta", "gamma", "delta"], n)),
    "bool": lambda n, r: list(r.random(n) < 0.5),
    "binary": lambda n, r: _labels(n, r, [0, 1]),
    "text": lambda n, r: [_sentence(r) for _ in range(n)],
    "word": lambda n, r: [str(w) for w in r.choice(WORDS, n)],
    "date": lambda n, r: [
        str((pd.Timestamp("2020-01-01") + pd.Timedelta(days=int(d))).date()) for d in r.integers(0, 300, n)
    ],
    "datetime": lambda n, r: [
        str(pd.Timestamp("2019-06-01") + pd.Timedelta(minutes=int(m))) for m in r.integers(0, 10**5, n)
    ],
    "list": lambda n, r: [[str(w) for w in r.choice(WORDS, int(r.integers(0, 5)))] for _ in range(n)],
    "dict": lambda n, r: [{"k": int(r.integers(0, 9)), "tags": [str(r.choice(WORDS))]} for _ in range(n)],
    "sparse": lambda n, r: [None if r.random() < 0.8 else float(r.integers(0, 3)) for _ in range(n)],
    "group": lambda n, r: list(r.integers(1, max(2, n // 8), n)),
    "hex": lambda n, r: _hex(r, n, 8),
    "reg": lambda n, r: list(np.round(r.normal(50, 15, n), 3)),
    "pos": lambda n, r: list(np.round(r.gamma(2.0, 2.0, n), 4)),
    "count": lambda n, r: list(r.integers(0, 6, n)),
    "prob": lambda n, r: list(np.round(r.random(n), 3)),
    "rle": _rle,
    "chem": lambda n, r: [
        f"InChI=1S/C{int(c)}H{int(h)}O"
        for c, h in zip(r.integers(1, 9, n), r.integers(2, 20, n), strict=True)
    ],
    "seq": lambda n, r: [
        " ".join(map(str, r.permutation(np.arange(1, 21))[: int(r.integers(2, 6))])) for _ in range(n)
    ],
}


def generate(spec: str, n: int, rng: np.random.Generator, frame: pd.DataFrame) -> list[Any]:
    """Values for one column of n rows from its kind string, e.g. "label:5" or "id:hex.jpg"."""
    kind, *args = spec.split(":")
    if kind in SIMPLE:
        return SIMPLE[kind](n, rng)
    if kind == "id":
        return _id(n, rng, frame, args)
    if kind == "label":
        return _labels(n, rng, [f"class_{WORDS[i]}" for i in range(int(args[0]))])
    if kind == "labelint":
        return _labels(n, rng, list(range(int(args[0]))))
    if kind == "names":
        names: list[Any] = args[0].split("|")
        if all(x.replace(".", "", 1).isdigit() for x in names):
            names = [float(x) if "." in x else int(x) for x in names]
        return _labels(n, rng, names)
    if kind == "ordinal":
        return _labels(n, rng, list(range(1, int(args[0]) + 1)))
    if kind in ("tags", "ctags"):
        return _tags(n, rng, int(args[0]), " " if kind == "tags" else ",")
    if kind == "span":
        return _span(n, rng, frame, args)
    if kind == "boxes":
        return _boxes(n, rng, int(args[0]))
    if kind == "boxes3d":
        return _boxes3d(n, rng)
    if kind == "order":
        return _order(n, rng)
    raise ValueError(f"unknown column kind {spec!r}")
