"""The ML libraries a pickled model names, found in its bytes (its pip requirements), and the
final model's logging taking them from the journal rather than searching the model again."""

from __future__ import annotations

import mmap
import pickle
from pathlib import Path

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from mlestar.handover import libraries


def test_libraries_are_found_anywhere_in_the_files_even_across_windows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(libraries, "_WINDOW", 16)  # names straddle the searched windows
    first, second, empty = tmp_path / "a.pkl", tmp_path / "b.pkl", tmp_path / "c.pkl"
    first.write_bytes(b"\x80\x05" + b"x" * 13 + b"lightgbm.basic" + b"\0" * 40)
    second.write_bytes(b"\x80\x05" + b"y" * 30 + b"sklearn.ensemble._forest")
    empty.write_bytes(b"")
    assert libraries.libraries_in([first, second, empty]) == ["scikit-learn", "lightgbm"]
    assert libraries.libraries_in([empty]) == []


def _scaler_beside_an_array(planted: bytes) -> dict[str, object]:
    """A fitted scikit-learn object and a 1 MB array whose data holds `planted`."""
    data = np.zeros(1 << 20, dtype=np.uint8)
    data[1000 : 1000 + len(planted)] = np.frombuffer(planted, dtype=np.uint8)
    return {"scaler": StandardScaler().fit(np.eye(3)), "weights": data}


def _ranges(path: Path) -> libraries.Ranges:
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return libraries.searched_ranges(data)


def test_a_pickles_arrays_are_not_searched_but_the_pickles_it_holds_are(tmp_path: Path) -> None:
    model = tmp_path / "model.pkl"
    model.write_bytes(pickle.dumps(_scaler_beside_an_array(b"lightgbm.basic"), protocol=5))
    searched = sum(end - start for start, end in _ranges(model))
    assert searched < model.stat().st_size // 100  # the array's MB is left out
    assert libraries.libraries_in([model]) == ["scikit-learn"]  # bytes of an array name no module

    # An ensemble holds its members' pickles as bytes (or a bytearray): those are walked in turn.
    member = pickle.dumps(_scaler_beside_an_array(b"xgboost.core"), protocol=5)
    for held in (member, bytearray(member)):
        ensemble = tmp_path / "ensemble.pkl"
        ensemble.write_bytes(pickle.dumps({"members": [held], "w": np.ones(1 << 18)}, protocol=5))
        assert sum(end - start for start, end in _ranges(ensemble)) < 10_000
        assert libraries.libraries_in([ensemble]) == ["scikit-learn"]


def test_a_file_that_is_not_one_pickle_or_is_slow_to_walk_is_searched_whole(tmp_path: Path) -> None:
    appended = tmp_path / "appended.pkl"  # a pickle and then raw bytes (as joblib writes arrays)
    appended.write_bytes(pickle.dumps({"w": np.zeros(1000)}, protocol=5) + b"\0" * 64 + b"catboost.core")
    many = tmp_path / "many.pkl"  # a hundred thousand small objects: walking costs more than searching
    many.write_bytes(
        pickle.dumps([list(range(100_000)), _scaler_beside_an_array(b"optuna.study")], protocol=5)
    )
    for path in (appended, many):
        assert _ranges(path) == [(0, path.stat().st_size)]
    assert libraries.libraries_in([appended]) == ["catboost"]
    assert libraries.libraries_in([many]) == ["scikit-learn", "optuna"]  # the array's bytes too

    older = tmp_path / "older.pkl"  # protocol 4 writes an array's data as bytes: searched as before
    older.write_bytes(pickle.dumps(_scaler_beside_an_array(b"scipy.sparse"), protocol=4))
    assert libraries.libraries_in([older]) == ["scikit-learn", "scipy"]


def test_logging_uses_the_journaled_libraries_and_searches_only_without_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlestar.tracking import final_model

    model = tmp_path / "model.pkl"
    model.write_bytes(b"\x80\x05sklearn")
    searched: list[list[Path]] = []
    monkeypatch.setattr(libraries, "libraries_in", lambda paths: searched.append(paths) or ["scikit-learn"])
    journaled = final_model.requirements(model, ["lightgbm"])
    assert searched == [] and any(r.startswith("lightgbm==") for r in journaled)
    assert not any(r.startswith("scikit-learn==") for r in journaled)
    found = final_model.requirements(model)
    assert searched == [[model]] and any(r.startswith("scikit-learn==") for r in found)
