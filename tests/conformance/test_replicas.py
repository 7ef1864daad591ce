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
    for entry in replicas.catalogue():
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
