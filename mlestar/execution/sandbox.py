"""Sandbox levels: which one this machine allows, which one a run uses, and each run's confinement spec.

The confinement itself happens in the script's own process (confine.py, standard library only). This
module decides: it probes the machine once (a short child process tries each level and reports what a
script could still do), picks the strongest level that held for `--sandbox auto`, refuses to start for
`--sandbox strict` when the strongest is missing, and builds the spec each run is confined by.
"""

from __future__ import annotations

import functools
import json
import os
import pwd
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlestar.contract import DEVICE_CUDA, INPUT_DIR
from mlestar.errors import ConfigError
from mlestar.execution.base import Limits

CONFINE_PROGRAM = Path(__file__).with_name("confine.py")
MODES = ("auto", "strict", "off")
LEVELS = ("namespaces", "landlock", "limits", "off")
"""Strongest first; "namespaces" is the only level that gives every guarantee."""
SCRATCH_DIR = ".tmp"
"""Inside each attempt folder: the script's TMPDIR and HOME (and /dev/shm in a namespace)."""

GUARANTEES = {
    "namespaces": (
        "data read-only",
        "only the attempt folder writable",
        "no network",
        "own process namespace",
        "home folders hidden",
    ),
    "landlock": ("data read-only", "only the attempt folder writable", "home folders hidden"),
    "limits": ("resource limits only",),
    "off": (),
}
_PROBE_TIMEOUT_S = 30.0
_ADDRESS_HEADROOM_MB = 1024
"""Address space beyond the memory cap: thread stacks and allocator arenas reserve more than they use."""


@dataclass(frozen=True)
class SandboxChoice:
    """The level a run uses, why, and what it guarantees."""

    mode: str
    level: str
    guarantees: tuple[str, ...]
    available: tuple[str, ...]
    warning: str | None = None

    def describe(self) -> str:
        what = ", ".join(self.guarantees) or "nothing beyond time and memory limits"
        return f"{self.level} ({what})"

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "level": self.level,
            "guarantees": list(self.guarantees),
            "available": list(self.available),
            "warning": self.warning,
        }


@dataclass(frozen=True)
class Probe:
    """What a script could still do at one level on this machine (confine.py --probe)."""

    level: str
    report: Mapping[str, Any] = field(default_factory=dict)

    @property
    def holds(self) -> bool:
        r = self.report
        if "error" in r or not r.get("writes_inside") or r.get("writes_outside") or r.get("reads_hidden"):
            return False
        return self.level != "namespaces" or (not r.get("network") and bool(r.get("own_pids")))

    def guarantees(self) -> tuple[str, ...]:
        found = GUARANTEES[self.level]
        if self.level == "landlock" and not self.report.get("network"):
            found = (*found, "no TCP connections")
        return found


def probe_level(level: str, python: str = sys.executable) -> Probe:
    """Try one level in a throw-away child process and folder."""
    if level in ("limits", "off"):
        return Probe(level, {"writes_inside": True})
    with tempfile.TemporaryDirectory(prefix="mlestar-probe-") as folder:
        try:
            done = subprocess.run(
                [python, str(CONFINE_PROGRAM), "--probe", level, folder],
                capture_output=True, text=True, timeout=_PROBE_TIMEOUT_S, env={"PATH": os.defpath}, cwd="/",
            )  # fmt: skip
            report = json.loads(done.stdout.strip().splitlines()[-1])
        except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
            report = {"error": f"{type(exc).__name__}: {exc}"}
    return Probe(level, report)


@functools.cache
def probe_machine(python: str = sys.executable) -> tuple[Probe, ...]:
    """Every level, probed once per process (the answer does not change while a run lasts)."""
    return tuple(probe_level(level, python) for level in LEVELS)


def choose(mode: str, probes: tuple[Probe, ...]) -> SandboxChoice:
    """The level for `--sandbox MODE`, given what the machine allows (pure)."""
    if mode not in MODES:
        raise ConfigError(f"expected --sandbox to be one of {', '.join(MODES)}, found {mode!r}")
    held = [p for p in probes if p.holds]
    available = tuple(p.level for p in held)
    if mode == "off":
        off_warning = "--sandbox off: scripts run unconfined (only time, memory and environment limits)"
        return SandboxChoice(mode, "off", (), available, off_warning)
    best = held[0] if held else Probe("off")
    if mode == "strict" and best.level != LEVELS[0]:
        reasons = "; ".join(f"{p.level}: {p.report.get('error', 'did not hold')}" for p in probes[:2])
        raise ConfigError(
            f"expected --sandbox strict to find user namespaces (data read-only, no network, own pids), "
            f"found only {best.level} ({reasons}); use --sandbox auto to run with the weaker level"
        )
    warning: str | None = None
    if best.level != LEVELS[0]:
        warning = (
            f"sandbox: user namespaces are not available here; scripts run at level {best.level!r} "
            f"({', '.join(best.guarantees()) or 'no confinement'})"
        )
    return SandboxChoice(mode, best.level, best.guarantees(), available, warning)


def resolve(mode: str, python: str = sys.executable) -> SandboxChoice:
    """The level `--sandbox MODE` gives on this machine; ConfigError when `strict` cannot be met."""
    if mode == "off":
        return choose(mode, ())
    return choose(mode, probe_machine(python))


# ---- per run -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sandbox:
    """How every script of a run is confined. Built once at the edge; picklable (Ray sends it)."""

    level: str
    hidden: tuple[str, ...] = ()
    """Folders no script may see: the user's home, where keys live (all homes when running as root)."""
    keep: tuple[str, ...] = ()
    """Paths inside hidden folders that scripts still need: the interpreter and its libraries."""
    disk_mb: int | None = None
    """What one attempt's folder may hold (and so its largest file), when tighter than the run's Limits."""
    max_processes: int | None = None
    """Processes and threads one script may have, when tighter than the run's Limits."""
    devices: tuple[str, ...] = ()
    """Device files (or folders of them) under /dev that scripts may open for reading, writing and
    ioctl beyond the harmless ones: the GPU's when the run's device is cuda, none otherwise."""

    @classmethod
    def for_level(
        cls,
        level: str,
        home: str | None = None,
        disk_mb: int | None = None,
        max_processes: int | None = None,
        devices: tuple[str, ...] = (),
    ) -> Sandbox:
        """This machine's hidden folders and this interpreter's paths; `home`: the HOME scripts would get."""
        if level not in LEVELS:
            raise ConfigError(f"expected a sandbox level among {', '.join(LEVELS)}, found {level!r}")
        homes = {pwd.getpwuid(os.geteuid()).pw_dir, *([home] if home else [])}
        if os.geteuid() == 0:
            homes |= {"/root", "/home"}
        hidden = {os.path.realpath(h) for h in homes if h and os.path.realpath(h) != "/"}
        return cls(level, tuple(sorted(hidden)), interpreter_paths(), disk_mb, max_processes, devices)

    def hiding(self, folder: str | None) -> Sandbox:
        """The same sandbox, hiding one more folder (a HOME the environment names)."""
        if not folder or os.path.realpath(folder) in ("/", *self.hidden):
            return self
        return replace(self, hidden=tuple(sorted({*self.hidden, os.path.realpath(folder)})))

    def bound(self, limits: Limits) -> Limits:
        """The run's limits, with the sandbox's caps where they are tighter."""
        if self.max_processes is not None:
            limits = replace(limits, max_processes=min(limits.max_processes, self.max_processes))
        if self.disk_mb is None:
            return limits
        return replace(
            limits,
            disk_mb=min(limits.disk_mb or self.disk_mb, self.disk_mb),
            file_mb=min(limits.file_mb or self.disk_mb, self.disk_mb),
        )

    def spec(self, workdir: Path, limits: Limits) -> dict[str, Any]:
        """The confinement of one run in `workdir` (confine.py's spec); creates its scratch folder."""
        scratch = workdir / SCRATCH_DIR
        scratch.mkdir(exist_ok=True)
        inputs = workdir / INPUT_DIR
        return {
            "level": self.level,
            "workdir": str(workdir),
            "scratch": str(scratch),
            "readonly": [str(inputs)] if inputs.is_dir() else [],
            "hidden": list(self.hidden),
            "keep": sorted({*self.keep, *_link_targets(inputs)}),
            "rlimits": rlimits(limits),
            "devices": list(self.devices),
        }


def rlimits(limits: Limits) -> dict[str, Any]:
    """Hard kernel limits behind the runner's sampled ones (which give the clearer message first)."""
    address = None
    if limits.memory_mb is not None:
        address = limits.memory_mb + _ADDRESS_HEADROOM_MB + 128 * limits.threads
    return {"nproc": limits.max_processes, "fsize_mb": limits.file_mb, "as_mb": address}


GPU_DEVICE_PATTERNS = ("nvidia*", "nvidia-caps", "dri")
"""What CUDA opens: /dev/nvidia0.., nvidiactl, nvidia-uvm(-tools), nvidia-modeset, the MIG
capabilities folder; and /dev/dri, the render nodes other GPU stacks use."""


def gpu_device_paths(dev: Path = Path("/dev")) -> tuple[str, ...]:
    """The GPU device files this machine has (none here: nothing to allow)."""
    found = {str(path) for pattern in GPU_DEVICE_PATTERNS for path in dev.glob(pattern)}
    return tuple(sorted(found))


def device_paths(device: str, dev: Path = Path("/dev")) -> tuple[str, ...]:
    """What a run on `device` ("cuda" or "cpu") lets its scripts open beyond the harmless devices."""
    return gpu_device_paths(dev) if device == DEVICE_CUDA else ()


def interpreter_paths() -> tuple[str, ...]:
    """Where this Python and its libraries live: kept readable even inside a hidden home."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    paths |= {p for p in sys.path if p and os.path.isabs(p)}
    return tuple(sorted(os.path.realpath(p) for p in paths if os.path.exists(p)))


def _link_targets(folder: Path) -> set[str]:
    """What the links of an attempt's ./input point to: the run's data and the task's folder."""
    if not folder.is_dir():
        return set()
    return {os.path.realpath(entry) for entry in folder.iterdir() if entry.is_symlink() and entry.exists()}
