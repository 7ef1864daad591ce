"""Products as BSON documents (an id, a category, one to four pictures as bytes), written by an
encoder of our own (bsonspec.org), so the suite checks intake's decoder against another writer."""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

CATEGORIES = (1000010653, 1000010667, 1000004079, 1000018290)


def encode(document: dict[str, Any]) -> bytes:
    """One BSON document: ints as int32 or int64, floats, text, bytes (binary), dicts and lists."""
    body = b"".join(_element(str(name), value) for name, value in document.items())
    return struct.pack("<i", len(body) + 5) + body + b"\x00"


def _element(name: str, value: Any) -> bytes:
    key = name.encode() + b"\x00"
    if isinstance(value, bool):
        return b"\x08" + key + (b"\x01" if value else b"\x00")
    if isinstance(value, int):
        small = -(2**31) <= value < 2**31
        return (
            (b"\x10" + key + struct.pack("<i", value))
            if small
            else (b"\x12" + key + struct.pack("<q", value))
        )
    if isinstance(value, float):
        return b"\x01" + key + struct.pack("<d", value)
    if isinstance(value, str):
        text = value.encode() + b"\x00"
        return b"\x02" + key + struct.pack("<i", len(text)) + text
    if isinstance(value, bytes):
        return b"\x05" + key + struct.pack("<i", len(value)) + b"\x00" + value
    if isinstance(value, list):
        return b"\x04" + key + encode({str(i): v for i, v in enumerate(value)})
    if isinstance(value, dict):
        return b"\x03" + key + encode(value)
    raise TypeError(f"no BSON encoding here for {type(value).__name__}")


def jpeg(level: float, rng: np.random.Generator) -> bytes:
    """A small colour picture whose brightness tells its category."""
    from PIL import Image

    pixels = np.clip(level + rng.normal(0, 25, (16, 16, 3)), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels, mode="RGB").save(buf, format="JPEG")
    return buf.getvalue()


def products(entry: dict[str, Any], public: Path, rng: np.random.Generator) -> pd.DataFrame:
    """train.bson and test.bson (test without categories), a small train_example.bson, a side table
    of category names; one submission row per test product."""
    n_train, n_test = 160, 40
    labels = rng.choice(len(CATEGORIES), n_train + n_test)
    docs = []
    for i, label in enumerate(labels):
        pictures = [{"picture": jpeg(40 + 50 * label, rng)} for _ in range(int(rng.integers(1, 5)))]
        docs.append({"_id": int(1000 + 7 * i), "category_id": CATEGORIES[label], "imgs": pictures})
    train, test = docs[:n_train], [{"_id": d["_id"], "imgs": d["imgs"]} for d in docs[n_train:]]
    (public / "train.bson").write_bytes(b"".join(encode(d) for d in train))
    (public / "test.bson").write_bytes(b"".join(encode(d) for d in test))
    (public / "train_example.bson").write_bytes(b"".join(encode(d) for d in train[:3]))
    names = pd.DataFrame({"category_id": CATEGORIES, "category_level1": ["TOYS", "BOOKS", "FOOD", "TOOLS"]})
    names.to_csv(public / "category_names.csv", index=False)
    answers = pd.DataFrame({"_id": [d["_id"] for d in docs[n_train:]],
                            "category_id": [d["category_id"] for d in docs[n_train:]]})  # fmt: skip
    answers.assign(category_id=CATEGORIES[0]).to_csv(public / "sample_submission.csv", index=False)
    return answers
