"""The fork server: a long-lived Python that imports the heavy libraries once and forks one child per script.

A fresh interpreter that imports pandas, scikit-learn, LightGBM and XGBoost spends seconds before its
first useful line; a fork of one that already has them costs milliseconds. This file is a program,
started by forkclient.py as `python forkserver.py MODULE... [--when-idle MODULE...]`, and uses the
standard library only. Modules after --when-idle are imported once the server is ready, one at a
time while no request waits: the first scripts need not wait for them (a script forked before one is
imported imports it itself).

Protocol, one JSON object per line; requests on stdin, replies on stdout:
    <- {"ready": true, "loaded": [...], "failed": {...}}   once, after the imports (not the idle ones)
    -> {"id": 7, "script": "/abs/solution.py", "workdir": "/abs", "env": {...}, "threads": 1,
        "stdout": "/abs/stdout.txt", "stderr": "/abs/stderr.txt", "confine": {...} or null}
    <- {"id": 7, "pid": 1234}                               the child exists
    <- {"id": 7, "error": "..."}                            it could not be forked
    <- {"id": 7, "status": 0, "maxrss_kb": 51234}         it ended (raw wait status)
End of stdin (the client closed or died): the server kills its children's sessions and exits
(without tearing down its modules, as a child exits).

The child becomes what `python script.py` would be: its own session, the script's folder as sys.path[0],
the request's environment wholesale, stdout and stderr on the files (unbuffered, as PYTHONUNBUFFERED
asks), confined as the request's sandbox spec says (confine.py), thread pools capped, fresh random seeds, the script run as __main__, and an interpreter's exit
(non-daemon threads joined, atexit handlers run, SystemExit codes mapped as Python maps them) minus
the teardown of every preloaded module, which would cost more than most scripts' own work.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import importlib.util
import io
import json
import os
import runpy
import selectors
import signal
import sys
import traceback
from typing import Any


class Server:
    """The loop that forks on request and reports how each child ended."""

    def __init__(self, proto_in: int, proto_out: int) -> None:
        self.proto_in, self.proto_out = proto_in, proto_out
        self.live: dict[int, int] = {}
        self.pending = b""
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(proto_in, selectors.EVENT_READ)
        self.selector.register(self.wake_r, selectors.EVENT_READ)

    def send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message) + "\n").encode()
        while data:
            data = data[os.write(self.proto_out, data) :]

    def loop(self, when_idle: list[str] | None = None) -> dict[str, Any] | None:
        """Serve until stdin closes (returns None); in a forked child, return its request. Between
        requests, import the `when_idle` modules one by one."""
        idle = list(when_idle or ())
        while True:
            events = self.selector.select(timeout=0.0 if idle else 1.0)
            if not events and idle:
                _preload([idle.pop(0)])
                if not idle:
                    gc.collect()
                    gc.freeze()
                continue
            for key, _ in events:
                if key.fd == self.wake_r:
                    _drain(self.wake_r)
                    continue
                data = os.read(self.proto_in, 1 << 16)
                if not data:
                    self.shutdown()
                    return None
                for request in self.requests(data):
                    if self.spawn(request):
                        return request
            self.reap()

    def requests(self, data: bytes) -> list[dict[str, Any]]:
        self.pending += data
        *lines, self.pending = self.pending.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]

    def spawn(self, request: dict[str, Any]) -> bool:
        """Fork one child; True in the child, False in the server."""
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError as exc:
            self.send({"id": request["id"], "error": f"fork failed: {exc}"})
            return False
        if pid == 0:
            self.detach()
            return True
        self.live[pid] = request["id"]
        self.send({"id": request["id"], "pid": pid})
        return False

    def reap(self) -> None:
        while self.live:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            request_id = self.live.pop(pid, None)
            if request_id is not None:
                self.send({"id": request_id, "status": status, "maxrss_kb": usage.ru_maxrss})

    def shutdown(self) -> None:
        """Kill every child and say how each ended (the client may still be listening)."""
        for pid in self.live:
            _kill_session(pid)
        for pid, request_id in list(self.live.items()):
            try:
                _, status, usage = os.wait4(pid, 0)
                self.send({"id": request_id, "status": status, "maxrss_kb": usage.ru_maxrss})
            except OSError:  # already reaped, or nobody listens any more
                pass
        self.live.clear()

    def detach(self) -> None:
        """In the child: forget everything that belongs to the server."""
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        self.selector.close()
        for fd in (self.wake_r, self.wake_w, self.proto_in, self.proto_out):
            os.close(fd)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _kill_session(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _take_protocol_fds() -> tuple[int, int]:
    """Move the protocol off fds 0 and 1, so stray prints (import warnings) cannot corrupt it."""
    proto_in = os.dup(0)
    proto_out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    os.close(devnull)
    return proto_in, proto_out


_threadpools: Any = None
"""threadpoolctl's controller, built once in the server: scanning the loaded libraries takes ~25 ms."""


def _preload(modules: list[str]) -> tuple[list[str], dict[str, str]]:
    """Import the modules with the collector paused: its passes over an import's fresh objects find
    no garbage (they live as long as the server) and cost a sixth of the time to ready."""
    global _threadpools
    loaded, failed = [], {}
    paused = gc.isenabled()
    gc.disable()
    try:
        for name in modules:
            try:
                importlib.import_module(name)
                loaded.append(name)
            except Exception as exc:  # a missing optional library must not stop the server
                failed[name] = f"{type(exc).__name__}: {exc}"
    finally:
        if paused:
            gc.enable()
    try:
        _threadpools = importlib.import_module("threadpoolctl").ThreadpoolController()
    except Exception as exc:
        failed["threadpoolctl"] = f"{type(exc).__name__}: {exc}"
    return loaded, failed


# ---- in the child ------------------------------------------------------------------------------


def run_child(request: dict[str, Any]) -> None:
    """Become the script's process, run the script, and exit with its status. Never returns."""
    os.setsid()
    _redirect(request["stdout"], request["stderr"])
    os.chdir(request["workdir"])
    os.environ.clear()
    os.environ.update(request["env"])
    if request.get("confine"):
        _confine_or_exit(request["confine"])
    _limit_threads(int(request["threads"]))
    _reseed()
    script = request["script"]
    sys.argv = [script]
    sys.path.insert(0, os.path.dirname(script))
    _finish(_run_script(script))


_confine: Any = None
"""confine.py, loaded by path at start (an `import confine` in a script must not find it)."""


def _load_confine() -> None:
    global _confine
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "confine.py")
    spec = importlib.util.spec_from_file_location("_mlestar_confine", path)
    if spec is not None and spec.loader is not None:
        _confine = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(_confine)


def _confine_or_exit(spec: dict[str, Any]) -> None:
    """Confine this child (in a namespace it continues as pid 1; its parent only mirrors it)."""
    try:
        if _confine is None:
            raise OSError("confine.py could not be loaded")
        _confine.confine(spec)
    except OSError as exc:
        print(f"mlestar sandbox: could not confine the script ({spec.get('level')}): {exc}", file=sys.stderr)
        sys.stderr.flush()
        os._exit(126)


def _redirect(stdout_path: str, stderr_path: str) -> None:
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    for fd, path in ((1, stdout_path), (2, stderr_path)):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(target, fd)
        os.close(target)
    encoding = sys.stdout.encoding or "utf-8"
    sys.stdout = sys.__stdout__ = _unbuffered(1, encoding, "strict")  # type: ignore[misc]
    sys.stderr = sys.__stderr__ = _unbuffered(2, encoding, "backslashreplace")  # type: ignore[misc]


def _unbuffered(fd: int, encoding: str, errors: str) -> io.TextIOWrapper:
    raw = io.FileIO(fd, "w", closefd=False)
    return io.TextIOWrapper(raw, encoding=encoding, errors=errors, write_through=True)  # type: ignore[type-var]


def _limit_threads(threads: int) -> None:
    """The thread pools were sized when the server imported the libraries; resize them for this run."""
    if _threadpools is None:
        return
    # a library threadpoolctl cannot drive keeps its size; the env variables still apply to it
    with contextlib.suppress(Exception):
        _threadpools.limit(limits=threads)


def _reseed() -> None:
    """Every child would otherwise share the server's numpy random state (random reseeds itself)."""
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()


def _run_script(script: str) -> int:
    """Run the script as __main__; the exit status `python script` would have."""
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        return _exit_status(exc.code)
    except BaseException as exc:
        # Print as Python would, from the script's first frame: the server's and runpy's are noise.
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != script:
            tb = tb.tb_next
        exc.__traceback__ = tb
        sys.excepthook(type(exc), exc, tb)
        return 1
    return 0


def _exit_status(code: object) -> int:
    """What the interpreter makes of SystemExit(code): None is 0, an int is itself, else print it, 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _finish(status: int) -> None:
    """End like an interpreter would (threads joined, atexit run, streams flushed) but without
    tearing down every preloaded module, which takes longer than most scripts' own work."""
    try:
        threading_module = sys.modules.get("threading")
        if threading_module is not None:
            threading_module._shutdown()  # type: ignore[attr-defined]
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(status)


WHEN_IDLE = "--when-idle"
"""Separates the modules imported before the server is ready from those imported while it is idle."""


def main(args: list[str]) -> None:
    cut = args.index(WHEN_IDLE) if WHEN_IDLE in args else len(args)
    modules, when_idle = args[:cut], args[cut + 1 :]
    here = os.path.dirname(os.path.abspath(__file__))
    _load_confine()
    if sys.path and os.path.abspath(sys.path[0] or ".") == here:
        del sys.path[0]  # this folder's modules must not shadow anything the scripts import
    proto_in, proto_out = _take_protocol_fds()
    server = Server(proto_in, proto_out)
    loaded, failed = _preload(modules)
    gc.collect()
    gc.freeze()  # keep the imported objects out of the children's collections: fewer copied pages
    server.send({"ready": True, "loaded": loaded, "failed": failed})
    request = server.loop(when_idle)
    if request is None:
        os._exit(0)  # the client is gone: tearing down every preloaded module would only delay its close
    try:
        run_child(request)  # exits by itself once the script has run
    except BaseException:
        traceback.print_exc()  # the set-up failed (e.g. an unwritable folder): never serve again
    finally:
        os._exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
