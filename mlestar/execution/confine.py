"""Confining one script, in the process that is about to become it. Standard library only.

The fork server imports this file by path (it must not import mlestar), the plain runner runs it as
a launcher (`python confine.py SPEC_JSON PYTHON SCRIPT` confines itself, then execs the script), and
sandbox.py runs it as a probe (`python confine.py --probe DIR`) to learn what this machine allows.

A spec is a JSON object (built by sandbox.py):
    level      "namespaces", "landlock", "limits" or "off"
    workdir    the attempt folder: the only place the script may write
    readonly   folders inside workdir that stay read-only (its ./input)
    scratch    a folder inside workdir for temporary files (TMPDIR, HOME, and /dev/shm in a namespace)
    hidden     folders the script must not see (homes: keys live there)
    keep       paths inside hidden folders that the script still needs (the venv, the run's data)
    rlimits    {"nproc": N, "fsize_mb": N, "as_mb": N or null}
    cgroup_procs  the cgroup.procs file of the run's pids cgroup, if it has one (cgroup.py)
    devices    device files or folders under /dev the script may open too (the GPU's; usually none)

"namespaces": own user, mount, pid, network, IPC and UTS namespaces. The process forks once: the
parent stays outside the pid namespace and ends as its child ends (killing it kills everything in
the namespace); the child is pid 1 of the namespace and becomes the script, with every mount
read-only but the attempt folder, a minimal /dev, no network device up, no capability left.
"landlock": the kernel's Landlock LSM (landlock.py): writes only beneath the attempt folder, reads
everywhere but the hidden folders, no TCP connect or bind (ABI 4+), nothing signalled outside (ABI 6+).
"limits": resource limits only. Every level but "off" sets the resource limits.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import json
import os
import resource
import signal
import socket
import stat
import sys
from typing import Any

LEVELS = ("namespaces", "landlock", "limits", "off")
"""Strongest first."""

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_REC = 32, 1024, 2048, 4096, 16384
MS_PRIVATE, MS_RELATIME, MS_STRICTATIME = 1 << 18, 1 << 21, 1 << 24
_MOUNT_OPTION_FLAGS = {
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": MS_NOATIME,
    "nodiratime": MS_NODIRATIME,
    "relatime": MS_RELATIME,
}
"""Flags a read-only remount must repeat: a user namespace may not clear those it inherited."""
PR_SET_PDEATHSIG, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 24, 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")

_libc = ctypes.CDLL(None, use_errno=True)
_HERE = os.path.dirname(os.path.abspath(__file__))


class ConfineError(OSError):
    """The sandbox could not be set up as asked."""


def _check(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise ConfineError(errno, f"{what}: {os.strerror(errno)}")
    return result


# ---- resource limits -----------------------------------------------------------------------------


def _set_limit(kind: int, value: int) -> None:
    soft, hard = resource.getrlimit(kind)
    value = value if hard == resource.RLIM_INFINITY else min(value, hard)
    resource.setrlimit(kind, (value, value))


def apply_rlimits(rlimits: dict[str, Any], nproc_base: int | None = 0) -> None:
    """File size, processes (beyond `nproc_base` already counted for this user; None: unknown, not
    set), address space, no cores."""
    _set_limit(resource.RLIMIT_CORE, 0)
    if rlimits.get("fsize_mb"):
        _set_limit(resource.RLIMIT_FSIZE, int(rlimits["fsize_mb"]) << 20)
    if rlimits.get("nproc") and nproc_base is not None:
        _set_limit(resource.RLIMIT_NPROC, nproc_base + int(rlimits["nproc"]))
    mapped = _address_space_kb()
    if rlimits.get("as_mb") and mapped is not None:
        _set_limit(resource.RLIMIT_AS, mapped * 1024 + (int(rlimits["as_mb"]) << 20))


def _address_space_kb() -> int | None:
    """This process's virtual size now (a forked server already maps its preloaded libraries)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _user_tasks(uid: int) -> int | None:
    """Processes and threads of `uid` on this machine (RLIMIT_NPROC counts them all, outside a user
    namespace); None when they cannot be counted. Root is never held to RLIMIT_NPROC: 0."""
    if uid == 0:
        return 0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    count = 0
    for entry in entries:
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                continue
    return count


# ---- capabilities and privileges ---------------------------------------------------------------


def drop_privileges() -> None:
    """No capability now or after any exec, and no way to gain one (setuid binaries included)."""
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    try:
        with open("/proc/sys/kernel/cap_last_cap") as handle:
            last = int(handle.read())
    except OSError:
        last = 40
    for cap in range(last + 1):
        _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # fails harmlessly without CAP_SETPCAP
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable: all empty
    _check(_libc.capset(header, data), "capset")


# ---- mounts --------------------------------------------------------------------------------------


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    args = [None if x is None else x.encode() for x in (source, target, fstype, data)]
    _check(_libc.mount(args[0], args[1], args[2], flags, args[3]), f"mount {target}")


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes."""
    return field.encode().decode("unicode_escape").encode("latin-1").decode("utf-8", "replace")


def read_mounts() -> list[tuple[str, set[str]]]:
    """(mount point, per-mount options) of every mount, in mountinfo order (parents first)."""
    mounts = []
    with open("/proc/self/mountinfo") as info:
        for line in info:
            fields = line.split()
            mounts.append((_unescape(fields[4]), set(fields[5].split(","))))
    return mounts


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _remount_readonly(point: str, options: set[str]) -> None:
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY
    for name, flag in _MOUNT_OPTION_FLAGS.items():
        if name in options:
            flags |= flag
    _mount(None, point, None, flags)


def _make_target(path: str, like_dir: bool) -> None:
    if like_dir:
        os.makedirs(path, exist_ok=True)
    elif not os.path.lexists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "w").close()


def _bind(source: str, target: str, recursive: bool = True) -> None:
    _mount(source, target, None, MS_BIND | (MS_REC if recursive else 0))


def _hide(hidden: list[str], keep: list[str]) -> None:
    """An empty read-only tmpfs over each hidden folder, with the kept paths bound back into it."""
    fds = {path: os.open(path, os.O_PATH) for path in keep if os.path.exists(path)}
    try:
        for folder in hidden:
            if not os.path.isdir(folder):
                continue
            _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=755")
            for path, fd in fds.items():
                if _under(path, folder) and path != folder:
                    _make_target(path, stat.S_ISDIR(os.fstat(fd).st_mode))
                    _bind(f"/proc/self/fd/{fd}", path)
            _mount(None, folder, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    finally:
        for fd in fds.values():
            os.close(fd)


def device_paths(spec: dict[str, Any]) -> list[str]:
    """The /dev entries a confined script sees: the harmless devices, and the spec's own (a GPU's)."""
    extra = [p for p in spec.get("devices", []) if _under(p, "/dev") and p != "/dev" and ".." not in p]
    return sorted({*(f"/dev/{name}" for name in _DEVICES), *extra})


def _minimal_dev(scratch: str, devices: list[str]) -> None:
    """A fresh /dev with the harmless devices (no disks) and the spec's own, and a shm that is the
    scratch folder."""
    fds = {path: os.open(path, os.O_PATH) for path in devices if os.path.exists(path)}
    _mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=755")
    for path, fd in fds.items():
        folder = stat.S_ISDIR(os.fstat(fd).st_mode)
        _make_target(path, like_dir=folder)
        _bind(f"/proc/self/fd/{fd}", path, recursive=folder)
        os.close(fd)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):  # fmt: skip
        os.symlink(target, f"/dev/{name}")
    os.mkdir("/dev/shm")
    _bind(scratch, "/dev/shm", recursive=False)  # named by path: nothing is mounted over it yet


def set_up_mounts(spec: dict[str, Any]) -> None:
    """In a fresh mount namespace: everything read-only but the attempt folder and its scratch."""
    workdir, scratch = spec["workdir"], spec["scratch"]
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _hide(spec.get("hidden", []), spec.get("keep", []) + [workdir])
    _bind(workdir, workdir)
    for folder in spec.get("readonly", []):
        _bind(folder, folder)
    _minimal_dev(scratch, device_paths(spec))
    writable = {workdir, "/dev/shm"}
    for point, options in read_mounts():
        if point in writable or "ro" in options:
            continue
        # a mount now hidden under another cannot be remounted; the check below decides
        with contextlib.suppress(ConfineError):
            _remount_readonly(point, options)
    _check_readonly(writable)


def _check_readonly(writable: set[str]) -> None:
    """Every mount that can be reached is read-only, but the writable ones."""
    top: dict[str, set[str]] = {}
    for point, options in read_mounts():
        top[point] = options  # a later mount on the same point covers the earlier one
    left = [p for p, options in top.items() if "rw" in options and p not in writable and os.path.exists(p)]
    if left:
        raise ConfineError(1, f"expected every mount read-only, found writable: {', '.join(left[:5])}")


# ---- namespaces ----------------------------------------------------------------------------------


def _write(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def _enter_namespaces() -> None:
    uid, gid = os.geteuid(), os.getegid()
    flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    _check(_libc.unshare(flags), "unshare")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1")  # the same identity inside: files keep their owner
    _write("/proc/self/gid_map", f"{gid} {gid} 1")


def _mirror(pid: int) -> None:
    """In the parent outside the pid namespace: wait for pid 1 and end as it ended. Never returns."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, lambda signum, frame: os.kill(pid, signal.SIGKILL))
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except ChildProcessError:
            os._exit(1)
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
        os._exit(128 + number)
    os._exit(os.waitstatus_to_exitcode(status))


def _become_pid_one(spec: dict[str, Any]) -> None:
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
    # a proc of our own shows our processes only; a container may refuse it (the old one stays, read-only)
    with contextlib.suppress(ConfineError):
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY)
    _libc.sethostname(b"sandbox", 7)


def _close_directory_fds() -> None:
    """An inherited folder fd would let openat() walk from outside the new mounts."""
    for entry in os.listdir("/proc/self/fd"):
        fd = int(entry)
        if fd > 2:
            try:
                if stat.S_ISDIR(os.fstat(fd).st_mode):
                    os.close(fd)
            except OSError:
                continue


def confine_namespaces(spec: dict[str, Any]) -> None:
    """Enter new namespaces and mounts, fork; only pid 1 of the new namespace returns."""
    _enter_namespaces()
    set_up_mounts(spec)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        _mirror(pid)
    _become_pid_one(spec)
    apply_rlimits(spec.get("rlimits", {}))
    _close_directory_fds()
    drop_privileges()
    os.chdir(spec["workdir"])  # through the new writable mount, not the old read-only one
    os.environ.update(TMPDIR=spec["scratch"], HOME=spec["scratch"])


# ---- landlock (landlock.py) ---------------------------------------------------------------------


def _sibling(name: str) -> Any:
    """A module beside this file, loaded by path: this file runs as a program and in the fork
    server, where `mlestar` is not importable."""
    spec = importlib.util.spec_from_file_location(f"_mlestar_{name}", os.path.join(_HERE, f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def confine_landlock(spec: dict[str, Any]) -> None:
    """Restrict this process (and all it starts) with Landlock: write only in the attempt folder."""
    landlock = _sibling("landlock")
    ruleset = landlock.ruleset(
        spec.get("hidden", []), spec.get("keep", []), spec["workdir"], spec.get("devices", [])
    )
    try:
        apply_rlimits(spec.get("rlimits", {}), _user_tasks(os.getuid()))
        landlock.restrict(ruleset)
    finally:
        os.close(ruleset)
    os.environ.update(TMPDIR=spec["scratch"], HOME=spec["scratch"])


# ---- entry points --------------------------------------------------------------------------------


def confine(spec: dict[str, Any]) -> None:
    """Apply the spec's level to this process (single-threaded: forked or fresh)."""
    level = spec["level"]
    if level == "off":
        return
    if spec.get("cgroup_procs"):  # join the run's pids cgroup first: every later process stays in it
        with contextlib.suppress(OSError):
            _write(spec["cgroup_procs"], str(os.getpid()))
    os.makedirs(spec["scratch"], exist_ok=True)
    if level == "namespaces":
        confine_namespaces(spec)
    elif level == "landlock":
        confine_landlock(spec)
    elif level == "limits":
        apply_rlimits(spec.get("rlimits", {}), _user_tasks(os.getuid()))
        os.environ.update(TMPDIR=spec["scratch"])
    else:
        raise ConfineError(22, f"expected a sandbox level among {LEVELS}, found {level!r}")


def probe(level: str, folder: str) -> dict[str, Any]:
    """Confine this process at `level` in `folder`, then test what a script would be allowed."""
    inside, outside = os.path.join(folder, "work"), os.path.join(folder, "outside")
    os.makedirs(inside, exist_ok=True)
    os.makedirs(outside, exist_ok=True)
    marker = os.path.join(outside, "marker")
    _write(marker, "hidden")
    spec = {"level": level, "workdir": inside, "scratch": os.path.join(inside, ".tmp"),
            "readonly": [], "hidden": [outside], "keep": [], "rlimits": {"nproc": 64}}  # fmt: skip
    confine(spec)
    return {
        "level": level,
        "writes_inside": _can(lambda: _write(os.path.join(inside, "probe"), "x")),
        "writes_outside": _can(lambda: _write(os.path.join(folder, "probe"), "x")),
        "reads_hidden": _can(lambda: open(marker).read()),
        "network": _can(_connect_somewhere),
        "own_pids": os.getpid() == 1,
    }


def _can(action: Any) -> bool:
    try:
        action()
        return True
    except OSError:
        return False


def _connect_somewhere() -> None:
    """A TCP listener on loopback, then a connection to it: refused, unreachable or denied in a sandbox."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=1.0):
            pass


def main(argv: list[str]) -> int:
    if argv[:1] == ["--probe"]:
        try:
            report = probe(argv[1], argv[2])
        except OSError as exc:
            report = {"level": argv[1], "error": str(exc)}
        print(json.dumps(report), flush=True)
        return 0
    spec, command = json.loads(argv[0]), argv[1:]
    try:
        confine(spec)
    except OSError as exc:
        print(f"mlestar sandbox: could not confine the script ({spec['level']}): {exc}", file=sys.stderr)
        return 126
    os.execv(command[0], command)
    return 127  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
