"""What kind of task it is: the rows' inputs, their per-row files, a date-time id, who can solve it.

Decided from the data, never from a task's name.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from mlestar.metrics import get_metric
from mlestar.task import answers, files
from mlestar.task.rows import PIXEL_FILES
from mlestar.task.spec import ProblemType, TaskSpec
from mlestar.task.tables import TaskTables

KIND_OF_SUFFIX = {
    **dict.fromkeys((".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"), "image"),
    **dict.fromkeys((".wav", ".mp3", ".flac", ".aif", ".aiff", ".ogg"), "audio"),
    **dict.fromkeys((".npy", ".csv", ".parquet"), "signal"),
    **dict.fromkeys((".dcm", ".dicom", ".nii"), "volume"),
    **dict.fromkeys((".json", ".txt", ".xyz"), "text"),
    **dict.fromkeys((".mp4", ".avi"), "video"),
}
_SAMPLE_KEYS = 20
_REGION_WORDS = ("mask", "dice", "iou", "box", "hausdorff", "fbeta")
"""Metrics of regions (run-length masks, boxes), whose empty answer means nothing found."""


def row_files(task_dir: Path, t: TaskTables, id_column: str | None) -> tuple[dict[str, Any], ...]:
    """Path templates ("train/{id}.jpg") that resolve for most rows of train and of test; per-pixel
    tables carry their own (one picture per "image" key)."""
    if t.train.attrs.get(PIXEL_FILES):
        return (dict(t.train.attrs[PIXEL_FILES]),)
    if id_column is None or id_column not in t.test.columns:
        return ()
    listing = files.listing_of(task_dir)
    if not listing:
        return ()
    found = []
    train_keys = (
        [str(k) for k in t.train[id_column].head(_SAMPLE_KEYS)] if id_column in t.train.columns else []
    )
    test_keys = [str(k) for k in t.test[id_column].head(_SAMPLE_KEYS)]
    train_t, test_t = _template(listing, train_keys), _template(listing, test_keys)
    if train_t or test_t:
        template, keys = (train_t, train_keys) if train_t else (test_t, test_keys)
        example = (template or "").replace("{id}", keys[0])
        suffix = PurePosixPath(example).suffix.lower()
        found.append({"train": train_t, "test": test_t, "kind": KIND_OF_SUFFIX.get(suffix, "files")})
    return tuple(found)


def _template(listing: list[str], keys: list[str]) -> str | None:
    if not keys:
        return None
    votes: Counter[str] = Counter()
    by_name: dict[str, list[str]] = {}
    for path in listing:
        p = PurePosixPath(path)
        by_name.setdefault(p.name, []).append(path)
        by_name.setdefault(p.stem, []).append(path)
        for part in p.parts[:-1]:
            by_name.setdefault(part, []).append(path)
    for key in keys:
        for path in set(by_name.get(key, ())):
            votes[_with_key(path, key)] += 1
    if not votes:
        return None
    template, n = votes.most_common(1)[0]
    return template if n >= max(1, int(0.8 * len(keys))) else None


def _with_key(path: str, key: str) -> str:
    parts = list(PurePosixPath(path).parts)
    for i, part in enumerate(parts):
        if part == key or PurePosixPath(part).stem == key:
            parts[i] = part.replace(key, "{id}", 1)
            break
    return "/".join(parts)


def id_carries_time(test: pd.DataFrame, id_column: str | None) -> bool:
    """A date-time id (hourly counts keyed by their hour): it keys rows and is a feature too."""
    if id_column is None or id_column not in test.columns or pd.api.types.is_numeric_dtype(test[id_column]):
        return False
    head = test[id_column].dropna().astype(str).head(200)
    if head.empty or not head.str.match(r"^\d{4}-\d{1,2}-\d{1,2}").all():
        return False
    return bool(pd.to_datetime(head, errors="coerce").notna().all())


def inputs(t: TaskTables, found: tuple[dict[str, Any], ...], id_column: str | None) -> str:
    if found:
        return str(found[0]["kind"])
    features = [c for c in t.test.columns if c != id_column]
    for col in features:
        values = t.test[col]
        if answers.is_texty(values) and answers.looks_like_text(values.head(500)):
            return "text"
    return "tabular" if features else "files"


def solver(spec: TaskSpec, t: TaskTables) -> tuple[str, str]:
    """("engineers", baseline) when the answers can be learned and scored, else ("baseline", baseline)."""
    base = baseline(spec, t)
    if not spec.train_target_columns:
        return "baseline", base
    metric = get_metric(spec.metric)
    if (
        spec.problem_type is ProblemType.TEXT
        and metric.needs != "text"
        and getattr(metric, "text_fn", None) is None
    ):
        return "baseline", base
    return "engineers", base


def baseline(spec: TaskSpec, t: TaskTables) -> str:
    """The documented answer when no engineer answers (docs/conformance.md, Baselines)."""
    problem, sample = spec.problem_type, t.sample_submission
    if problem is ProblemType.TEXT:
        return _text_baseline(spec, t)
    if spec.submission.value_kind == "ranked" and spec.train_target_columns:
        return "popular"
    if not spec.train_target_columns:
        return "sample" if sample is not None else "mean"
    if problem.is_classification:
        return "prior" if spec.submission.value_kind == "probability" else "majority"
    return "mean"


def _text_baseline(spec: TaskSpec, t: TaskTables) -> str:
    target = spec.target_columns[0]
    sample = t.sample_submission
    placeholder = sample[target].astype(str) if sample is not None and target in sample.columns else None
    for col in t.test.columns:
        if col == spec.id_column:
            continue
        values = t.test[col].astype(str)
        if (
            placeholder is not None
            and len(values) == len(placeholder)
            and (values.to_numpy() == placeholder.to_numpy()).all()
        ):
            return f"copy:{col}"
    if sample is None and target in t.test.columns:
        return f"copy:{target}"
    if placeholder is not None and not spec.train_target_columns:
        # Nothing to learn from: the sample's own answers are in the grader's spelling; "empty" when
        # the sample itself spells answers as empty.
        return "empty" if placeholder.isin(["", "-", "nan"]).any() else "sample"
    numbers = placeholder is not None and placeholder.str.fullmatch(r"\d+( \d+)+|-|nan").mean() > 0.5
    if numbers and any(w in spec.metric for w in _REGION_WORDS):
        return "empty"  # run-length masks or boxes: "nothing found" is a valid answer
    if spec.train_target_columns and answers.are_spans(t.train[spec.train_target_columns[0]], t.train):
        texts = [c for c in t.test.columns if answers.is_texty(t.test[c]) and c != spec.id_column]
        if texts:
            return "copy:" + max(texts, key=lambda c: t.test[c].astype(str).str.len().mean())
    if spec.train_target_columns and not answers.is_nested(t.train[spec.train_target_columns[0]]):
        return "popular"
    return "sample"  # no answers, or answers as records (lists, mappings) in no submission's spelling
