"""Fake secrets for a run's environment, and a scan of everything the run left for them.

Each fake value is unique and unmistakable, so finding its bytes anywhere means it leaked. Git's
objects are compressed, so an exported project's history is scanned through `git log -p`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path

FAKE_SECRETS = {
    "OPENAI_API_KEY": "sk-FAKE-openai-7f3a9c1e5d",
    "ANTHROPIC_API_KEY": "sk-ant-FAKE-4b8e2d6f0a",
    "GEMINI_API_KEY": "FAKE-gemini-9d1c7e3b5a",
    "AWS_SECRET_ACCESS_KEY": "FAKE-aws-2e6a0c4f8b1d",
    "HF_TOKEN": "hf_FAKE-5c9e3a7d1b",
    "GITHUB_TOKEN": "ghp_FAKE-8a2c6e0b4d",
    "MLFLOW_TRACKING_PASSWORD": "FAKE-mlflow-pw-3f7b1d5e9c",
    "DATABASE_URL": "postgresql://user:FAKE-db-pw-6e0a4c8b2f@db.invalid/app",
}
_NEEDLES = tuple(
    value.split(":", 2)[-1].split("@")[0] if "://" in value else value for value in FAKE_SECRETS.values()
)
"""What must never be found: each value (for a URL, its password)."""
_MAX_BYTES = 200 << 20


def _files(roots: Iterable[Path]) -> Iterable[Path]:
    for root in roots:
        if root.is_file():
            yield root
        elif root.is_dir():
            yield from (p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def _git_history(root: Path) -> str:
    if not (root / ".git").exists():
        return ""
    done = subprocess.run(
        ["git", "-C", str(root), "log", "--all", "-p", "--binary"], capture_output=True, timeout=120
    )
    return done.stdout.decode(errors="replace")


def scan_for_secrets(roots: list[Path]) -> tuple[list[str], int]:
    """(findings "SECRET in path", number of files scanned) over every file under the roots."""
    hits, scanned = [], 0
    for path in _files(roots):
        if path.stat().st_size > _MAX_BYTES:
            continue
        data = path.read_bytes()
        scanned += 1
        hits += [f"{needle[:12]}… in {path}" for needle in _NEEDLES if needle.encode() in data]
    for root in roots:
        history = _git_history(root) if root.is_dir() else ""
        hits += [f"{needle[:12]}… in the git history of {root}" for needle in _NEEDLES if needle in history]
    return hits, scanned
