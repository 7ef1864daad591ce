"""Writing a replica's pieces: tables in their formats, tiny per-row files, archives, a description.

Files are tiny and made up: 8x8 pictures, a few hundred audio samples, small arrays.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import wave
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

METRIC_WORDS = {
    "accuracy": "accuracy (the share of rows predicted exactly right)",
    "top1_error": "the top-1 classification error",
    "roc_auc": "the area under the ROC curve",
    "weighted_roc_auc": "a weighted area under the ROC curve",
    "mean_columnwise_roc_auc": "the mean column-wise ROC AUC",
    "log_loss": "the log loss",
    "multiclass_logloss": "the multi-class logarithmic loss",
    "rmse": "the root mean squared error",
    "mae": "the mean absolute error",
    "mean_rmsle": "the mean column-wise root mean squared logarithmic error",
    "qwk": "the quadratic weighted kappa",
    "f1_macro": "the macro-averaged F1 score",
    "f1_micro": "the micro-averaged F1 score",
    "f1_micro_sets": "the micro-averaged F1 score",
    "pearson": "the Pearson correlation",
    "spearman": "the mean column-wise Spearman correlation",
    "map_at_5": "Mean Average Precision @ 5",
    "map_at_12": "Mean Average Precision @ 12",
    "word_jaccard": "the word-level Jaccard score",
    "mean_levenshtein": "the mean Levenshtein distance",
    "levenshtein_rate": "the total edit distance divided by the number of items",
    "kendall_tau": "Kendall's tau between predicted and true orders",
    "mcc": "the Matthews correlation coefficient",
    "probabilistic_f1": "the probabilistic F1 score",
    "kl_divergence": "the Kullback-Leibler divergence",
    "lwlrap": "label-weighted label-ranking average precision",
    "global_dice": "the global Dice coefficient",
    "mean_dice": "the mean Dice coefficient",
    "mask_iou_map": "the mean average precision at different intersection over union thresholds",
    "mask_fbeta": "the F0.5 score",
    "dice_hausdorff": "a weighted mix of the Dice coefficient and the Hausdorff distance",
    "box_map_voc": "the mean average precision at IoU 0.5",
    "box_map_coco": "the mean average precision at IoU 0.4",
    "box3d_map": "the 3D bounding box mAP",
    "point_in_box_f1": "an F1 score of predicted center points that fall within a true box",
    "mean_angular_error": "the mean angular error",
    "laplace_log_likelihood": "a modified Laplace log likelihood",
    "grouped_log_mae": "the mean over types of the log of the mean absolute error",
    "weighted_multilabel_logloss": "a weighted multi-label log loss",
    "subgroup_bias_auc": "a generalized mean of bias AUCs together with the overall AUC",
    "haversine_p50_p95": "the mean of the 50th and 95th percentile position errors",
    "answer_f1_micro": "a micro-averaged F1 score over long and short answers",
}


def description(entry: dict[str, Any], listing: list[str]) -> str:
    metric = entry["metric"]["name"]
    words = METRIC_WORDS.get(metric, metric.replace("_", " "))
    files = "\n".join(f"- {name}" for name in listing)
    prose = f"{entry['prose'].strip()}\n\n" if entry.get("prose") else ""  # what only the prose says
    return (
        f"# {entry['name']} (synthetic replica)\n\n{entry['about'].capitalize()}.\n\n"
        f"## Evaluation\n\nSubmissions are evaluated on {words}.\n\n## Data\n\n{prose}{files}\n"
    )


def write_table(frame: pd.DataFrame, folder: Path, table: dict[str, Any]) -> Path:
    """Write one table as the catalogue says; returns the path written (the archive if packed)."""
    name, fmt = table["file"], table.get("format", "csv")
    data = _table_bytes(frame, fmt, bool(table.get("index")))
    return _place(folder, name, data, table)


def _table_bytes(frame: pd.DataFrame, fmt: str, index: bool) -> bytes:
    if fmt == "parquet":
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        return buf.getvalue()
    if fmt == "json":
        return json.dumps(frame.to_dict(orient="records"), indent=2, default=_plain).encode()
    if fmt == "jsonl":
        return "".join(json.dumps(r, default=_plain) + "\n" for r in frame.to_dict(orient="records")).encode()
    if fmt == "lines":
        return "".join(f"{v}\n" for v in frame.iloc[:, 0]).encode()
    return frame.to_csv(index=index, sep="\t" if fmt == "tsv" else ",").encode()


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _place(folder: Path, name: str, data: bytes, table: dict[str, Any]) -> Path:
    if table.get("zip"):
        path = folder / table["zip"]
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(name, data)
        return path
    if table.get("sevenzip"):
        return _seven_zip(folder / table["sevenzip"], {name: data})
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _seven_zip(path: Path, members: dict[str, bytes]) -> Path:
    import py7zr  # only the two 7z layouts need it

    with py7zr.SevenZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(data, name)
    return path


def file_bytes(kind: str, rng: np.random.Generator, suffix: str) -> bytes:
    """A tiny file of the given kind."""
    if kind == "image":
        return _image(rng, suffix)
    if kind == "audio":
        return _aiff(rng) if suffix.lower() in (".aif", ".aiff") else _wav(rng)
    if kind == "npy":
        buf = io.BytesIO()
        np.save(buf, rng.random((4, 8)).astype(np.float32))
        return buf.getvalue()
    if kind == "csv":
        return (
            pd.DataFrame(rng.normal(size=(20, 3)), columns=["s1", "s2", "s3"])
            .round(3)
            .to_csv(index=False)
            .encode()
        )
    if kind == "json":
        cells = {f"c{i}": "print(1)" if i % 2 else "# note" for i in range(4)}
        return json.dumps({"cell_type": dict.fromkeys(cells, "code"), "source": cells}).encode()
    if kind == "text":
        return f"atom {rng.random():.3f} {rng.random():.3f} {rng.random():.3f} Al\n".encode()
    return b"\x00fake-binary\x00" + rng.bytes(16)


def _image(rng: np.random.Generator, suffix: str) -> bytes:
    from PIL import Image

    pixels = (rng.random((8, 8)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}.get(suffix.lower(), "PNG")
    Image.fromarray(pixels, mode="L").save(buf, format=fmt)
    return buf.getvalue()


def _wav(rng: np.random.Generator) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes((rng.normal(0, 2000, 400)).astype("<i2").tobytes())
    return buf.getvalue()


def _aiff(rng: np.random.Generator) -> bytes:
    """An AIFF clip (16-bit samples at 2 kHz, as underwater recorders keep them)."""
    import soundfile

    buf = io.BytesIO()
    soundfile.write(buf, rng.normal(0, 0.06, 400), 2000, format="AIFF", subtype="PCM_16")
    return buf.getvalue()


def write_files(
    folder: Path, paths: list[str], kind: str, rng: np.random.Generator, spec: dict[str, Any]
) -> None:
    """Per-row files at the given relative paths, packed into an archive when the catalogue says so."""
    blobs = {p: file_bytes(kind, rng, Path(p).suffix) for p in paths}
    if spec.get("zip") or spec.get("tar"):
        archive = folder / (spec.get("zip") or spec["tar"])
        if spec.get("zip"):
            with zipfile.ZipFile(archive, "a" if archive.exists() else "w") as zf:
                for p, data in blobs.items():
                    zf.writestr(p, data)
        else:
            with tarfile.open(archive, "w:gz") as tf:
                for p, data in blobs.items():
                    info = tarfile.TarInfo(p)
                    info.size = len(data)
                    tf.addfile(info, io.BytesIO(data))
        return
    if spec.get("sevenzip"):
        _seven_zip(folder / spec["sevenzip"], blobs)
        return
    for p, data in blobs.items():
        (folder / p).parent.mkdir(parents=True, exist_ok=True)
        (folder / p).write_bytes(data)


def write_static(folder: Path, paths: list[str], rng: np.random.Generator) -> None:
    """Side files the task has but no row keys to (maps, side tables, archives of extras)."""
    kinds = {
        ".png": "image",
        ".jpg": "image",
        ".jpeg": "image",
        ".npy": "npy",
        ".json": "json",
        ".xyz": "text",
    }
    for p in paths:
        target = folder / p
        target.parent.mkdir(parents=True, exist_ok=True)
        if p.endswith(".csv"):
            target.write_text("key,value\n1,0.5\n2,0.25\n")
        else:
            target.write_bytes(file_bytes(kinds.get(Path(p).suffix, "bin"), rng, Path(p).suffix))


def clear(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
