"""The ML libraries a pickled model names, found in its bytes (its pip requirements), and the
final model's logging taking them from the journal rather than searching the model again."""

from __future__ import annotations

from pathlib import Path

import pytest

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
