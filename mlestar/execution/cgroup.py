"""A pids cgroup per sandboxed run, where this machine lets mlestar make one.

RLIMIT_NPROC stops a fork bomb for an ordinary user, but the kernel never applies it to root, even
inside a user namespace. A cgroup's pids.max applies to everyone: each run gets a child of the pids
cgroup mlestar itself is in (cgroup v1 `pids` hierarchy, or cgroup v2 where `pids` is delegated),
the script's first process joins it before it confines itself, and the folder is removed once the
run's processes are gone. Where no such cgroup can be made (no permission, no controller) nothing
changes: the rlimit and the runner's sampled process count still apply.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

_REMOVE_WAIT_S = 5.0


def _own_pids_folder() -> Path | None:
    """The pids cgroup folder this process is in: v1's `pids` hierarchy, else v2's unified one."""
    mounts: dict[str, Path] = {}
    with open("/proc/self/mountinfo") as info:
        for line in info:
            left, _, right = line.partition(" - ")
            fstype, _, options = right.split()[:3]
            point = Path(left.split()[4])
            if fstype == "cgroup" and "pids" in options.split(","):
                mounts["v1"] = point
            elif fstype == "cgroup2":
                mounts.setdefault("v2", point)
    with open("/proc/self/cgroup") as groups:
        for line in groups:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if "pids" in controllers.split(",") and "v1" in mounts:
                return mounts["v1"] / path.lstrip("/")
            if controllers == "" and "v2" in mounts and "v1" not in mounts:
                return mounts["v2"] / path.lstrip("/")
    return None


@dataclass(frozen=True)
class PidsCgroup:
    """One run's cgroup: its processes and threads cannot outnumber `pids.max`."""

    folder: Path

    @classmethod
    def create(cls, name: str, max_processes: int) -> PidsCgroup | None:
        """A new cgroup with the limit set, or None where this machine does not allow one."""
        try:
            parent = _own_pids_folder()
            if parent is None or not (parent / "cgroup.procs").exists():
                return None
            folder = parent / f"mlestar-{name}"
            folder.mkdir()
        except OSError:
            return None
        group = cls(folder)
        try:
            (folder / "pids.max").write_text(str(max_processes))
        except OSError:
            group.remove()
            return None
        return group

    @staticmethod
    def remove_stale(min_age_s: float = 300.0) -> int:
        """Remove empty run cgroups left by a run killed before it could (kill -9); returns how many.
        Only old ones: a new one may be about to receive its script."""
        try:
            parent = _own_pids_folder()
            folders = list(parent.glob("mlestar-*")) if parent is not None else []
        except OSError:
            return 0
        removed = 0
        for folder in folders:
            with contextlib.suppress(OSError):
                if time.time() - folder.stat().st_mtime > min_age_s:
                    folder.rmdir()  # refused while processes are in it
                    removed += 1
        return removed

    @property
    def procs_file(self) -> str:
        """Where the script's first process writes its pid to join (confine.py does it)."""
        return str(self.folder / "cgroup.procs")

    def current(self) -> int:
        """Processes and threads in the cgroup now (pids.current)."""
        try:
            return int((self.folder / "pids.current").read_text())
        except (OSError, ValueError):
            return 0

    def refusals(self) -> int:
        """How many forks the limit refused (pids.events: `max N`)."""
        try:
            text = (self.folder / "pids.events").read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "max" and value.strip().isdigit():
                return int(value)
        return 0

    def remove(self) -> None:
        """Remove the folder once its last process is gone (a moment after they were killed)."""
        deadline = time.monotonic() + _REMOVE_WAIT_S
        while True:
            try:
                self.folder.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    return  # busy past the wait: the kernel keeps it, empty, until the next boot
                with contextlib.suppress(OSError):
                    for pid in (self.folder / "cgroup.procs").read_text().split():
                        os.kill(int(pid), 9)
                time.sleep(0.05)
