"""Landlock, the kernel's unprivileged access control, for confine.py. Standard library only.

A ruleset lists what the process may still do; everything of the handled kinds not listed is denied,
for the process and everything it starts, and can never be undone. Here: read everywhere but the
hidden folders (the interpreter's paths inside them excepted), write beneath the attempt folder and
/dev/shm, use the harmless devices (and the GPU's when the spec lists them), no TCP connect or bind
(ABI 4+), no signals or abstract unix sockets outside the sandbox (ABI 6+).
"""

from __future__ import annotations

import ctypes
import os
import stat
from collections.abc import Sequence

_libc = ctypes.CDLL(None, use_errno=True)
_CREATE, _ADD_RULE, _RESTRICT = 444, 445, 446
"""The same syscall numbers on every architecture."""
_READ = 1 | 4 | 8  # execute, read file, read dir
_FILE_RIGHTS = 1 | 2 | 4 | (1 << 14) | (1 << 15)  # execute, write, read, truncate, ioctl on devices
_DEVICE_RIGHTS = _READ | 2 | (1 << 15)  # read, write, ioctl: what a GPU driver's files take
_NET_TCP = 1 | 2  # bind, connect
_SCOPES = 1 | 2  # abstract unix sockets, signals
_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
PR_SET_NO_NEW_PRIVS = 38


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


def _check(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")
    return result


def abi() -> int:
    """The Landlock ABI version this kernel offers; 0 when it has none."""
    return max(0, int(_libc.syscall(_CREATE, None, 0, 1)))  # LANDLOCK_CREATE_RULESET_VERSION


def _fs_rights(version: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: execute .. make_sym
    if version >= 2:
        rights |= 1 << 13  # refer
    if version >= 3:
        rights |= 1 << 14  # truncate
    if version >= 5:
        rights |= 1 << 15  # ioctl on devices
    return rights


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def readable_roots(hidden: list[str]) -> list[str]:
    """Folders and files whose union is everything but the hidden folders."""
    roots: list[str] = []

    def visit(path: str) -> None:
        if any(_under(h, path) for h in hidden):
            if path in hidden:
                return
            try:
                names = os.listdir(path)
            except OSError:
                return
            for name in names:
                visit(os.path.join(path, name))
        elif not os.path.islink(path):  # a link is followed when granted: it could lead into a hidden folder
            roots.append(path)

    visit("/")
    return roots


def _allow(ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= _FILE_RIGHTS
        rule = _PathBeneath(rights, fd)
        _check(_libc.syscall(_ADD_RULE, ruleset, 1, ctypes.byref(rule), 0), f"landlock rule {path}")
    finally:
        os.close(fd)


def rules(
    hidden: list[str], keep: list[str], workdir: str, devices: list[str], version: int
) -> list[tuple[str, int]]:
    """(path, rights granted beneath it) of an attempt's ruleset, for a kernel at ABI `version`."""
    rights = _fs_rights(version)
    granted = [(root, _READ) for root in readable_roots(hidden) + keep]
    # /dev/shm: POSIX semaphores (multiprocessing, joblib) live there
    granted += [(workdir, rights), ("/dev/shm", rights)]
    granted += [(f"/dev/{name}", _READ | 2) for name in _DEVICES]
    granted += [(path, _DEVICE_RIGHTS & rights) for path in devices]  # ioctl is a right from ABI 5 on
    return granted


def ruleset(hidden: list[str], keep: list[str], workdir: str, devices: Sequence[str] = ()) -> int:
    """A ruleset's fd for an attempt in `workdir` (the caller closes it)."""
    version = abi()
    if version < 1:
        raise OSError(38, "expected Landlock in this kernel, found none")
    rights = _fs_rights(version)
    attr = (ctypes.c_uint64 * 3)(rights, _NET_TCP if version >= 4 else 0, _SCOPES if version >= 6 else 0)
    size = 8 if version < 4 else (16 if version < 6 else 24)
    fd = _check(_libc.syscall(_CREATE, ctypes.byref(attr), size, 0), "landlock_create_ruleset")
    try:
        for path, granted in rules(hidden, keep, workdir, list(devices), version):
            _allow(fd, path, granted)
    except BaseException:
        os.close(fd)
        raise
    return fd


def restrict(ruleset_fd: int) -> None:
    """Apply the ruleset to this process for good (no new privileges first, as Landlock requires)."""
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    _check(_libc.syscall(_RESTRICT, ruleset_fd, 0), "landlock_restrict_self")
