"""Hardware detected once at the edge, and the device a run's scripts are told about (--device)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mlestar.cli import build_parser, config_from_args, main
from mlestar.config import config_from_json, config_to_json
from mlestar.contract import ENV_DEVICE
from mlestar.engineers.base import Candidate, TaskContext
from mlestar.errors import ConfigError
from mlestar.execution import LocalExecutor
from mlestar.execution.base import Limits, RunResult
from mlestar.hardware import Gpu, Hardware, detect_hardware, parse_smi, resolve_device, visible
from mlestar.journal import Journal
from tests.scripted_engineer import ScriptedEngineer
from tests.search_support import LIGHT, regression_task
from tests.search_support import config as search_config
from tests.task_factory import make_task

SMI = """\
GPU 0: NVIDIA A10 (UUID: GPU-aaaa1111-0000)
GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-bbbb2222-0000)
  MIG 1g.5gb      Device  0: (UUID: MIG-cccc3333)
"""
A10, A100 = Gpu(0, "NVIDIA A10", "GPU-aaaa1111-0000"), Gpu(1, "NVIDIA A100-SXM4-40GB", "GPU-bbbb2222-0000")


def _smi(stdout: str, code: int = 0) -> Any:
    def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        assert args == ["nvidia-smi", "-L"]
        return subprocess.CompletedProcess(args, code, stdout, "")

    return run


def _no_smi(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    raise FileNotFoundError("nvidia-smi")


def _machine(tmp_path: Path, cpu_max: str | None = None, memory_max: str | None = None) -> tuple[Path, Path]:
    """A fake /proc (16 GB) and cgroup folder."""
    proc, cgroup = tmp_path / "proc", tmp_path / "cgroup"
    proc.mkdir(parents=True)
    cgroup.mkdir(parents=True)
    (proc / "meminfo").write_text("MemTotal:       16777216 kB\nMemFree:         1000 kB\n")
    if cpu_max:
        (cgroup / "cpu.max").write_text(cpu_max + "\n")
    if memory_max:
        (cgroup / "memory.max").write_text(memory_max + "\n")
    return proc, cgroup


def test_nvidia_smi_lines_become_gpus_and_mig_lines_are_skipped() -> None:
    assert parse_smi(SMI) == (A10, A100)
    assert parse_smi("No devices were found\n") == ()


def test_cuda_visible_devices_is_honoured_like_cuda_does() -> None:
    both = (A10, A100)
    assert visible(both, None) == both
    assert visible(both, "") == () and visible(both, "-1") == ()
    assert visible(both, "1") == (A100,)
    assert visible(both, "1,0") == (A100, A10)
    assert visible(both, "GPU-bbbb") == (A100,)  # a UUID prefix names a GPU too
    assert visible(both, "0,7,1") == (A10,)  # CUDA stops at the first entry that names no GPU


def test_gpus_come_from_nvidia_smi_filtered_by_the_environment(tmp_path: Path) -> None:
    proc, cgroup = _machine(tmp_path)
    found = detect_hardware({"CUDA_VISIBLE_DEVICES": "1"}, _smi(SMI), proc, cgroup)
    assert found.gpus == (A100,)
    assert detect_hardware({}, _smi(SMI), proc, cgroup).gpus == (A10, A100)
    assert detect_hardware({}, _smi("", code=9), proc, cgroup).gpus == ()


def test_without_nvidia_smi_the_driver_folder_lists_the_gpus(tmp_path: Path) -> None:
    proc, cgroup = _machine(tmp_path)
    for minor, bus, model in ((1, "0000:00:1f.0", "Tesla T4"), (0, "0000:00:1e.0", "NVIDIA L4")):
        folder = proc / "driver" / "nvidia" / "gpus" / bus
        folder.mkdir(parents=True)
        (folder / "information").write_text(
            f"Model: \t\t {model}\nIRQ:   \t\t 42\nGPU UUID: \t GPU-{minor}{minor}\nDevice Minor: \t {minor}\n"
        )
    found = detect_hardware({}, _no_smi, proc, cgroup)
    assert found.gpus == (Gpu(0, "NVIDIA L4", "GPU-00"), Gpu(1, "Tesla T4", "GPU-11"))
    assert detect_hardware({"CUDA_VISIBLE_DEVICES": ""}, _no_smi, proc, cgroup).gpus == ()


def test_no_driver_no_gpu(tmp_path: Path) -> None:
    proc, cgroup = _machine(tmp_path)
    assert detect_hardware({}, _no_smi, proc, cgroup).gpus == ()


def test_cores_and_memory_follow_the_cgroup_limits(tmp_path: Path) -> None:
    proc, cgroup = _machine(tmp_path, cpu_max="50000 100000", memory_max=str(2 << 30))
    limited = detect_hardware({}, _no_smi, proc, cgroup)
    assert limited.cores == 1 and limited.memory_mb == 2048
    proc2, cgroup2 = _machine(tmp_path / "free", cpu_max="max 100000", memory_max="max")
    free = detect_hardware({}, _no_smi, proc2, cgroup2)
    assert free.cores >= 1 and free.memory_mb == 16384


def test_this_machine_is_described() -> None:
    found = detect_hardware({"CUDA_VISIBLE_DEVICES": ""})
    assert found.cores >= 1 and found.gpus == ()
    assert found.memory_mb is None or found.memory_mb > 0
    assert "no GPU" in found.describe()


def test_the_device_is_resolved_against_the_hardware() -> None:
    gpu, plain = Hardware(4, 8192, (A10,)), Hardware(2, 4096)
    assert resolve_device("auto", gpu) == "cuda" and resolve_device("auto", plain) == "cpu"
    assert resolve_device("cpu", gpu) == "cpu" and resolve_device("cuda", gpu) == "cuda"
    with pytest.raises(ConfigError, match="expected a GPU for --device cuda, found none"):
        resolve_device("cuda", plain)
    with pytest.raises(ConfigError, match="expected --device to be one of auto, cpu, cuda"):
        resolve_device("tpu", plain)


def test_describe_names_cores_memory_and_gpus() -> None:
    assert Hardware(2, 24576).describe() == "2 CPU cores, 24 GB memory, no GPU"
    assert Hardware(1, None, (A10, A100)).describe() == (
        "1 CPU core, 2 GPUs (NVIDIA A10, NVIDIA A100-SXM4-40GB)"
    )


def test_the_device_flag_is_kept_in_the_config_so_a_resume_reads_it(tmp_path: Path) -> None:
    task = make_task(tmp_path, kind="regression")
    args = build_parser().parse_args(["run", str(task), "--device", "cpu", "--out", str(tmp_path / "r")])
    config = config_from_args(args, {})
    assert config.device == "cpu"
    assert config_from_json(config_to_json(config)).device == "cpu"
    default = build_parser().parse_args(["run", str(task)])
    assert config_from_args(default, {}).device == "auto"
    old = {k: v for k, v in config_to_json(config).items() if k != "device"}  # a run folder from before
    assert config_from_json(old).device == "auto"


def test_device_cuda_without_a_gpu_exits_2_before_any_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # whatever this machine has, the run may use none
    task = make_task(tmp_path, kind="regression")
    out = tmp_path / "run"
    assert main(["run", str(task), "--device", "cuda", "--out", str(out), "--no-live"]) == 2
    err = capsys.readouterr().err
    assert "expected a GPU for --device cuda, found none" in err and "Traceback" not in err
    assert not out.exists()


# ---- a tiny run: the device reaches the scripts' environment and the engineer's context ----------


class _Recording(LocalExecutor):
    """Runs scripts as usual and keeps the extra environment the harness gave each one."""

    envs: list[dict[str, str]] = []

    def run(self, script: Path, workdir: Path, limits: Limits) -> RunResult:
        type(self).envs.append(dict(limits.env))
        return super().run(script, workdir, limits)


class _Noting(ScriptedEngineer):
    seen: list[tuple[str, Hardware]] = []

    def draft(self, ctx: TaskContext, candidate: Candidate) -> str:
        type(self).seen.append((ctx.device, ctx.hardware))
        return super().draft(ctx, candidate)


@pytest.mark.parametrize(
    ("hardware", "device"), [(Hardware(2, 4096), "cpu"), (Hardware(2, 4096, (A10,)), "cuda")]
)
def test_a_run_tells_its_scripts_and_its_engineer_the_device(
    hardware: Hardware, device: str, tmp_path: Path
) -> None:
    from mlestar.app import start_run

    _Recording.envs, _Noting.seen = [], []
    cfg = search_config(regression_task(tmp_path / "task"), tmp_path / "run", max_nodes=2)
    start_run(cfg, engineer=_Noting(), hardware=hardware, executor=_Recording(preload=LIGHT))
    assert _Recording.envs and all(env[ENV_DEVICE] == device for env in _Recording.envs)
    hidden = [env.get("CUDA_VISIBLE_DEVICES") for env in _Recording.envs]
    assert hidden == ([""] * len(hidden) if device == "cpu" else [None] * len(hidden))
    assert _Noting.seen and all(seen == (device, hardware) for seen in _Noting.seen)
    event = next(e for e in Journal(cfg.run_dir).events if e["name"] == "hardware")
    assert event["device"] == device and len(event["gpus"]) == len(hardware.gpus)
    assert (
        json.loads((cfg.run_dir / "config.json").read_text())["device"] == "auto"
    )  # the choice, not the answer


def test_inspect_shows_the_hardware(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    task = make_task(tmp_path, kind="regression")
    assert main(["inspect", str(task), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)["hardware"]
    assert found["cores"] >= 1 and isinstance(found["gpus"], list)
    assert main(["inspect", str(task)]) == 0
    assert "\nhardware: " in capsys.readouterr().out
