"""The submission writer: the bytes pandas would write, quicker; the check: fast on many rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlestar.handover.submission import write_csv


def test_write_csv_writes_what_pandas_writes(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "id": ["a", "b,c", 'd"e', None, "7"],
            "p": [0.1, np.nan, 1e16, 1 / 3, -2.5e-12],
            "n": [1, 2, 3, 4, 5],
            "flag": [True, False, True, False, True],
            "text": ["x y", "", "z", "w\nv", "ünï"],
        }
    )
    ours, theirs = tmp_path / "ours.csv", tmp_path / "theirs.csv"
    write_csv(frame, ours)
    frame.to_csv(theirs, index=False)
    assert ours.read_bytes() == theirs.read_bytes()
    assert pd.read_csv(ours).shape == frame.shape


def _csv_module_bytes(frame: pd.DataFrame, path: Path) -> bytes:
    """The bytes the csv module writes, a row at a time (the writer before Arrow spelled the cells)."""
    import csv

    cells = [frame[c].to_numpy(dtype=object).copy() for c in frame.columns]
    for column, name in zip(cells, frame.columns, strict=True):
        column[frame[name].isna().to_numpy()] = ""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([str(c) for c in frame.columns])
        writer.writerows(zip(*cells, strict=True))
    return path.read_bytes()


_EDGE_FLOATS = [0.5, 1.0, 1e-05, 0.30000000000000004, -0.0, 0.0, 1e-4, 9.999999999999999e-05, 1e16,
                9999999999999998.0, 1e15, 123456789012345.6, 2.0**53, 2.0**53 + 2, -7.0, 100.0, 1e21,
                1.5e300, -2.5e-300, 5e-324, float("inf"), float("-inf"), np.nan, 1 / 3, -2 / 3,
                12345678.9, 0.1 + 0.2, 1.7976931348623157e308, 0.00012345678901234567]  # fmt: skip


def test_floats_are_spelled_as_python_repr_spells_them() -> None:
    import pyarrow as pa
    import pyarrow.compute as pc

    from mlestar.handover.submission import _float_pieces

    rng = np.random.default_rng(0)
    drawn = [
        rng.random(20_000),
        rng.normal(0, 1, 20_000) * 10.0 ** rng.integers(-8, 20, 20_000),
        np.round(rng.normal(0, 1e6, 5_000)),  # whole numbers
        rng.integers(-(2**62), 2**62, 5_000).astype(np.float64),
        np.round(10.0 ** rng.uniform(0, 16.5, 5_000)) * rng.choice([-1, 1], 5_000),  # every magnitude
        rng.random(5_000).astype(np.float32).astype(np.float64),  # 17-digit values
        np.array(_EDGE_FLOATS),
    ]
    values = np.concatenate(drawn)
    want = ["" if np.isnan(v) else repr(v) for v in values.tolist()]
    spelled = pc.binary_join_element_wise(*_float_pieces(values), pa.scalar("", pa.large_string()))
    assert spelled.to_pylist() == want


def test_write_csv_writes_the_csv_modules_bytes_across_blocks(tmp_path: Path, monkeypatch) -> None:
    from mlestar.handover import submission

    monkeypatch.setattr(submission, "_CSV_BLOCK", 7)  # many blocks, the last one short
    n = len(_EDGE_FLOATS) + 31
    rng = np.random.default_rng(1)
    words = ["a", "b,c", 'd"e', "", "x\ry", "w\nv", "ünï", "12_345_678", " pad "]
    frame = pd.DataFrame(
        {
            "id": [f"{i}_{i % 5}_{i % 7}" for i in range(n)],
            "p": np.resize(np.array(_EDGE_FLOATS), n),
            "n": rng.integers(-5, 10**12, n),
            "flag": rng.random(n) > 0.5,
            "text": pd.array([words[i % len(words)] if i % 11 else None for i in range(n)], dtype=object),
            "arrow": pd.array([words[i % len(words)] for i in range(n)], dtype="string[pyarrow]"),
            "maybe": pd.array([i if i % 4 else None for i in range(n)], dtype="Int64"),
        }
    )
    import pyarrow as pa

    half = n // 2  # columns in chunks, as read from parquet
    texts = pa.chunked_array([[f"c{i}" for i in range(half)], [f"d,{i}" for i in range(half, n)]])
    frame["chunks"] = pd.Series(pd.arrays.ArrowStringArray(texts))
    frame["arrow_chunks"] = pd.Series(pd.arrays.ArrowExtensionArray(texts))
    frame["counts"] = pd.Series(
        pd.arrays.ArrowExtensionArray(pa.chunked_array([range(half), range(half, n)]))
    )
    monkeypatch.setattr(submission, "_csv_values", lambda frame: pytest.fail("a row at a time"))
    submission.write_csv(frame, tmp_path / "ours.csv")
    assert (tmp_path / "ours.csv").read_bytes() == _csv_module_bytes(frame, tmp_path / "theirs.csv")


def test_write_csv_leaves_other_cells_and_one_column_to_the_csv_module(tmp_path: Path) -> None:
    mixed = pd.DataFrame({"id": ["a", 1, 2.5, b"x", None], "p": np.linspace(0, 1, 5)})
    single = pd.DataFrame({"text": ["a", "", None, "b,c"]})
    for name, frame in (("mixed", mixed), ("single", single)):
        write_csv(frame, tmp_path / f"{name}.csv")
        assert (tmp_path / f"{name}.csv").read_bytes() == _csv_module_bytes(frame, tmp_path / "want.csv")
