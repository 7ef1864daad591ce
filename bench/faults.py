"""Fault injection: faults a long unattended run meets, each injected for real, one table of outcomes.

    make faults                                   # or: python bench/faults.py [--kills 20] [--cases ...]

Cases (each on a tiny task, the built-in engineer unless the case needs a model, --budget 40s):
  kill       kill -9 of mlestar at N journal lines spread over every stage, then `mlestar resume`:
             a valid submission, no finished attempt redone, a consistent journal, nothing left running
  moved      kill -9, the run folder moved elsewhere, then resume from the new place
  disk       the run's volume (a small tmpfs in a private mount namespace) filled up mid-run,
             then room made and the run resumed
  mlflow     the MLflow tracking server killed mid-run: the run still ends valid; the history is
             then re-sent with `mlestar track`
  llm-hang / llm-reset / llm-garbage   the model's server stops answering, resets connections, or
             answers garbage: the built-in engineer takes over, the run ends valid
  secrets    fake keys in the environment; the journal, MLflow store, recordings, status report and
             DVC export (git history included) are scanned for them afterwards
This is not part of the default tests: it takes about half an hour on two cores.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.fault_kit import (  # noqa: E402
    RUN_ARGS,
    environment,
    finish,
    finished_ids,
    journal_lines,
    judge,
    kill_hard,
    last_stage,
    leftover_processes,
    make_task,
    mlestar,
    records,
    start,
    wait_for_final_fit,
    wait_for_line,
)
from bench.fault_secrets import FAKE_SECRETS, scan_for_secrets  # noqa: E402


@dataclass(frozen=True)
class Row:
    case: str
    outcome: str
    detail: str
    ok: bool


# ---- kill -9 and resume --------------------------------------------------------------------------


def reference_lines(work: Path, task: Path) -> int:
    """How long a whole run's journal gets: kill points are drawn below it."""
    run_dir = work / "reference"
    proc = start(
        mlestar("run", str(task), "--out", str(run_dir), "--no-tracking", *RUN_ARGS),
        environment(),
        work / "reference.log",
    )
    if finish(proc) != 0:
        raise SystemExit(f"the reference run failed; see {work / 'reference.log'}")
    return journal_lines(run_dir)


def kill_points(total: int, n: int, seed: int) -> list[int]:
    """n kill points, one drawn in each of n equal slices of the journal (so every stage gets some)."""
    rng = random.Random(seed)
    edges = [1 + round(i * (total - 1) / n) for i in range(n + 1)]  # up to the line before run_finished
    return [rng.randint(edges[i], max(edges[i], edges[i + 1] - 1)) for i in range(n)]


def kill_and_resume(work: Path, task: Path, name: str, line: int, move: bool = False) -> Row:
    """Kill at `line` (0: at the first final fit); a run that finished before the kill landed is
    started again and killed earlier."""
    for earlier in (0, 4, 8, 12):
        row = _kill_and_resume(work, task, name, max(2, line - earlier) if line else 0, move)
        if row is not None:
            return row
        shutil.rmtree(work / name, ignore_errors=True)
    return Row(name, "not run", f"the run finished before every kill near line {line}", False)


def _kill_and_resume(work: Path, task: Path, name: str, line: int, move: bool) -> Row | None:
    run_dir = work / name
    log = work / f"{name}.log"
    proc = start(
        mlestar("run", str(task), "--out", str(run_dir), "--no-tracking", *RUN_ARGS), environment(), log
    )
    reached = wait_for_line(proc, run_dir, line) if line else wait_for_final_fit(proc, run_dir)
    kill_hard(proc)
    if any(r.get("name") == "run_finished" for r in records(run_dir)):
        return None  # it ended before the kill landed: nothing to resume
    stage, before = last_stage(run_dir), finished_ids(run_dir)
    left = _still_running(str(run_dir), 15.0)  # the fork server notices its parent is gone and ends
    if move:
        moved = work / f"{name}-moved" / "elsewhere"
        moved.parent.mkdir()
        shutil.move(str(run_dir), moved)
        run_dir = moved
    code = finish(start(mlestar("resume", str(run_dir), "--no-live"), environment(), log))
    verdict = judge(run_dir, task, before)
    where = f"line {line} ({stage}){'' if reached else ', run ended first'}"
    outcome = f"resume exit {code}, {'valid' if verdict.valid else 'INVALID'}, {verdict.redone} redone"
    detail = f"{where}; {len(before)} done before the kill; left running: {len(left)}"
    if verdict.problems:
        detail += "; " + "; ".join(verdict.problems[:3])
    return Row(name, outcome, detail, code == 0 and verdict.ok and not left)


def _still_running(marker: str, grace_s: float) -> list[int]:
    """What of a killed run is still running once its fork server had `grace_s` to clean up."""
    deadline = time.monotonic() + grace_s
    while (left := leftover_processes(marker)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


# ---- a full disk ---------------------------------------------------------------------------------


def disk_full(work: Path, task: Path) -> Row:
    """Re-run this file inside a private mount namespace where the run's folder is a small tmpfs."""
    result = work / "disk.json"
    unshare = ["unshare", "--mount", "--propagation", "private"]
    if not _is_root():
        unshare[1:1] = ["--user", "--map-root-user"]
    command = [*unshare, sys.executable, __file__, "--inner-disk-full", str(work), str(task), str(result)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if not result.exists():
        return Row("disk", "not run", (done.stderr or done.stdout)[-300:].strip(), False)
    data = json.loads(result.read_text())
    return Row("disk", data["outcome"], data["detail"], data["ok"])


def _is_root() -> bool:
    import os

    return os.geteuid() == 0


def inner_disk_full(work: Path, task: Path, result: Path) -> None:
    volume = work / "volume"
    volume.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(volume)], check=True)
    run_dir, log = volume / "run", work / "disk.log"
    proc = start(
        mlestar("run", str(task), "--out", str(run_dir), "--no-tracking", *RUN_ARGS), environment(), log
    )
    wait_for_line(proc, run_dir, 12)
    ballast = volume / "ballast"
    subprocess.run(["dd", "if=/dev/zero", f"of={ballast}", "bs=1M"], capture_output=True)
    first = finish(proc)
    stage, before = last_stage(run_dir), finished_ids(run_dir)
    tail = [line for line in log.read_text(errors="replace").splitlines() if line.strip()][-1:]
    ballast.unlink()
    code = finish(start(mlestar("resume", str(run_dir), "--no-live"), environment(), log))
    verdict = judge(run_dir, task, before)
    outcome = f"full at {stage}: run exit {first}; resume exit {code}, {'valid' if verdict.valid else 'INVALID'}, {verdict.redone} redone"
    detail = f"48 MB tmpfs; last words: {tail[0][:120] if tail else '-'}"
    if verdict.problems:
        detail += "; " + "; ".join(verdict.problems[:3])
    ok = code == 0 and verdict.ok
    result.write_text(json.dumps({"outcome": outcome, "detail": detail, "ok": ok}))


# ---- MLflow server gone --------------------------------------------------------------------------


def mlflow_gone(work: Path, task: Path) -> Row:
    port = _free_port()
    store = work / "mlflow-server"
    store.mkdir()
    env = environment(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    bin_dir = Path(sys.executable).parent
    env["PATH"] = f"{bin_dir}:{env.get('PATH', '')}"
    server = subprocess.Popen(
        [str(bin_dir / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{store}/mlflow.db", "--artifacts-destination", str(store / "art")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        if not _wait_port(port, 60.0):
            return Row("mlflow", "not run", "the MLflow server did not start", False)
        run_dir, log = work / "mlflow-run", work / "mlflow.log"
        uri = f"http://127.0.0.1:{port}"
        proc = start(
            mlestar("run", str(task), "--out", str(run_dir), "--tracking-uri", uri, *RUN_ARGS),
            environment(),
            log,
        )
        wait_for_line(proc, run_dir, 15)
        _stop_group(server)
        code = finish(proc)
    finally:
        _stop_group(server)
    verdict = judge(run_dir, task)
    resent = subprocess.run(
        mlestar("track", str(run_dir), "--tracking-uri", f"sqlite:///{work}/after.db"),
        env=environment(), capture_output=True, text=True, timeout=600, cwd=str(work),
    )  # fmt: skip
    outcome = (
        f"run exit {code}, {'valid' if verdict.valid else 'INVALID'}; re-sent later: exit {resent.returncode}"
    )
    notes = [line for line in log.read_text(errors="replace").splitlines() if "track" in line.lower()]
    return Row(
        "mlflow",
        outcome,
        (notes[-1][:150] if notes else "no tracking note"),
        code == 0 and verdict.ok and resent.returncode == 0,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_port(port: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.3)
    return False


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    import os
    import signal

    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# ---- the model's server misbehaving --------------------------------------------------------------


CHECK_REPLY = json.dumps(
    {
        "id": "check",
        "object": "chat.completion",
        "model": "faulty",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "OK"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 1, "total_tokens": 21},
    }
).encode()
"""The faulty servers answer the run's start-up check (the model list, one ping), so the fault
strikes mid-run."""


def models_listing(model: str) -> bytes:
    return json.dumps({"object": "list", "data": [{"id": model, "object": "model"}]}).encode()


class ResettingServer:
    """Accepts each connection on 127.0.0.1 and resets it at once (RST, no answer), but the first:
    that one is the run's start-up check, answered so that the resets strike mid-run."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.resets = 0
        self.answered = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        import struct

        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            if self.answered < 2:  # the start-up check: the model list, then one ping
                self._answer(conn)
                continue
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
            self.resets += 1

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(10.0)
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            0,
        )
        while len(body) < length:
            body += conn.recv(65536)
        reply = models_listing("faulty") if head.startswith(b"GET") else CHECK_REPLY
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(reply)}\r\n\r\n".encode()
            + reply
        )
        conn.close()
        self.answered += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def llm_fault(work: Path, task: Path, kind: str) -> Row:
    from tests.llm_server import Canned, LLMServer

    replies: dict[str, Callable[[object], Canned]] = {
        "hang": _after_the_check(lambda seen: Canned(body={"choices": []}, delay_s=20.0)),
        "garbage": _after_the_check(lambda seen: Canned(200, "<html>}{ this is not json")),
    }
    run_dir, log = work / f"llm-{kind}", work / f"llm-{kind}.log"
    server: LLMServer | ResettingServer
    if kind == "reset":
        server = ResettingServer()
        base = f"http://127.0.0.1:{server.port}/v1"
    else:
        server = LLMServer(replies[kind]).__enter__()
        server.gets = {"/v1/models": Canned(body=json.loads(models_listing("faulty")))}
        base = server.base_url
    env = environment(OPENAI_API_KEY="sk-fault-FAKE-0123", OPENAI_BASE_URL=base, MLESTAR_LLM_TIMEOUT="2")
    try:
        args = ("run", str(task), "--out", str(run_dir), "--llm", "openai:faulty", "--no-tracking", *RUN_ARGS)
        code = finish(start(mlestar(*args), env, log))
    finally:
        server.close() if isinstance(server, ResettingServer) else server.__exit__(None, None, None)
    verdict = judge(run_dir, task)
    failed = _failed_model_calls(run_dir)
    seen = server.resets if isinstance(server, ResettingServer) else len(server.requests)
    outcome = f"run exit {code}, {'valid' if verdict.valid else 'INVALID'}"
    detail = f"{seen} requests reached the model's server; {failed} calls failed, each answered by the built-in engineer"
    return Row(f"llm-{kind}", outcome, detail, code == 0 and verdict.ok and failed > 0)


def _after_the_check(fault: Callable[[object], Any]) -> Callable[[object], Any]:
    """The start-up check gets its answer; every later request meets the fault."""
    from tests.llm_server import Canned

    def reply(seen: object) -> Canned:
        if "Your role: check." in str(getattr(seen, "text", "")):
            return Canned(200, json.loads(CHECK_REPLY))
        return fault(seen)

    return reply


def _failed_model_calls(run_dir: Path) -> int:
    """Calls the run recorded as failed (each then answered by the built-in engineer)."""
    path = run_dir / "llm" / "calls.jsonl"
    if not path.exists():
        return 0
    return sum(1 for line in path.read_text().splitlines() if line.strip() and json.loads(line).get("error"))


# ---- secrets -------------------------------------------------------------------------------------


def secrets(work: Path, task: Path) -> Row:
    from tests.llm_server import Canned, LLMServer

    run_dir, log = work / "secrets-run", work / "secrets.log"
    with LLMServer(_after_the_check(lambda seen: Canned(400, {"error": {"message": "no"}}))) as server:
        server.gets = {"/v1/models": Canned(body=json.loads(models_listing("gpt-4o-mini")))}
        env = environment(OPENAI_BASE_URL=server.base_url, **FAKE_SECRETS)
        args = ("run", str(task), "--out", str(run_dir), "--llm", "openai:gpt-4o-mini", *RUN_ARGS)
        code = finish(start(mlestar(*args), env, log))
    status = subprocess.run(
        mlestar("status", str(run_dir)), env=env, capture_output=True, text=True, timeout=120
    )
    export = work / "secrets-export"
    exported = subprocess.run(
        mlestar("export", str(run_dir), str(export)), env=env, capture_output=True, text=True, timeout=900
    )
    (work / "secrets-status.txt").write_text(
        status.stdout + status.stderr + exported.stdout + exported.stderr
    )
    hits, scanned = scan_for_secrets([run_dir, export, work / "secrets-status.txt", log])
    outcome = f"run exit {code}, export exit {exported.returncode}: {len(hits)} secrets found"
    detail = f"{scanned} files scanned (journal, mlflow.db, artifacts, llm/, status, export + git history)"
    if hits:
        detail += "; " + "; ".join(hits[:3])
    return Row("secrets", outcome, detail, code == 0 and exported.returncode == 0 and not hits)


# ---- the table -----------------------------------------------------------------------------------


def print_table(rows: list[Row]) -> None:
    print("\n| case | outcome | detail | ok |\n|---|---|---|---|")
    for row in rows:
        print(f"| {row.case} | {row.outcome} | {row.detail} | {'yes' if row.ok else 'NO'} |")
    kills = [r for r in rows if r.case.startswith("kill-")]
    if kills:
        print(f"\nkill -9 then resume: {sum(r.ok for r in kills)}/{len(kills)} valid with 0 attempts redone")
    print(f"all cases: {sum(r.ok for r in rows)}/{len(rows)} as expected")


CASES = ("kill", "kill-submit", "moved", "disk", "mlflow", "llm-hang", "llm-reset", "llm-garbage", "secrets")


def main(argv: list[str]) -> int:
    if argv[:1] == ["--inner-disk-full"]:
        inner_disk_full(Path(argv[1]), Path(argv[2]), Path(argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated among {', '.join(CASES)}")
    parser.add_argument(
        "--keep", type=Path, help="work in this folder and keep it (default: a temporary one)"
    )
    args = parser.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="mlestar-faults-"))
    work.mkdir(parents=True, exist_ok=True)
    task = make_task(work / "task")
    rows = run_cases(work, task, args.cases.split(","), args.kills, args.seed)
    print_table(rows)
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r.ok for r in rows) else 1


def run_cases(work: Path, task: Path, cases: list[str], kills: int, seed: int) -> list[Row]:
    rows: list[Row] = []

    def add(row: Row) -> None:
        rows.append(row)
        print(f"{row.case:14} {'ok ' if row.ok else 'NO '} {row.outcome} | {row.detail}", flush=True)

    if "kill" in cases or "moved" in cases:
        total = reference_lines(work, task)
        print(f"reference run: {total} journal lines", flush=True)
        if "kill" in cases:
            for i, line in enumerate(kill_points(total, kills, seed)):
                add(kill_and_resume(work, task, f"kill-{i + 1:02d}", line))
        if "moved" in cases:
            add(kill_and_resume(work, task, "moved", total // 2, move=True))
    if "kill-submit" in cases:  # at the first final fit: the hand-over stage itself
        add(kill_and_resume(work, task, "kill-submit", 0))
    steps = {"disk": disk_full, "mlflow": mlflow_gone, "secrets": secrets}
    for case in cases:
        if case in steps:
            add(steps[case](work, task))
        elif case.startswith("llm-"):
            add(llm_fault(work, task, case.removeprefix("llm-")))
    return rows


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
