"""BSON files: the decoder, intake reading one row per document with its pictures as the row's
files, and the files block reading those pictures on its own (no mlestar in the script)."""

from __future__ import annotations

import ast
import struct
from pathlib import Path

import numpy as np
import pytest

from conformance.bson_replica import encode, jpeg
from mlestar.engineers.builtin.media import render
from mlestar.engineers.builtin.media.kit.rowfiles import FileReader
from mlestar.engineers.builtin.media.options import MediaOptions
from mlestar.task import documents, load_task_tables
from tests.test_media_render import attempt_folder, profile, run_block


def test_a_document_written_by_hand_decodes() -> None:
    # {"a": 1, "s": "hé", "b": true, "n": null, "x": <binary 3 bytes>, "l": [2.5]}, per bsonspec.org
    text = "hé".encode() + b"\x00"
    inner = b"\x010\x00" + struct.pack("<d", 2.5)
    body = (
        b"\x10a\x00" + struct.pack("<i", 1)
        + b"\x02s\x00" + struct.pack("<i", len(text)) + text
        + b"\x08b\x00\x01" + b"\x0an\x00"
        + b"\x05x\x00" + struct.pack("<i", 3) + b"\x00abc"
        + b"\x04l\x00" + struct.pack("<i", len(inner) + 5) + inner + b"\x00"
    )  # fmt: skip
    data = struct.pack("<i", len(body) + 5) + body + b"\x00"
    assert documents.decode_document(data) == {
        "a": 1,
        "s": "hé",
        "b": True,
        "n": None,
        "x": b"abc",
        "l": [2.5],
    }
    with pytest.raises(ValueError, match="element type"):
        documents.decode_document(data.replace(b"\x10a", b"\x42a"))


def test_documents_and_their_first_pictures(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pictures = [jpeg(200, rng), jpeg(10, rng)]
    path = tmp_path / "items.bson"
    docs = [
        {"_id": 5, "price": 2.5, "imgs": [{"picture": pictures[0]}, {"picture": pictures[1]}]},
        {"_id": 2**40, "name": "none", "imgs": []},
        {"_id": 9, "imgs": [{"picture": pictures[1]}]},
    ]
    path.write_bytes(b"".join(encode(d) for d in docs))
    with path.open("rb") as handle:
        read = list(documents.iter_documents(handle))
    assert [d["_id"] for _, d in read] == [5, 2**40, 9]
    assert documents.scalar_fields(read[0][1]) == {"_id": 5, "price": 2.5}
    assert documents.picture_members(path) == {"5.jpg": 0, "9.jpg": read[2][0]}  # no picture, no member
    with FileReader(tmp_path) as reader:
        assert (
            reader.read("items.bson/5.jpg") == pictures[0] and reader.read("items.bson/9.jpg") == pictures[1]
        )
        assert reader.read("items.bson/7.jpg") is None
    path.write_bytes(path.read_bytes()[:-3])
    with path.open("rb") as handle, pytest.raises(ValueError, match="cut file"):
        list(documents.iter_documents(handle))


def bson_task(folder: Path, n_train: int = 24, n_test: int = 8) -> Path:
    rng = np.random.default_rng(1)
    folder.mkdir()
    docs = []
    for i in range(n_train + n_test):
        label = i % 2
        docs.append({"_id": 100 + i, "category_id": 7000 + label,
                     "imgs": [{"picture": jpeg(30 + 180 * label, rng)} for _ in range(1 + i % 3)]})  # fmt: skip
    test = [{"_id": d["_id"], "imgs": d["imgs"]} for d in docs[n_train:]]
    (folder / "train.bson").write_bytes(b"".join(encode(d) for d in docs[:n_train]))
    (folder / "test.bson").write_bytes(b"".join(encode(d) for d in test))
    sample = "_id,category_id\n" + "".join(f"{d['_id']},7000\n" for d in test)
    (folder / "sample_submission.csv").write_text(sample)
    (folder / "description.md").write_text("Predict each product's category from its pictures. Accuracy.")
    return folder


def test_intake_reads_one_row_per_document_and_its_pictures_as_the_row_s_files(tmp_path: Path) -> None:
    spec, tables = load_task_tables(bson_task(tmp_path / "task"))
    assert list(tables.train.columns) == ["_id", "category_id"] and len(tables.train) == 24
    assert list(tables.test.columns) == ["_id"] and len(tables.test) == 8
    assert spec.target_columns == ("category_id",) and spec.solver == "engineers"
    assert spec.inputs == "image"
    assert spec.row_files == (
        {"train": "train.bson/{id}.jpg", "test": "test.bson/{id}.jpg", "kind": "image"},
    )


def test_the_files_block_reads_the_documents_pictures_without_mlestar(tmp_path: Path) -> None:
    task = bson_task(tmp_path / "task")
    spec, tables = load_task_tables(task)
    block = render.render_media_files(profile(list(spec.row_files)), MediaOptions(pca_components=4))
    imported = [n for n in ast.walk(ast.parse(block)) if isinstance(n, ast.Import | ast.ImportFrom)]
    assert not any("mlestar" in ast.unparse(n) for n in imported) and "def decode_document" in block
    frames = {
        "train": tables.train.rename(columns={"_id": "id"}),
        "test": tables.test.rename(columns={"_id": "id"}),
    }
    out = run_block(block, attempt_folder(tmp_path, task, cache=False), frames)
    assert out["train"].notna().all().all() and out["test"].notna().all().all()
    bright = out["train"]["file0_colour_0"].to_numpy()
    labels = tables.train["category_id"].to_numpy()
    assert bright[labels == 7001].min() > bright[labels == 7000].max()  # the first picture's brightness
