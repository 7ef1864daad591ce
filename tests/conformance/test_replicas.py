"""The conformance suite: `mlestar inspect` right and `mlestar run` valid on the catalogue's replicas.

A handful of small representative replicas run in the default tests (inspection only); every
replica, inspection and a 60 s run, runs with `make conformance` (marker `conformance`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance import replicas, runner

REPRESENTATIVE = (
    "spaceship-titanic",  # plain tables keyed by an id
    "detecting-insults-in-social-commentary",  # no id: rows by order, input columns repeated
    "aerial-cactus-identification",  # images in zips keyed by id, no test table
    "denoising-dirty-documents",  # per-pixel rows from image folders
    "plant-seedlings-classification",  # labels in folder names, no training table
    "random-acts-of-pizza",  # zipped JSON with list cells and train-only fields
    "dog-breed-identification",  # one probability column per class
    "ml2021spring-hw2",  # numpy arrays
)
NAMES = [e["name"] for e in replicas.catalogue()]


@pytest.mark.parametrize("name", REPRESENTATIVE)
def test_inspect_reads_representative_replicas(name: str, tmp_path: Path) -> None:
    outcome = runner.check_inspect(replicas.build(replicas.entry(name), tmp_path))
    assert outcome.inspect_ok, outcome.error or outcome.mismatches


def test_every_replica_is_read_without_a_crash(tmp_path: Path) -> None:
    crashes = []
    # The representative replicas are read (and must be read right, so without a crash) by the test above.
    for entry in (e for e in replicas.catalogue() if e["name"] not in REPRESENTATIVE):
        outcome = runner.check_inspect(replicas.build(entry, tmp_path))
        if outcome.error and outcome.error.startswith("crash"):
            crashes.append(f"{entry['name']}: {outcome.error}")
    assert not crashes, crashes


@pytest.mark.conformance
@pytest.mark.parametrize("name", NAMES)
def test_replica_conforms(name: str, tmp_path: Path) -> None:
    replica = replicas.build(replicas.entry(name), tmp_path / "replicas")
    outcome = runner.check_inspect(replica)
    runner.check_run(replica, outcome, 60, tmp_path)
    assert outcome.valid, outcome.problems
    assert outcome.inspect_ok, outcome.error or outcome.mismatches


def test_a_subset_rerun_replaces_only_its_rows_in_the_docs_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = NAMES[:3]
    doc = tmp_path / "conformance.md"
    old = runner.table([runner.Outcome(n, answered_by="old") for n in names])
    doc.write_text(f"intro\n{runner.BEGIN}\n{old}\n{runner.END}\nafter\n")
    monkeypatch.setattr(runner, "DOCS", doc)
    runner.write_docs(
        runner.table([runner.Outcome(names[1], answered_by="new", seconds=70.0, run_seconds=55.5)])
    )
    text = doc.read_text()
    rows = [
        line
        for line in text.splitlines()
        if line.startswith(f"| {NAMES[0]}") or line.startswith("| " + names[1])
    ]
    assert text.startswith("intro\n") and text.endswith("after\n")
    assert [r.split(" | ")[-1] for r in rows] == ["old |", "new |"]
    assert "70.0 (run 55.5)" in text and text.index(names[0]) < text.index(names[1]) < text.index(names[2])
