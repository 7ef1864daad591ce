"""The device a run grants reaches its scripts: in their environment, and through the sandbox's rules.

On cuda the sandbox lets scripts open the GPU's device files and CUDA's variables pass through; on
the CPU neither the device files nor any GPU are visible. This machine has no GPU, so the rules are
tested as computed values, and the plumbing for real with a stand-in device (/dev/ptmx, which the
sandbox otherwise withholds).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlestar.contract import ENV_DEVICE
from mlestar.execution import LocalExecutor, confine, landlock
from mlestar.execution.base import Limits
from mlestar.execution.env import is_secret, script_environment
from mlestar.execution.sandbox import Sandbox, device_paths, gpu_device_paths, probe_machine
from mlestar.search.harness import device_environment
from tests.executor_support import run

_WRITE, _IOCTL = 2, 1 << 15


@pytest.fixture
def fake_dev(tmp_path: Path) -> Path:
    """A /dev as a GPU machine has it, with things no script should get."""
    dev = tmp_path / "dev"
    dev.mkdir()
    for name in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "null", "sda", "kvm"):
        (dev / name).touch()
    (dev / "nvidia-caps").mkdir()
    (dev / "dri").mkdir()
    return dev


def test_cuda_grants_the_gpu_device_files_and_cpu_none(fake_dev: Path) -> None:
    granted = {Path(p).name for p in device_paths("cuda", fake_dev)}
    assert granted == {
        "nvidia0",
        "nvidia1",
        "nvidiactl",
        "nvidia-uvm",
        "nvidia-uvm-tools",
        "nvidia-caps",
        "dri",
    }
    assert device_paths("cpu", fake_dev) == ()
    assert gpu_device_paths(fake_dev / "missing") == ()


def test_the_confinement_spec_carries_the_devices_only_for_cuda(tmp_path: Path) -> None:
    work = tmp_path / "attempt"
    work.mkdir()
    cuda = Sandbox.for_level("landlock", devices=("/dev/nvidia0", "/dev/nvidiactl"))
    assert cuda.spec(work, Limits())["devices"] == ["/dev/nvidia0", "/dev/nvidiactl"]
    assert cuda.hiding(str(tmp_path / "home")).devices == cuda.devices  # a hidden HOME keeps them
    assert Sandbox.for_level("landlock").spec(work, Limits())["devices"] == []


def test_landlock_rules_let_scripts_read_write_and_ioctl_the_gpu_files() -> None:
    with_gpu = dict(landlock.rules([], [], "/work/a", ["/dev/nvidia0", "/dev/nvidia-uvm"], version=7))
    for path in ("/dev/nvidia0", "/dev/nvidia-uvm"):
        rights = with_gpu[path]
        assert rights & _WRITE and rights & _IOCTL and rights & 4  # write, ioctl, read
    assert not with_gpu["/dev/null"] & _IOCTL  # the harmless devices get no ioctl
    cpu = dict(landlock.rules([], [], "/work/a", [], version=7))
    assert not [p for p in cpu if "nvidia" in p]
    old_kernel = dict(landlock.rules([], [], "/work/a", ["/dev/nvidia0"], version=3))
    assert (
        old_kernel["/dev/nvidia0"] & _WRITE and not old_kernel["/dev/nvidia0"] & _IOCTL
    )  # no such right yet


def test_a_namespace_binds_the_gpu_files_into_its_minimal_dev() -> None:
    cpu = confine.device_paths({"devices": []})
    assert "/dev/null" in cpu and not [p for p in cpu if "nvidia" in p]
    cuda = confine.device_paths({"devices": ["/dev/nvidia0", "/dev/dri"]})
    assert {"/dev/nvidia0", "/dev/dri", "/dev/null"} <= set(cuda)
    sneaky = confine.device_paths({"devices": ["/etc/passwd", "/dev/../etc", "/dev"]})
    assert sneaky == cpu  # only entries under /dev are ever bound


def test_scripts_are_told_their_device_and_cpu_runs_see_no_gpu() -> None:
    base = {
        "CUDA_VISIBLE_DEVICES": "1",
        "NVIDIA_VISIBLE_DEVICES": "all",
        "NVIDIA_DRIVER_CAPABILITIES": "compute,utility",
        "CUDA_HOME": "/usr/local/cuda",
        "CUDA_DEVICE_ORDER": "PCI_BUS_ID",
    }
    assert not [name for name, value in base.items() if is_secret(name, value)]
    cuda = script_environment(base, Limits(env=device_environment("cuda")), "mark")
    assert (
        cuda[ENV_DEVICE] == "cuda" and cuda["CUDA_VISIBLE_DEVICES"] == "1"
    )  # the run's choice passes through
    assert cuda["NVIDIA_DRIVER_CAPABILITIES"] == "compute,utility" and cuda["CUDA_HOME"] == "/usr/local/cuda"
    cpu = script_environment(base, Limits(env=device_environment("cpu")), "mark")
    assert cpu[ENV_DEVICE] == "cpu" and cpu["CUDA_VISIBLE_DEVICES"] == ""  # no GPU grabbed by a CPU run


CONFINED = [p.level for p in probe_machine() if p.holds and p.level in ("namespaces", "landlock")]
STAND_INS = (("/dev/fuse", "/dev/fuse"), ("/dev/net", "/dev/net/tun"))
"""(what the sandbox grants, what the script opens): a device file and a folder of them, as
/dev/nvidia0 and /dev/dri are; both withheld by default, and harmless to open and close."""


def _opens(path: str) -> bool:
    try:
        os.close(os.open(path, os.O_RDWR | os.O_NOCTTY))
        return True
    except OSError:
        return False


@pytest.mark.parametrize("level", CONFINED)
@pytest.mark.parametrize(("granted", "opened"), STAND_INS)
def test_a_granted_device_opens_read_write_and_a_withheld_one_does_not(
    level: str, granted: str, opened: str, tmp_path: Path
) -> None:
    if not _opens(opened):
        pytest.skip(f"this process cannot open {opened} even unconfined")
    code = f"import os\nos.close(os.open({opened!r}, os.O_RDWR | os.O_NOCTTY))\n"
    for devices, ok in (((), False), ((granted,), True)):
        with LocalExecutor(use_forkserver=False, sandbox=Sandbox.for_level(level, devices=devices)) as ex:
            result = run(ex, tmp_path / f"{level}-{ok}", code)
        assert result.ok is ok, (devices, result.stderr_tail)
        if not ok:  # PermissionError under Landlock, FileNotFoundError in a namespace's own /dev
            assert "PermissionError" in result.stderr_tail or "FileNotFoundError" in result.stderr_tail


def test_the_exported_pipeline_trains_on_the_cpu_anywhere() -> None:
    from mlestar.versioning.project_files import ProjectFacts, dvc_yaml

    text = dvc_yaml(ProjectFacts("t", "r", "rmse", 0.1, "ok", 42, True, 1, False, None))
    assert f"{ENV_DEVICE}=cpu" in text and "CUDA_VISIBLE_DEVICES" not in text
