"""What the machine offers a run: CPU cores, memory and GPUs. Detected once, at the CLI edge.

The CLI calls detect_hardware() with the environment it read (CUDA_VISIBLE_DEVICES decides which GPUs
a run may use) and resolve_device() with the `--device` flag; everything below receives the frozen
Hardware and the resolved device ("cuda" or "cpu"). GPUs are listed by `nvidia-smi -L` when it
answers, else from the driver's /proc/driver/nvidia/gpus; a machine with neither has none.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlestar.contract import DEVICE_CPU, DEVICE_CUDA
from mlestar.errors import ConfigError

DEVICE_CHOICES = ("auto", DEVICE_CPU, DEVICE_CUDA)
"""What `--device` accepts: auto takes the GPU when one is seen."""

_SMI_LINE = re.compile(r"^GPU (\d+): (.+?) \(UUID: ([^)]+)\)\s*$")
_SMI_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Gpu:
    index: int
    """Its number as CUDA_VISIBLE_DEVICES names it."""
    name: str
    uuid: str = ""


@dataclass(frozen=True)
class Hardware:
    """What a run may use. The default is a plain one-core machine (tests, callers without a CLI)."""

    cores: int = 1
    memory_mb: int | None = None
    gpus: tuple[Gpu, ...] = ()

    def describe(self) -> str:
        """'2 CPU cores, 24 GB memory, no GPU' or '8 CPU cores, 1 GPU (NVIDIA A10)'."""
        parts = [f"{self.cores} CPU core{'s' if self.cores != 1 else ''}"]
        if self.memory_mb:
            parts.append(f"{self.memory_mb / 1024:.0f} GB memory")
        if not self.gpus:
            parts.append("no GPU")
        else:
            names = ", ".join(sorted({g.name for g in self.gpus}))
            parts.append(f"{len(self.gpus)} GPU{'s' if len(self.gpus) > 1 else ''} ({names})")
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "cores": self.cores,
            "memory_mb": self.memory_mb,
            "gpus": [{"index": g.index, "name": g.name, "uuid": g.uuid} for g in self.gpus],
        }


def resolve_device(choice: str, hardware: Hardware) -> str:
    """The device scripts get for `--device CHOICE` on this hardware: "cuda" or "cpu"."""
    if choice not in DEVICE_CHOICES:
        raise ConfigError(f"expected --device to be one of {', '.join(DEVICE_CHOICES)}, found {choice!r}")
    if choice == DEVICE_CUDA and not hardware.gpus:
        raise ConfigError(
            "expected a GPU for --device cuda, found none (nvidia-smi lists none, or CUDA_VISIBLE_DEVICES "
            "hides them all); use --device auto or --device cpu"
        )
    if choice == "auto":
        return DEVICE_CUDA if hardware.gpus else DEVICE_CPU
    return choice


def detect_hardware(
    environ: Mapping[str, str],
    run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
    proc: Path = Path("/proc"),
    cgroup: Path = Path("/sys/fs/cgroup"),
) -> Hardware:
    """This machine's cores, memory and the GPUs CUDA_VISIBLE_DEVICES leaves visible."""
    gpus = _smi_gpus(run) or _proc_gpus(proc / "driver" / "nvidia" / "gpus")
    return Hardware(
        usable_cores(cgroup), _memory_mb(proc, cgroup), visible(gpus, environ.get("CUDA_VISIBLE_DEVICES"))
    )


def visible(gpus: tuple[Gpu, ...], mask: str | None) -> tuple[Gpu, ...]:
    """The GPUs CUDA_VISIBLE_DEVICES lets a process use, in its order. Like CUDA: unset shows all,
    empty shows none, and the list ends at the first entry that names no GPU."""
    if mask is None:
        return gpus
    shown: list[Gpu] = []
    for token in (t.strip() for t in mask.split(",")):
        match = [
            g
            for g in gpus
            if (token.isdigit() and g.index == int(token)) or (token and g.uuid.startswith(token))
        ]
        if not match or match[0] in shown:
            break
        shown.append(match[0])
    return tuple(shown)


def parse_smi(text: str) -> tuple[Gpu, ...]:
    """`nvidia-smi -L` lines such as 'GPU 0: NVIDIA A10 (UUID: GPU-5d...)'; MIG lines are skipped."""
    found = (_SMI_LINE.match(line.strip()) for line in text.splitlines())
    return tuple(Gpu(int(m.group(1)), m.group(2).strip(), m.group(3).strip()) for m in found if m)


def _smi_gpus(run: Callable[..., subprocess.CompletedProcess[str]]) -> tuple[Gpu, ...]:
    try:
        done = run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=_SMI_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return ()
    return parse_smi(done.stdout) if done.returncode == 0 else ()


def _proc_gpus(folder: Path) -> tuple[Gpu, ...]:
    """The driver's own list, one folder per GPU with an 'information' file (Model, Device Minor, GPU UUID)."""
    gpus: list[Gpu] = []
    for info in sorted(folder.glob("*/information")) if folder.is_dir() else []:
        fields = dict(_field(line) for line in info.read_text(errors="replace").splitlines() if ":" in line)
        minor = fields.get("Device Minor", "")
        gpus.append(
            Gpu(
                int(minor) if minor.isdigit() else len(gpus),
                fields.get("Model", "GPU"),
                fields.get("GPU UUID", ""),
            )
        )
    return tuple(sorted(gpus, key=lambda g: g.index))


def _field(line: str) -> tuple[str, str]:
    key, _, value = line.partition(":")
    return key.strip(), value.strip()


def usable_cores(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The CPUs this process may run on, fewer when a cgroup quota allows less (a container's --cpus)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = _read(cgroup / "cpu.max").split()  # cgroup v2: "max 100000" or "200000 100000"
    if len(quota) == 2 and quota[0].isdigit() and quota[1].isdigit():
        return max(1, min(cores, math.ceil(int(quota[0]) / int(quota[1]))))
    v1, period = _read(cgroup / "cpu" / "cpu.cfs_quota_us"), _read(cgroup / "cpu" / "cpu.cfs_period_us")
    if v1.isdigit() and period.isdigit() and int(period) > 0:
        return max(1, min(cores, math.ceil(int(v1) / int(period))))
    return max(1, cores)


def _memory_mb(proc: Path, cgroup: Path) -> int | None:
    """The machine's memory, less when a cgroup limit allows less (a container's --memory)."""
    total = None
    for line in _read(proc / "meminfo").splitlines():
        if line.startswith("MemTotal:"):
            total = int(line.split()[1]) // 1024
    for limit in (_read(cgroup / "memory.max"), _read(cgroup / "memory" / "memory.limit_in_bytes")):
        if limit.isdigit():
            limit_mb = int(limit) >> 20
            total = limit_mb if total is None else min(total, limit_mb)
    return total


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""
