"""The run's shared feature cache: features one attempt computed from the task's files (decoded
pictures, sound summaries) or text views it fitted serve every later attempt.

Scripts may write only inside their own folder, so an attempt leaves what it computed in
./cache; after it ends, the harness moves each finished file (never a partial one) into the run's
cache folder, which later attempts see read-only as ./input/cache. A file's name says what was
computed and from which files, so a name already present holds the same content and the newcomer
is dropped.
"""

from __future__ import annotations

import os
from pathlib import Path

SUFFIXES = (".npy", ".pkl")
"""Arrays (features of files) and pickles (fitted text views with what they made)."""


def share(own: Path, shared: Path) -> list[str]:
    """Move the finished cache files of an attempt into the shared folder; the names moved."""
    if not own.is_dir():
        return []
    shared.mkdir(parents=True, exist_ok=True)
    moved = []
    for path in sorted(own.iterdir()):
        if not path.is_file() or path.suffix not in SUFFIXES:
            continue  # a ".partial" file was cut short: never shared
        target = shared / path.name
        if target.exists():
            path.unlink()
            continue
        os.replace(path, target)
        moved.append(path.name)
    return moved
