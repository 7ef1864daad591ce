"""`mlestar export`: a finished run as a git + DVC project, checked with the real dvc and git."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlestar.errors import RunFolderError
from mlestar.versioning import ExportReport, export_run
from mlestar.versioning.finished_run import read_finished_run
from mlestar.versioning.requirements import distributions_for, pinned, requirements_lines, script_imports
from mlestar.versioning.seed import choose_seed, script_seed, wire_seed
from tests.export_factory import make_finished_run, unfinished_copy

DVC = Path(sys.executable).parent / "dvc"


@pytest.fixture(scope="module")
def tool_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The environment for dvc, git and the scripts: `python` is this venv's, no telemetry, and
    bytecode cached in pytest's cache folder (dvc and scikit-learn then start several times faster
    than when every start compiles them again under PYTHONDONTWRITEBYTECODE)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["PYTHONPYCACHEPREFIX"] = str(request.config.cache.mkdir("export-pycache"))  # type: ignore[union-attr]
    env["DVC_NO_ANALYTICS"] = "1"
    return env


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory, tool_env: dict[str, str]) -> Path:
    return make_finished_run(tmp_path_factory.mktemp("finished"), tool_env)


@dataclass(frozen=True)
class Exported:
    report: ExportReport
    git_status: str
    """`git status --porcelain` right after the export."""


@pytest.fixture(scope="module")
def exported(
    finished_run: Path, tmp_path_factory: pytest.TempPathFactory, tool_env: dict[str, str]
) -> Exported:
    """The run exported once, with a local folder as its DVC remote (the data pushed there)."""
    root = tmp_path_factory.mktemp("exported")
    (root / "export").mkdir()  # an empty folder is a fine destination
    report = export_run(finished_run, root / "export", remote=str(root / "remote"), env=tool_env)
    return Exported(report, git(report.dest, "status", "--porcelain"))


@dataclass(frozen=True)
class Reproduced:
    dest: Path
    had_submission: bool
    output: str
    dvc_status: dict
    git_status: str


@pytest.fixture(scope="module")
def reproduced(exported: Exported, tool_env: dict[str, str]) -> Reproduced:
    """`dvc repro` in the exported project, and what dvc and git say right after it."""
    dest = exported.report.dest
    had_submission = (dest / "submission.csv").exists()
    out = dvc(dest, tool_env, "repro")
    return Reproduced(
        dest, had_submission, out, dvc_status(dest, tool_env), git(dest, "status", "--porcelain")
    )


def dvc(project: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(DVC), *args], cwd=project, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def git(project: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=project, capture_output=True, text=True, check=True).stdout


def dvc_status(project: Path, env: dict[str, str]) -> dict:
    return json.loads(dvc(project, env, "status", "--json"))


# -- the exported project -------------------------------------------------------------------------


def test_export_writes_a_standalone_project_under_git_and_dvc(exported: Exported, finished_run: Path) -> None:
    report = exported.report
    dest = report.dest

    code = {"solution.py", "params.yaml", "dvc.yaml", "requirements.txt", "README.md", ".gitignore"}
    assert code | {".dvcignore", ".dvc/config", "input.dvc", "reference.dvc"} <= set(report.committed)
    assert not [p for p in report.committed if p.startswith(("input/", "reference/", "output/"))]
    assert git(dest, "log", "--format=%H").split() == [report.commit]
    assert exported.git_status == ""

    assert {"input/train.parquet", "input/folds.npy", "input/files/extra/scale.txt"} <= set(report.data)
    assert "input/files/sample_submission.csv" in report.data
    assert np.array_equal(np.load(dest / "input/folds.npy"), np.load(finished_run / "data/folds_full.npy"))
    assert (dest / "reference/submission.csv").read_bytes() == (finished_run / "submission.csv").read_bytes()

    config = (dest / ".dvc/config").read_text()
    assert "analytics = false" in config and "check_update = false" in config
    assert str(dest.resolve()) in (dest / ".dvc/config.local").read_text()
    assert (dest / ".dvc/tmp/site_cache").is_dir()

    stage = yaml.safe_load((dest / "dvc.yaml").read_text())["stages"]["train"]
    assert {"solution.py", "input"} <= set(stage["deps"])
    assert stage["outs"] == ["output", "submission.csv"] and stage["params"] == ["seed", "threads"]
    assert "MLESTAR_SEED=${seed}" in stage["cmd"] and "OMP_NUM_THREADS=${threads}" in stage["cmd"]
    assert yaml.safe_load((dest / "params.yaml").read_text()) == {"seed": 42, "threads": 1}
    solution = (dest / "solution.py").read_text()
    assert report.seed_wired and script_seed(solution) is None
    assert 'os.environ.get("MLESTAR_SEED", "42")' in solution

    requirements = (dest / "requirements.txt").read_text().splitlines()
    pins = [line for line in requirements if "==" in line]
    assert sorted(line.split("==")[0] for line in pins) == ["dvc", "numpy", "pandas", "pyarrow"]
    assert all(line == f"{n}=={metadata.version(n)}" for n, line in ((p.split("==")[0], p) for p in pins))
    assert "dvc repro" in (dest / "README.md").read_text()
    assert f"cd {dest} && dvc repro" in str(report)


def test_dvc_repro_rebuilds_the_run_submission_and_leaves_status_clean(
    reproduced: Reproduced, finished_run: Path
) -> None:
    dest = reproduced.dest
    assert not reproduced.had_submission and "Running stage 'train'" in reproduced.output
    # Byte-equal: the script is seeded, and both the harness and the script's submission block
    # write the same float64 values with pandas' to_csv.
    assert (dest / "submission.csv").read_bytes() == (finished_run / "submission.csv").read_bytes()
    assert (dest / "output/model.pkl").exists() and (dest / "output/test.npy").exists()
    assert reproduced.dvc_status == {}
    assert reproduced.git_status.split() == ["??", "dvc.lock"]


def test_changed_data_or_seed_reruns_the_pipeline(
    reproduced: Reproduced, finished_run: Path, tmp_path: Path, tool_env: dict[str, str]
) -> None:
    dest = tmp_path / "copy"  # a copy, so the other tests keep their reproduced project
    shutil.copytree(reproduced.dest, dest, symlinks=True)
    run_labels = pd.read_csv(finished_run / "submission.csv")
    input_dvc = (dest / "input.dvc").read_text()
    test = pd.read_parquet(dest / "input/test.parquet")
    test.assign(a=-test["a"]).to_parquet(dest / "input/test.parquet", index=False)

    assert "Running stage 'train'" in dvc(dest, tool_env, "repro")
    rebuilt = pd.read_csv(dest / "submission.csv")
    assert list(rebuilt["id"]) == list(run_labels["id"])
    assert not np.allclose(rebuilt["label"], run_labels["label"])
    assert (dest / "input.dvc").read_text() != input_dvc  # the new data is recorded
    assert dvc_status(dest, tool_env) == {}

    params = dest / "params.yaml"
    params.write_text(params.read_text().replace("seed: 42", "seed: 7"))
    assert "Running stage 'train'" in dvc(dest, tool_env, "repro")
    reseeded = pd.read_csv(dest / "submission.csv")
    assert not np.allclose(reseeded["label"], rebuilt["label"])
    assert "seed: 7" in (dest / "dvc.lock").read_text()


def test_the_data_is_pushed_to_the_remote_and_a_clone_pulls_it_back(
    exported: Exported, finished_run: Path, tmp_path: Path, tool_env: dict[str, str]
) -> None:
    report = exported.report
    remote = Path(report.remote or "")
    assert report.pushed and remote.is_absolute()
    assert len([p for p in remote.rglob("*") if p.is_file()]) >= len(report.data)
    assert "remote = storage" in (report.dest / ".dvc/config").read_text()

    # A clone has the code and no data, no cache: everything it gets comes from the remote.
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(report.dest), str(clone)], check=True)
    assert not (clone / "input").exists() and not (clone / ".dvc/cache").exists()
    env = {**tool_env, "DVC_SITE_CACHE_DIR": str(clone / ".dvc/tmp/site_cache")}
    # --allow-missing: the pipeline's outputs have no hashes before a dvc.lock is committed.
    dvc(clone, env, "pull", "--allow-missing")

    for rel in report.data:
        assert (clone / rel).read_bytes() == (report.dest / rel).read_bytes(), rel
    assert (clone / "input/train.parquet").read_bytes() == (finished_run / "data/train.parquet").read_bytes()


# -- --check: a fresh clone rebuilds the submission ------------------------------------------------


def test_check_rebuilds_the_submission_in_a_clone_and_leaves_the_project_as_it_was(
    finished_run: Path, tmp_path: Path, tool_env: dict[str, str]
) -> None:
    report = export_run(finished_run, tmp_path / "export", env=tool_env, check=True)
    check = report.check
    assert check is not None and check.same and check.rows == 20 and not check.differing
    assert "rebuilt the run's submission byte for byte" in str(report)
    dest = report.dest
    assert git(dest, "status", "--porcelain") == ""  # the clone did the work, not the project
    assert not (dest / "submission.csv").exists() and not (dest / "output").exists()


def test_check_names_the_rows_that_differ_and_what_is_known_to_explain_it(
    finished_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlestar.cli import main

    run = tmp_path / "run"
    shutil.copytree(finished_run, run, symlinks=True)
    submission = pd.read_csv(run / "submission.csv")
    changed = submission.index[:2]
    submission.loc[changed, "label"] += 0.25
    submission.to_csv(run / "submission.csv", index=False)
    journal = run / "journal.jsonl"
    text = journal.read_text().replace(f'"numpy": "{metadata.version("numpy")}"', '"numpy": "0.0.1"')
    stored = {
        "name": "final_member",
        "member": "draft-0",
        "refit": False,
        "reason": "no time",
        "exact": False,
    }
    journal.write_text(text + json.dumps({"kind": "event", "time": 0, **stored}) + "\n")

    code = main(["export", str(run), str(tmp_path / "export"), "--check"])
    out = capsys.readouterr().out
    assert code == 1
    ids = ", ".join(str(i) for i in submission.loc[changed, "id"])
    assert f"differs from the run's in 2 of 20 rows ({ids}); the largest difference is 0.25" in out
    assert "why: draft-0 was not refit (no time): the submission used its stored predictions" in out
    assert f"why: numpy is {metadata.version('numpy')} here, the run used 0.0.1" in out


# -- refusals: nothing is written -------------------------------------------------------------------


def test_refuses_a_destination_that_is_not_empty(finished_run: Path, tmp_path: Path) -> None:
    dest = tmp_path / "busy"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    with pytest.raises(
        RunFolderError, match=r"expected DEST to be a new or empty folder, found 1 entries .*notes\.txt"
    ):
        export_run(finished_run, dest)
    assert [p.name for p in dest.iterdir()] == ["notes.txt"]


def test_refuses_an_unfinished_run(finished_run: Path, tmp_path: Path) -> None:
    run = unfinished_copy(finished_run, tmp_path / "run")
    with pytest.raises(
        RunFolderError, match=r"expected a finished run \(a run_finished event .*\), found an unfinished"
    ):
        export_run(run, tmp_path / "export")
    assert not (tmp_path / "export").exists()


def test_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    (tmp_path / "task").mkdir()
    with pytest.raises(
        RunFolderError, match=r"expected a run folder \(with journal.jsonl\) .*, found no journal"
    ):
        export_run(tmp_path / "task", tmp_path / "export")
    assert not (tmp_path / "export").exists()


def test_refuses_a_run_whose_files_are_gone(finished_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(finished_run, run, symlinks=True)
    (run / "data/folds_full.npy").unlink()
    with pytest.raises(RunFolderError, match=r"found 1 missing: .*folds_full\.npy"):
        export_run(run, tmp_path / "export")
    assert not (tmp_path / "export").exists()


def test_refuses_a_run_whose_data_changed_since_it_ran(finished_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(finished_run, run, symlinks=True)
    np.save(run / "data/target.npy", 1 - np.load(run / "data/target.npy"))
    with pytest.raises(RunFolderError, match=r"recorded, found 1 changed since the run: .*target\.npy"):
        export_run(run, tmp_path / "export")
    assert not (tmp_path / "export").exists()


def test_threads_default_to_the_machine_when_the_journal_does_not_record_them(
    finished_run: Path, tmp_path: Path
) -> None:
    assert read_finished_run(finished_run).threads == 1  # recorded in run_finished
    run = tmp_path / "run"
    shutil.copytree(finished_run, run, symlinks=True)
    journal = run / "journal.jsonl"
    journal.write_text(journal.read_text().replace(', "threads": 1', ""))
    assert read_finished_run(run).threads == max(1, os.cpu_count() or 1)


# -- pure parts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "seed", "wired", "seed_seen"),
    [
        ("import numpy as np\nSEED = 7\nX = 1\n", 7, True, 7),  # the param's literal: rewritten
        ("import os\nSEED = int(os.environ.get('MLESTAR_SEED', 3))\n", 3, True, 3),  # reads it already
        ("SEED = 7\n", 5, False, 7),  # another seed than the param's: rewriting would change it
        ("SEED = 1 + 2\n", 3, False, 3),  # an expression: left alone
        ("x = 1\n", 5, False, None),  # no seed constant: nothing to wire
        ("SEED = 1; X = 2\n", 1, False, 1),  # shares its line with another statement: left alone
    ],
)
def test_wire_seed(
    script: str, seed: int, wired: bool, seed_seen: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    new, ok = wire_seed(script, seed)
    assert ok is wired and (new == script) is (not wired or "MLESTAR_SEED" in script)
    monkeypatch.delenv("MLESTAR_SEED", raising=False)
    namespace: dict[str, object] = {}
    exec(new, namespace)
    assert namespace.get("SEED") == seed_seen
    if wired:
        monkeypatch.setenv("MLESTAR_SEED", "11")
        exec(new, namespace)
        assert namespace["SEED"] == 11
    assert new.count("import os") <= 1


@pytest.mark.parametrize(
    ("scripts", "expected"),
    [
        (["SEED = 3\n", "SEED = 3\n"], 3),  # every literal agrees
        (
            ["SEED = 3\n", "import os\nSEED = int(os.environ['MLESTAR_SEED'])\n"],
            42,
        ),  # env readers got the run's
        (["SEED = 3\n", "SEED = 4\n"], 42),  # literals disagree: the run's seed, literals untouched
        (["x = 1\n"], 42),
    ],
)
def test_choose_seed(scripts: list[str], expected: int) -> None:
    assert choose_seed(scripts, 42) == expected


def test_script_imports_skip_the_standard_library_and_relative_imports() -> None:
    script = "import os, json\nimport numpy as np\nfrom sklearn.linear_model import Ridge\nfrom . import x\n"
    nested = "def f():\n    import lightgbm\n    from pathlib import Path\n"
    assert script_imports([script, nested]) == {"numpy", "sklearn", "lightgbm"}


def test_pinned_prefers_the_recorded_version_then_the_installed_one() -> None:
    recorded = {"Scikit_Learn": "1.5.0", "lightgbm": "4.3.0"}
    installed = {"scikit-learn": "9.9", "numpy": "2.1.0"}.get
    lines = pinned(
        [("scikit-learn", "sklearn"), ("numpy", "numpy"), ("mystery", "mystery")], recorded, installed
    )
    assert lines == ["scikit-learn==1.5.0", "numpy==2.1.0", "mystery"]
    assert pinned([("lightgbm", "lightgbm")], {"lightgbm": "4.3.0"}, installed) == ["lightgbm==4.3.0"]


def test_the_project_s_own_modules_are_not_requirements() -> None:
    driver = "import numpy as np\nfrom solution_parts.combine import combine\n"
    assert requirements_lines([driver], {"numpy": "2.0.0"}, local=["solution_parts"]) == ["numpy==2.0.0"]


def test_distributions_for_maps_modules_to_projects_and_adds_implied_ones() -> None:
    owners = {"sklearn": ["scikit-learn"], "yaml": ["PyYAML"], "pandas": ["pandas"]}
    found = distributions_for(["sklearn", "pandas", "unknown_mod"], owners)
    assert found == [
        ("pandas", "pandas"),
        ("pyarrow", "pyarrow"),  # pandas reads parquet through it
        ("scikit-learn", "sklearn"),
        ("unknown_mod", "unknown_mod"),  # not installed: its own name, unpinned later
    ]
