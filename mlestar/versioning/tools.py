"""Running dvc and git as programs, offline and quiet. The only place mlestar starts dvc.

dvc is the CLI installed next to the running interpreter (the `dvc` extra). Every call gets
analytics off and the site cache inside the project, so nothing is written to /var/tmp/dvc and
nothing leaves the machine (the update check only runs with `dvc version`, which is never called,
and is switched off in the project's config too).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlestar.errors import ConfigError, RunFault

SITE_CACHE = Path(".dvc") / "tmp" / "site_cache"
"""The project's own site cache (inside .dvc/tmp, which dvc already keeps out of git)."""

GIT_IDENTITY = ("-c", "user.name=mlestar", "-c", "user.email=mlestar@localhost", "-c", "commit.gpgsign=false")
"""So that committing works on a machine with no global git identity (and no signing key)."""


def find_dvc() -> Path:
    """The dvc program of this environment: next to sys.executable (not resolved: a venv's python
    is a link to the base interpreter, whose folder has no dvc)."""
    candidate = Path(sys.executable).parent / "dvc"
    if candidate.exists():
        return candidate
    raise ConfigError(
        f"expected the dvc program next to {sys.executable} (install it with `pip install 'mlestar[dvc]'`), "
        f"found nothing at {candidate}"
    )


def find_git() -> Path:
    found = shutil.which("git")
    if found is None:
        raise ConfigError("expected the git program on PATH, found none")
    return Path(found)


def offline_environment(base: Mapping[str, str], project: Path) -> dict[str, str]:
    """The caller's environment plus dvc's switches: no analytics, site cache inside the project."""
    env = dict(base)
    env["DVC_NO_ANALYTICS"] = "1"
    env["DVC_SITE_CACHE_DIR"] = str(project.resolve() / SITE_CACHE)
    env["GIT_TERMINAL_PROMPT"] = "0"
    return env


@dataclass(frozen=True)
class Tools:
    """dvc and git bound to one project folder."""

    project: Path
    dvc: Path
    git: Path
    env: Mapping[str, str] = field(repr=False)

    @classmethod
    def for_project(cls, project: Path, base_env: Mapping[str, str]) -> Tools:
        return cls(project, find_dvc(), find_git(), offline_environment(base_env, project))

    def run_dvc(self, *args: str) -> str:
        return self._run([str(self.dvc), *args], f"dvc {' '.join(args)}")

    def run_git(self, *args: str) -> str:
        return self._run([str(self.git), *GIT_IDENTITY, *args], f"git {' '.join(args)}")

    def _run(self, argv: Sequence[str], shown: str) -> str:
        done = subprocess.run(
            list(argv), cwd=self.project, env=dict(self.env), capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip()[-2000:]
            raise RunFault(f"`{shown}` failed in {self.project} (exit status {done.returncode}): {tail}")
        return done.stdout


def current_environment() -> dict[str, str]:
    """Read once, at the edge of an export (the CLI may pass its own mapping instead)."""
    return dict(os.environ)
