"""Tiny fake tasks, one per catalogue entry, in exactly the layout the entry describes.

    python -m conformance.replicas OUT_DIR [NAME ...]

writes OUT_DIR/<name>/public (what an agent sees) and OUT_DIR/<name>/private/answers.csv (the true
answers, in the submission's layout). No real data: every value is generated from a seed.
"""

from __future__ import annotations

import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from conformance import builders, writers
from conformance.columns import generate

CATALOGUE = Path(__file__).with_name("catalogue.yaml")
ROWS = (160, 40)


@dataclass(frozen=True)
class Replica:
    name: str
    entry: dict[str, Any]
    public: Path
    answers: Path


def catalogue() -> list[dict[str, Any]]:
    return list(yaml.safe_load(CATALOGUE.read_text())["competitions"])


def entry(name: str) -> dict[str, Any]:
    found = [e for e in catalogue() if e["name"] == name]
    if not found:
        raise KeyError(f"no catalogue entry {name!r}")
    return found[0]


def build(entry: dict[str, Any], out: Path, seed: int = 0) -> Replica:
    """Write the replica of one entry under out/<name>; returns where its parts are."""
    root = out / entry["name"]
    writers.clear(root)
    public, private = root / "public", root / "private"
    public.mkdir(parents=True)
    private.mkdir()
    rng = np.random.default_rng(seed + zlib.crc32(entry["name"].encode()))
    if "builder" in entry:
        answers = builders.BUILDERS[entry["builder"]](entry, public, rng)
    else:
        answers = _build_tables(entry, public, rng)
    answers.to_csv(private / "answers.csv", index=False)
    listing = sorted(p.name + ("/" if p.is_dir() else "") for p in public.iterdir())
    (public / "description.md").write_text(writers.description(entry, listing))
    return Replica(entry["name"], entry, public, private / "answers.csv")


def _build_tables(entry: dict[str, Any], public: Path, rng: np.random.Generator) -> pd.DataFrame:
    n_train, n_test = entry.get("rows", ROWS)
    frame = _frame(entry, n_train + n_test, rng)
    train, test = frame.iloc[:n_train].reset_index(drop=True), frame.iloc[n_train:].reset_index(drop=True)
    for table in entry.get("tables", []):
        rows = {"train": train, "test": test, "both": frame}[table["rows"]]
        if table.get("repeat"):
            rows = pd.concat([rows] * int(table["repeat"]), ignore_index=True)
        writers.write_table(rows[table["cols"]], public, table)
    for spec in entry.get("files", []):
        rows = {"train": train, "test": test, "both": frame}[spec["rows"]]
        paths = [spec["path"].format(n=i, **row) for i, row in enumerate(rows.to_dict(orient="records"))]
        writers.write_files(public, paths, spec["kind"], rng, spec)
    writers.write_static(public, entry.get("static", []), rng)
    sample, answers = sample_and_answers(entry, train, test)
    writers.write_table(sample, public, entry["sample"])
    return answers


def _frame(entry: dict[str, Any], n: int, rng: np.random.Generator) -> pd.DataFrame:
    frame = pd.DataFrame(index=range(n))
    for name, kind in entry.get("columns", {}).items():
        frame[name] = pd.Series(generate(str(kind), n, rng, frame), dtype=object)
    onehot = entry.get("onehot")
    if onehot:
        picks = np.array([i % len(onehot) for i in range(n)])
        rng.shuffle(picks)
        for name, index in onehot.items():
            frame[name] = (picks == index).astype(int)
    return frame


def sample_and_answers(
    entry: dict[str, Any], train: pd.DataFrame, test: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The public sample submission (placeholders) and the private answers (truth), same layout."""
    spec = entry["sample"]
    key = spec["key"]
    keys = pd.DataFrame()
    if key != "position":
        source = test[spec.get("key_from", key)]
        keys[key] = source.astype(str) + spec["key_suffix"] if spec.get("key_suffix") else source
    for col in spec.get("copy", []):
        keys[col] = test[col]
    sample, answers = keys.copy(), keys.copy()
    truths = _truth(entry, train, test)
    for col, truth in truths.items():
        answers[col] = truth
        sample[col] = spec.get("predict", {}).get(col, 1.0 / len(truths))
    order = spec.get("columns", list(sample.columns))
    return sample[order], answers[order]


def _truth(entry: dict[str, Any], train: pd.DataFrame, test: pd.DataFrame) -> dict[str, Any]:
    spec, exp = entry["sample"], entry["expect"]
    if spec.get("classes_of") or spec.get("tags_of"):
        source = spec.get("classes_of") or spec["tags_of"]
        classes = sorted({t for v in train[source] for t in str(v).split(",")})
        parts = [set(str(v).split(",")) for v in test[source]]
        return {c: [int(c in p) for p in parts] for c in classes}
    sources = exp.get("train_targets", exp["targets"])
    out = {}
    for i, col in enumerate(exp["targets"]):
        source = col if col in test.columns else sources[min(i, len(sources) - 1)]
        truth = test[source] if source in test.columns else pd.Series([spec["predict"][col]] * len(test))
        kind = truth.infer_objects().dtype
        if exp["values"] == "probability" and (
            pd.api.types.is_bool_dtype(kind) or not pd.api.types.is_numeric_dtype(kind)
        ):
            classes = sorted(set(map(str, train[source])))  # the positive class sorts last
            truth = truth.astype(str).map({c: j for j, c in enumerate(classes)})
        out[col] = truth
    if exp["values"] == "distribution":
        counts = {c: pd.to_numeric(v) + 0.5 for c, v in out.items()}  # no row without votes
        total = sum(counts.values())
        out = {c: v / total for c, v in counts.items()}
    return out


def expect_targets(entry: dict[str, Any], train: pd.DataFrame) -> list[str]:
    """The prediction columns inspect must find (classes_of / tags_of expanded from train)."""
    targets = entry["expect"]["targets"]
    if isinstance(targets, str):
        source = targets.split(":", 1)[1]
        return sorted({t for v in train[source] for t in str(v).split(",")})
    return list(targets)


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path("replicas")
    wanted = set(argv[2:])
    for e in catalogue():
        if not wanted or e["name"] in wanted:
            print(build(e, out).public)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
