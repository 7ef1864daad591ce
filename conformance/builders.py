"""Replicas whose layout no column list can say: per-pixel rows, COCO metadata, arrays, long
submissions made from test rows, nested folders of trips and fragments.

Each builder writes the public folder (sample submission included) and returns the true answers in
the submission's layout. All values are made up.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from conformance import band_replica, bson_replica, writers
from conformance.bird_replica import bird_pairs
from conformance.box_builders import box_rows
from conformance.columns import WORDS
from conformance.level_builders import study_images
from conformance.slice_builders import slice_classes

Builder = Callable[[dict[str, Any], Path, np.random.Generator], pd.DataFrame]


def _csv(frame: pd.DataFrame, path: Path, **kw: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, **kw)


def _png(path: Path, pixels: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8), mode="L").save(path)


def pixels(entry: dict[str, Any], public: Path, rng: np.random.Generator) -> pd.DataFrame:
    """Noisy pages in train/ and test/, clean ones in train_cleaned/; one submission row per test pixel."""
    rows = []
    for i in range(12):
        clean = np.where(rng.random((10, 12)) < 0.2, 20, 250)
        noisy = np.clip(clean + rng.normal(0, 40, clean.shape), 0, 255)
        split = "test" if i >= 9 else "train"
        _png(public / split / f"{i + 1}.png", noisy)
        if split == "train":
            _png(public / "train_cleaned" / f"{i + 1}.png", clean)
            continue
        for (r, c), v in np.ndenumerate(clean):
            rows.append({"id": f"{i + 1}_{r + 1}_{c + 1}", "value": round(v / 255.0, 6)})
    answers = pd.DataFrame(rows)
    _csv(answers.assign(value=1), public / "sampleSubmission.csv")
    return answers


def coco(entry: dict[str, Any], public: Path, rng: np.random.Generator) -> pd.DataFrame:
    """Train metadata as images + annotations + categories; test metadata as images only."""
    o = entry["options"]
    image_key = o.get("image_key", "id")
    cats = list(range(5))
    labels = [cats[i % 5] for i in range(100)]
    images, notes = [], []
    for i, cat in enumerate(labels):
        images.append({image_key: i, "file_name": f"images/{cat:03d}/{i}.jpg", "height": 8, "width": 8})
        notes.append({"id": i, "image_id": i, "category_id": cat, "region_id": int(rng.integers(0, 3))})
    test_ids = list(range(1000, 1025))
    test_images = [{image_key: t, "file_name": f"images/000/{t}.jpg", "height": 8} for t in test_ids]
    train_meta = {
        "images": images,
        "annotations": notes,
        "categories": [{"id": c, "name": f"sp{c}"} for c in cats],
    }
    test_meta: Any = test_images if o.get("test_list") else {"images": test_images, "info": {"year": 2020}}
    for rel, meta in ((o["train_json"], train_meta), (o["test_json"], test_meta)):
        (public / rel).parent.mkdir(parents=True, exist_ok=True)
        (public / rel).write_text(json.dumps(meta))
    _coco_images(public, o, images, test_images, rng)
    truth = [int(rng.choice(cats)) for _ in test_ids]
    answers = pd.DataFrame({o["key"]: test_ids, o["target"]: truth})
    _csv(answers.assign(**{o["target"]: 0}), public / o.get("sample_file", "sample_submission.csv"))
    return answers


def _coco_images(
    public: Path, o: dict[str, Any], train: list[Any], test: list[Any], rng: np.random.Generator
) -> None:
    key = o.get("image_key", "id")
    for split, images, rel in (("train", train, o["train_json"]), ("test", test, o["test_json"])):
        if o.get("image_dir"):
            paths = [f"{split}/{im[key]}.jpg" for im in images]
        else:
            base = str(Path(rel).parent) if Path(rel).parent != Path(".") else f"{split}_images"
            paths = [f"{base}/{im['file_name']}" for im in images]
        spec = {"tar": f"{split}2019.tar.gz"} if o.get("tar") else {}
        writers.write_files(public, paths, "image", rng, spec)


def arrays(entry: dict[str, Any], public: Path, rng: np.random.Generator) -> pd.DataFrame:
    """Frames as rows of .npy arrays, labels in a parallel array; ids are row numbers."""
    folder = public / "timit_11" / "timit_11"
    folder.mkdir(parents=True)
    labels = np.array([str(i % 4) for i in range(160)])
    np.save(folder / "train_11.npy", rng.normal(size=(160, 6)).astype(np.float32))
    np.save(folder / "train_label_11.npy", labels)
    np.save(folder / "test_11.npy", rng.normal(size=(40, 6)).astype(np.float32))
    answers = pd.DataFrame({"Id": range(40), "ClassId": rng.integers(0, 4, 40)})
    _csv(answers.assign(ClassId=0), public / "sampleSubmission.csv")
    return answers


def patient_weeks(entry: dict[str, Any], public: Path, rng: np.random.Generator) -> pd.DataFrame:
    """Measurements by patient and week; the submission asks every week of every test patient."""
    rows = []
    for p in range(24):
        for w in sorted(rng.choice(np.arange(-3, 30), 5, replace=False)):
            rows.append(
                {
                    "Patient": f"ID{p:05d}",
                    "Weeks": int(w),
                    "FVC": int(rng.integers(1500, 3500)),
                    "Percent": round(float(rng.random() * 100), 2),
                    "Age": 60 + p % 10,
                    "Sex": "Male",
                    "SmokingStatus": "Ex-smoker",
                }
            )
    frame = pd.DataFrame(rows)
    test_patients = frame["Patient"].unique()[-4:]
    _csv(frame[~frame["Patient"].isin(test_patients)], public / "train.csv")
    test = frame[frame["Patient"].isin(test_patients)]
    _csv(test.sort_values("Weeks").groupby("Patient").head(1), public / "test.csv")
    weeks = [(p, w) for p in test_patients for w in range(-3, 30)]
    answers = pd.DataFrame({"Patient_Week": [f"{p}_{w}" for p, w in weeks], "FVC": 2500, "Confidence": 100})
    _csv(answers.assign(FVC=2000), public / "sample_submission.csv")
    return answers


def wide_to_long(entry: dict[str, Any], public: Path, rng: np.random.Generator) -> pd.DataFrame:
    """Train has one 0/1 column per part; test and submission have one row per (study, part)."""
    parts = ["patient_overall", "C1", "C2", "C3"]
    uids = [f"1.2.826.0.{i}" for i in range(60)]
    wide = pd.DataFrame({"StudyInstanceUID": uids, **{p: rng.integers(0, 2, 60) for p in parts}})
    _csv(wide.iloc[:48], public / "train.csv")
    _csv(
        pd.DataFrame({"StudyInstanceUID": uids[:3], "x": 1.0, "y": 2.0, "slice_number": 5}),
        public / "train_bounding_boxes.csv",
    )
    test = wide.iloc[48:].melt(id_vars="StudyInstanceUID", var_name="prediction_type", value_name="fractured")
    test["row_id"] = test["StudyInstanceUID"] + "_" + test["prediction_type"]
    _csv(test.drop(columns=["fractured"]), public / "test.csv")
    writers.write_files(public, [f"train_images/{u}/1.dcm" for u in uids[:48]], "bin", rng, {})
    writers.write_files(public, [f"test_images/{u}/1.dcm" for u in uids[48:]], "bin", rng, {})
    answers = test[["row_id", "fractured"]].reset_index(drop=True)
    _csv(answers.assign(fractured=0.5), public / "sample_submission.csv")
    return answers


def grouped_rows(entry: dict[str, Any], public: Path, rng: np.random.Generator) -> pd.DataFrame:
    """Several images per patient and side; the submission has one row per patient and side."""
    rows = []
    for p in range(50):
        for side in "LR":
            cancer = int(rng.random() < 0.3)
            for view in ("CC", "MLO"):
                rows.append(
                    {
                        "site_id": 1,
                        "patient_id": 100 + p,
                        "image_id": int(rng.integers(10**6, 10**7)),
                        "laterality": side,
                        "view": view,
                        "age": 50 + p % 20,
                        "cancer": cancer,
                        "biopsy": cancer,
                        "implant": 0,
                        "machine_id": 49,
                    }
                )
    frame = pd.DataFrame(rows)
    is_test = frame["patient_id"] >= 140
    _csv(frame[~is_test], public / "train.csv")
    test = frame[is_test].drop(columns=["cancer", "biopsy"]).copy()
    test["prediction_id"] = test["patient_id"].astype(str) + "_" + test["laterality"]
    _csv(test, public / "test.csv")
    truth = (
        frame[is_test].assign(prediction_id=test["prediction_id"]).groupby("prediction_id")["cancer"].first()
    )
    answers = truth.reset_index()
    _csv(answers.assign(cancer=0.2), public / "sample_submission.csv")
    writers.write_files(
        public,
        [f"train_images/{r.patient_id}/{r.image_id}.dcm" for r in frame[~is_test].itertuples()],
        "bin",
        rng,
        {},
    )
    return answers


def trips(entry: dict[str, Any], public: Path, rng: np.random.Generator) -> pd.DataFrame:
    """Logs per drive and phone in nested folders; answers at each timestamp of the test trips."""
    answers = []
    for d in range(4):
        split = "test" if d == 3 else "train"
        folder = public / split / f"2021-0{d + 1}-05-US-SJC-1" / "GooglePixel4"
        times = 1_600_000_000_000 + np.arange(12) * 1000
        _csv(
            pd.DataFrame({"utcTimeMillis": times, "Cn0DbHz": rng.normal(30, 3, 12).round(2)}),
            folder / "device_gnss.csv",
        )
        truth = pd.DataFrame(
            {
                "tripId": f"{folder.parent.name}-{folder.name}",
                "UnixTimeMillis": times,
                "LatitudeDegrees": 37.4 + rng.normal(0, 0.01, 12),
                "LongitudeDegrees": -122.1 + rng.normal(0, 0.01, 12),
            }
        )
        if split == "train":
            _csv(truth, folder / "ground_truth.csv")
        else:
            answers.append(truth)
    _csv(pd.DataFrame({"drive": ["a"], "phone": ["b"]}), public / "metadata" / "raw_state_data.csv")
    frame = pd.concat(answers, ignore_index=True)
    _csv(frame.assign(LatitudeDegrees=37.9, LongitudeDegrees=-86.5), public / "sample_submission.csv")
    return frame


def positions(entry: dict[str, Any], public: Path, rng: np.random.Generator) -> pd.DataFrame:
    """Sequences with per-position answers in list cells; one submission row per position."""
    records = []
    for i in range(40):
        length = 8
        records.append(
            {
                "id": f"id_{i:05x}",
                "sequence": "".join(rng.choice(list("ACGU"), length)),
                "structure": "".join(rng.choice(list("()."), length)),
                "seq_length": length,
                "seq_scored": 6,
                "reactivity": rng.random(6).round(3).tolist(),
                "deg_Mg_pH10": rng.random(6).round(3).tolist(),
            }
        )
    train, test = records[:32], records[32:]
    (public / "train.json").write_text("".join(json.dumps(r) + "\n" for r in train))
    keys = ("id", "sequence", "structure", "seq_length", "seq_scored")
    (public / "test.json").write_text("".join(json.dumps({k: r[k] for k in keys}) + "\n" for r in test))
    rows = [
        {
            "id_seqpos": f"{r['id']}_{j}",
            "reactivity": r["reactivity"][j] if j < 6 else 0.0,
            "deg_Mg_pH10": r["deg_Mg_pH10"][j] if j < 6 else 0.0,
        }
        for r in test
        for j in range(r["seq_length"])
    ]
    answers = pd.DataFrame(rows)
    _csv(answers.assign(reactivity=0.0, deg_Mg_pH10=0.0), public / "sample_submission.csv")
    return answers


def answer_pairs(entry: dict[str, Any], public: Path, rng: np.random.Generator) -> pd.DataFrame:
    """Nested JSON-lines documents; two submission rows per question (long and short answer)."""

    def record(i: int, labelled: bool) -> dict[str, Any]:
        doc = " ".join(rng.choice(WORDS, 30))
        rec: dict[str, Any] = {
            "example_id": str(10**8 + i),
            "question_text": " ".join(rng.choice(WORDS, 6)),
            "document_text": doc,
            "long_answer_candidates": [{"start_token": 0, "end_token": 12}],
        }
        if labelled:
            rec["annotations"] = [
                {
                    "long_answer": {"start_token": 0, "end_token": 12},
                    "short_answers": [],
                    "yes_no_answer": "NONE",
                }
            ]
        return rec

    train = [record(i, True) for i in range(30)]
    test = [record(100 + i, False) for i in range(10)]
    (public / "simplified-nq-train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in train))
    (public / "simplified-nq-test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in test))
    ids = [f"{r['example_id']}_{part}" for r in test for part in ("long", "short")]
    answers = pd.DataFrame(
        {"example_id": ids, "PredictionString": ["0:12" if i.endswith("long") else "" for i in ids]}
    )
    _csv(answers.assign(PredictionString=""), public / "sample_submission.csv")
    return answers


def tokens(entry: dict[str, Any], public: Path, rng: np.random.Generator) -> pd.DataFrame:
    """Tokens of sentences in zipped, fully quoted tables; the id joins sentence and token numbers."""
    rows = []
    for s in range(40):
        for t in range(int(rng.integers(3, 7))):
            before = str(rng.choice([*WORDS[:8], "12", "1990"]))
            after = {"12": "twelve", "1990": "nineteen ninety"}.get(before, before)
            rows.append(
                {
                    "sentence_id": s,
                    "token_id": t,
                    "class": "PLAIN" if before == after else "CARDINAL",
                    "before": before,
                    "after": after,
                }
            )
    frame = pd.DataFrame(rows)
    p = entry["options"]["prefix"]
    test = frame[frame["sentence_id"] >= 32]
    test = test.assign(sentence_id=test["sentence_id"] - 32)
    answers = pd.DataFrame(
        {"id": test["sentence_id"].astype(str) + "_" + test["token_id"].astype(str), "after": test["after"]}
    )
    sample = answers.assign(after=test["before"].to_numpy())
    for name, table in (
        (f"{p}_train.csv", frame[frame["sentence_id"] < 32]),
        (f"{p}_test_2.csv", test.drop(columns=["after", "class"])),
        (f"{p}_sample_submission_2.csv", sample),
    ):
        with zipfile.ZipFile(public / f"{name}.zip", "w") as zf:
            zf.writestr(name, table.to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC))
    return answers.reset_index(drop=True)


def fragments(entry: dict[str, Any], public: Path, rng: np.random.Generator) -> pd.DataFrame:
    """Fragments as folders of layer pictures (surface_volume/00.tif ...), a mask.png of where the
    fragment is and, for the two training fragments, inklabels.png (0/1) and inklabels_rle.csv;
    one test fragment named "a". Ink is strokes inside the fragment that darken the middle
    layers, so it can be learned from them; the answer is the test ink, numbered along the rows."""
    from PIL import Image

    answers = pd.DataFrame({"Id": ["a"], "Predicted": [""]})
    for frag in ("train/1", "train/2", "test/a"):
        layers, inside, ink = _fragment(rng)
        folder = public / frag
        (folder / "surface_volume").mkdir(parents=True)
        for k, layer in enumerate(layers):
            Image.fromarray(layer).save(folder / "surface_volume" / f"{k:02d}.tif")
        Image.fromarray((inside * 255).astype(np.uint8), mode="L").save(folder / "mask.png")
        text = _row_runs(ink)
        if frag.startswith("train"):
            Image.fromarray(ink.astype(np.uint8), mode="L").save(folder / "inklabels.png")
            _csv(pd.DataFrame({"Id": [frag[-1]], "Predicted": [text]}), folder / "inklabels_rle.csv")
        else:
            answers["Predicted"] = [text]
    _csv(answers.assign(Predicted="1 1 5 1"), public / "sample_submission.csv")
    return answers


def _fragment(rng: np.random.Generator, height: int = 40, width: int = 48, depth: int = 6) -> tuple:
    """(layers as uint8 pictures, the fragment's mask, its ink): an ellipse of papyrus with a few
    strokes of ink, which darkens layers 2 and 3 under noise."""
    rows, cols = np.mgrid[:height, :width]
    inside = ((rows - height / 2) / (height * 0.45)) ** 2 + ((cols - width / 2) / (width * 0.45)) ** 2 <= 1
    ink = np.zeros((height, width), dtype=bool)
    for _ in range(4):
        r, c = int(rng.integers(6, height - 10)), int(rng.integers(6, width - 14))
        if rng.random() < 0.5:
            ink[r : r + 3, c : c + 10] = True
        else:
            ink[r : r + 8, c : c + 3] = True
    ink &= inside
    layers = []
    for k in range(depth):
        value = 120 + 40 * inside - (45 * ink if k in (2, 3) else 0) + rng.normal(0, 14, (height, width))
        layers.append(np.clip(value, 0, 255).astype(np.uint8))
    return layers, inside, ink


def _row_runs(mask: np.ndarray) -> str:
    """ "start length" pairs of a mask, pixels numbered along the rows from 1."""
    flat = np.concatenate([[0], mask.ravel().astype(np.int8), [0]])
    edges = np.diff(flat)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return " ".join(f"{s + 1} {e - s}" for s, e in zip(starts, ends, strict=True))


def corpus(entry: dict[str, Any], public: Path, rng: np.random.Generator) -> pd.DataFrame:
    """A zipped corpus, one sentence a line; test sentences miss a word; no sample submission."""
    sentences = [" ".join(rng.choice(WORDS, int(rng.integers(5, 12)))) + " ." for _ in range(200)]
    with zipfile.ZipFile(public / "train_v2.txt.zip", "w") as zf:
        zf.writestr("train_v2.txt", "\n".join(sentences[:160]) + "\n")
    truth = sentences[160:]
    holed = []
    for s in truth:
        words = s.split()
        k = int(rng.integers(1, len(words) - 1))
        holed.append(" ".join(words[:k] + words[k + 1 :]))
    buf = io.StringIO()
    pd.DataFrame({"id": range(len(truth)), "sentence": holed}).to_csv(
        buf, index=False, quoting=csv.QUOTE_NONNUMERIC
    )
    with zipfile.ZipFile(public / "test_v2.txt.zip", "w") as zf:
        zf.writestr("test_v2.txt", buf.getvalue())
    return pd.DataFrame({"id": range(len(truth)), "sentence": truth})


BUILDERS: dict[str, Builder] = {
    "pixels": pixels, "coco": coco, "arrays": arrays, "bird_pairs": bird_pairs,
    "patient_weeks": patient_weeks, "wide_to_long": wide_to_long, "grouped_rows": grouped_rows,
    "trips": trips, "positions": positions, "answer_pairs": answer_pairs, "tokens": tokens,
    "slice_classes": slice_classes, "fragments": fragments, "corpus": corpus,
    "products": bson_replica.products, "records": band_replica.records, "box_rows": box_rows,
    "study_images": study_images,
}  # fmt: skip
