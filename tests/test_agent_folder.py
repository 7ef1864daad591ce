"""The MLE-bench agent folder: its config names real files, and a dry run leaves a graded submission."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import yaml

PROJECT = Path(__file__).resolve().parents[1]
AGENT = PROJECT / "agents" / "mlestar"
EXAMPLE = PROJECT / "examples" / "breast-cancer"


def _dry_run() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dry_run", AGENT / "dry_run.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["dry_run"] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_every_variant_starts_start_sh_with_a_time_limit_and_an_engineer() -> None:
    config = yaml.safe_load((AGENT / "config.yaml").read_text())
    variants = {name: v for name, v in config.items() if name.startswith("mlestar")}
    assert {"mlestar", "mlestar/openai", "mlestar/gemini", "mlestar/anthropic", "mlestar/local"} <= set(
        variants
    )
    for name, variant in variants.items():
        # The runner resolves start and dockerfile relative to its agents/ folder.
        assert (AGENT.parent / variant["start"]).is_file(), name
        assert (AGENT.parent / variant["dockerfile"]).is_file(), name
        env = variant["env_vars"]
        assert int(env["TIME_LIMIT_SECS"]) > 0, name
        assert env["MLESTAR_LLM"] == "builtin" or ":" in env["MLESTAR_LLM"], name


def test_the_dockerfile_declares_the_places_the_runner_extracts() -> None:
    dockerfile = (AGENT / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM mlebench-env" in dockerfile
    for place in ("SUBMISSION_DIR", "LOGS_DIR", "CODE_DIR", "AGENT_DIR"):
        assert re.search(rf"^ARG {place}$", dockerfile, re.M), place
        assert re.search(rf"^ENV {place}=\${{{place}}}$", dockerfile, re.M), place


def test_a_dry_run_leaves_a_valid_submission_with_the_journal_and_solution(tmp_path: Path, capsys) -> None:
    dry_run = _dry_run()
    root = tmp_path / "container"
    # One step: the places, the copy-out and the read-only data are what is tested, not the search.
    status = dry_run.main([str(EXAMPLE), "--time-limit", "90", "--step-limit", "1", "--keep", str(root)])
    places = dry_run.Places(root)
    assert status == 0, capsys.readouterr().out[-3000:]
    submission = pd.read_csv(places.submission / "submission.csv")
    sample = pd.read_csv(EXAMPLE / "sample_submission.csv")
    assert list(submission.columns) == list(sample.columns) and len(submission) == len(sample)
    assert (places.logs / "journal.jsonl").stat().st_size > 0
    assert "best" in (places.logs / "status.txt").read_text().lower()
    assert (places.code / "solution.py").read_text().count('if __name__ == "__main__":') == 1
    assert list((places.code / "attempts").glob("*.py"))
    # The data folder was read-only, as the runner mounts it, and the run still worked.
    assert not (places.data / "train.csv").stat().st_mode & 0o222
