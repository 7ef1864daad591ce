"""`mlestar export RUN DEST --check`: does the exported project rebuild the run's submission?

The project is cloned with git into a temporary folder, its data is pulled from the project's own
DVC cache (so the project itself is left as it was), `dvc repro` runs there, and the rebuilt
submission.csv is compared with reference/submission.csv byte for byte. Where they differ, the
report says which rows, by how much, and why when that is known: a member the run did not refit
(the journal says so), or a package whose version differs from the run's.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mlestar.errors import RunFault
from mlestar.versioning import project_files as pf
from mlestar.versioning.finished_run import FinishedRun
from mlestar.versioning.requirements import installed_version, normalize
from mlestar.versioning.tools import Tools

CHECK_REMOTE = "export_cache"
"""The clone's local-only remote: the exported project's DVC cache."""
SHOWN_ROWS = 5


@dataclass(frozen=True)
class CheckReport:
    same: bool
    rows: int
    """Rows of the run's submission."""
    differing: tuple[str, ...]
    """Ids (or row numbers) of the rows that differ, in file order."""
    largest: float | None
    """The largest difference between numeric predictions, when there are any."""
    reasons: tuple[str, ...]
    """What is known to make them differ."""
    seconds: float
    error: str | None = None
    """Why `dvc repro` could not rebuild the submission at all."""

    def __str__(self) -> str:
        if self.same:
            return f"check: `dvc repro` in a fresh clone rebuilt the run's submission byte for byte ({self.seconds:.0f} s)"
        if self.error:
            lines = [f"check: `dvc repro` in a fresh clone failed: {self.error}"]
        else:
            shown = ", ".join(self.differing[:SHOWN_ROWS]) + (
                ", ..." if len(self.differing) > SHOWN_ROWS else ""
            )
            size = f"; the largest difference is {self.largest:.3g}" if self.largest is not None else ""
            lines = [
                f"check: the rebuilt submission differs from the run's in {len(self.differing)} of {self.rows} rows ({shown}){size}"
            ]
        lines += [f"  why: {r}" for r in self.reasons] or [
            "  why: unknown: the package versions are the run's and the run's journal names nothing"
        ]
        return "\n".join(lines)


def check_export(run: FinishedRun, dest: Path, env: Mapping[str, str]) -> CheckReport:
    """Rebuild the exported project's submission in a temporary clone and compare it with the run's."""
    started = time.monotonic()
    reasons = _known_reasons(run)
    with tempfile.TemporaryDirectory(prefix="mlestar-check-") as tmp:
        clone = Path(tmp) / "clone"
        env = _with_this_python(env)
        try:
            _rebuild(dest, clone, env)
        except RunFault as e:
            return CheckReport(False, 0, (), None, tuple(reasons), time.monotonic() - started, str(e))
        rebuilt, reference = clone / pf.SUBMISSION, clone / pf.REFERENCE / pf.SUBMISSION
        if rebuilt.read_bytes() == reference.read_bytes():
            return CheckReport(True, _rows(reference), (), None, (), time.monotonic() - started)
        differing, largest, rows = compare_submissions(rebuilt, reference, run.id_column)
        return CheckReport(False, rows, differing, largest, tuple(reasons), time.monotonic() - started)


def _rebuild(dest: Path, clone: Path, env: Mapping[str, str]) -> None:
    Tools.for_project(clone.parent, env).run_git("clone", "--quiet", str(dest.resolve()), str(clone))
    tools = Tools.for_project(clone, env)
    tools.run_dvc("remote", "add", "--local", CHECK_REMOTE, str(dest.resolve() / ".dvc" / "cache"))
    # --allow-missing: the pipeline's outputs have no hashes before a dvc.lock is committed.
    tools.run_dvc("pull", "--quiet", "--allow-missing", "--remote", CHECK_REMOTE)
    tools.run_dvc("repro", "--quiet")


def _with_this_python(env: Mapping[str, str]) -> dict[str, str]:
    """dvc.yaml runs `python`: the interpreter running mlestar, whose packages the run used."""
    here = str(Path(sys.executable).parent)
    path = env.get("PATH", "")
    return {**env, "PATH": here + (":" + path if path else "")}


def compare_submissions(
    rebuilt: Path, reference: Path, id_column: str | None
) -> tuple[tuple[str, ...], float | None, int]:
    """(ids or row numbers of the rows whose text differs, the largest numeric difference, rows)."""
    new = pd.read_csv(rebuilt, dtype=str, keep_default_na=False)
    old = pd.read_csv(reference, dtype=str, keep_default_na=False)
    if list(new.columns) != list(old.columns) or len(new) != len(old):
        return ("the whole file: " + _shape_change(new, old),), None, len(old)
    unequal = (new != old).any(axis=1).to_numpy()
    names = (
        old[id_column] if id_column in old.columns else pd.Series([f"row {i + 1}" for i in range(len(old))])
    )
    return tuple(names[unequal].astype(str)), _largest(new[unequal], old[unequal]), len(old)


def _shape_change(new: pd.DataFrame, old: pd.DataFrame) -> str:
    if list(new.columns) != list(old.columns):
        return f"columns {list(new.columns)} instead of {list(old.columns)}"
    return f"{len(new)} rows instead of {len(old)}"


def _largest(new: pd.DataFrame, old: pd.DataFrame) -> float | None:
    a = new.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    b = old.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    both = np.isfinite(a) & np.isfinite(b)
    return float(np.abs(a - b)[both].max()) if both.any() else None


def _rows(path: Path) -> int:
    return len(pd.read_csv(path, dtype=str))


def _known_reasons(run: FinishedRun) -> list[str]:
    reasons = list(run.inexact)
    for name, version in sorted(run.versions.items()):
        here = installed_version(name)
        if here is not None and normalize(here) != normalize(version):
            reasons.append(f"{name} is {here} here, the run used {version}")
    return reasons
