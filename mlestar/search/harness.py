"""Runs and scores attempts. The only place where a script meets the data, the folds and the metric.

Every attempt gets its own folder with an ./input of links into the run's data folder, runs under
the executor's limits, and is scored here from its out-of-fold predictions. The result is appended
to the journal before anything else looks at it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from mlestar import blocks, contract
from mlestar.execution.base import Executor, Limits, RunResult
from mlestar.folds import PredictionError, Predictions, read_predictions, save_predictions
from mlestar.journal import Journal, Node
from mlestar.metrics import Metric
from mlestar.run_layout import RunLayout
from mlestar.task.spec import TaskSpec


@dataclass(frozen=True)
class Attempt:
    """What the search wants run: where it sits in the tree and why."""

    id: str
    parent: str | None
    stage: str
    role: str
    plan: str
    meta: Mapping[str, Any] | None = None
    usage: Mapping[str, Any] | None = None


def _with_usage(attempt: Attempt, usage: Mapping[str, Any] | None) -> Attempt:
    if not usage:
        return attempt
    return Attempt(attempt.id, attempt.parent, attempt.stage, attempt.role, attempt.plan, attempt.meta, usage)


class Harness:
    def __init__(
        self,
        layout: RunLayout,
        spec: TaskSpec,
        executor: Executor,
        journal: Journal,
        metric: Metric,
        seed: int,
        memory_mb: int | None,
        script_hint_s: float | None = None,
    ) -> None:
        """`script_hint_s`: the time one script should aim for (tuning loops stop by it)."""
        self.layout = layout
        self.spec = spec
        self.executor = executor
        self.journal = journal
        self.metric = metric
        self.seed = seed
        self.memory_mb = memory_mb
        self.script_hint_s = script_hint_s
        self.y = np.load(layout.data / contract.TARGET_FILE)
        self.folds = np.load(layout.folds)
        self.folds_full = np.load(layout.folds_full)
        self.n_test = _parquet_rows(layout.data / contract.TEST_FILE)
        self._cache: dict[str, Predictions] = {}
        self._lock = threading.Lock()

    # -- scoring -------------------------------------------------------------------------------
    def score(self, oof: np.ndarray, folds: np.ndarray | None = None) -> float:
        used = (self.folds if folds is None else folds) >= 0
        return float(self.metric.score(self.y[used], oof[used]))

    def better(self, a: float | None, b: float | None) -> bool:
        """Is score a strictly better than b? (None is worst.)"""
        if a is None:
            return False
        if b is None:
            return True
        return a < b if self.spec.lower_is_better else a > b

    def predictions(self, node_id: str) -> Predictions:
        with self._lock:
            if node_id not in self._cache:
                out = self.layout.attempt(node_id) / contract.OUTPUT_DIR
                self._cache[node_id] = read_predictions(out, self.folds, self.n_test, self.spec.n_outputs)
            return self._cache[node_id]

    # -- running -------------------------------------------------------------------------------
    def run(
        self,
        attempt: Attempt,
        script: str,
        timeout_s: float,
        threads: int,
        final: bool = False,
        usage: Mapping[str, Any] | None = None,
    ) -> Node:
        """Run one script and journal it. A failing script is a node with a failed status.

        `usage` is what the engineer spent writing this attempt (tokens, cost), kept on the node.
        """
        started = time.time()
        attempt = _with_usage(attempt, usage)
        script_path, code_path = self._write_script(attempt.id, script)
        workdir = script_path.parent
        try:
            blocks.validate(script)
        except blocks.BlockError as e:
            return self._record(attempt, code_path, "rejected", None, started, error=str(e))
        self._link_inputs(workdir, final)
        limits = Limits(
            timeout_s=max(5.0, timeout_s),
            memory_mb=self.memory_mb,
            threads=threads,
            env=(
                (contract.ENV_TIME_BUDGET, str(int(self._time_hint(timeout_s)))),
                (contract.ENV_SEED, str(self.seed)),
                (contract.ENV_SAVE_MODEL, "1" if final else "0"),
                (contract.ENV_MODE, contract.MODE_HANDOVER if final else contract.MODE_EXPLORE),
            ),
        )
        result = self.executor.run(script_path, workdir, limits)
        folds = self.folds_full if final else self.folds
        return self._judge(attempt, code_path, result, started, folds)

    def _write_script(self, attempt_id: str, script: str) -> tuple[Path, str]:
        """Write the attempt's solution.py; its path, and its path relative to the run folder."""
        workdir = self.layout.attempt(attempt_id)
        workdir.mkdir(parents=True, exist_ok=True)
        script_path = workdir / "solution.py"
        script_path.write_text(script)
        return script_path, str(script_path.relative_to(self.layout.root))

    def _time_hint(self, timeout_s: float) -> float:
        hint = 0.8 * timeout_s
        return min(hint, self.script_hint_s) if self.script_hint_s else hint

    def _judge(
        self, attempt: Attempt, code_path: str, result: RunResult, started: float, folds: np.ndarray
    ) -> Node:
        if not result.ok:
            status = "timeout" if result.timed_out else "failed"
            return self._record(attempt, code_path, status, None, started, result, describe_failure(result))
        out = self.layout.attempt(attempt.id) / contract.OUTPUT_DIR
        try:
            preds = read_predictions(out, folds, self.n_test, self.spec.n_outputs)
            score = self.score(preds.oof, folds)
        except (PredictionError, ValueError) as e:
            return self._record(attempt, code_path, "invalid", None, started, result, str(e))
        if not np.isfinite(score):
            return self._record(
                attempt, code_path, "invalid", None, started, result, "the score is not finite"
            )
        with self._lock:
            self._cache[attempt.id] = preds
        return self._record(attempt, code_path, "ok", score, started, result)

    def record_computed(self, attempt: Attempt, preds: Predictions, score: float, started: float) -> Node:
        """Journal an attempt the harness computed itself (an ensemble of stored predictions)."""
        save_predictions(self.layout.attempt(attempt.id) / contract.OUTPUT_DIR, preds)
        with self._lock:
            self._cache[attempt.id] = preds
        return self._record(attempt, None, "ok", score, started)

    def record_repeat(self, attempt: Attempt, script: str, twin: Node) -> Node:
        """Journal an attempt whose script does what one that already ran on the same folds did:
        the scripts are seeded, so the earlier predictions and score stand and nothing is run again."""
        started = time.time()
        script_path, code_path = self._write_script(attempt.id, script)
        preds = self.predictions(twin.id)
        save_predictions(script_path.parent / contract.OUTPUT_DIR, preds)
        with self._lock:
            self._cache[attempt.id] = preds
        meta = {**(attempt.meta or {}), "same_as": twin.id, "same_as_s": round(twin.duration_s, 3)}
        return self._record(replace(attempt, meta=meta), code_path, "ok", twin.score, started)

    def record_failure(
        self, attempt: Attempt, error: str, started: float, usage: Mapping[str, Any] | None = None
    ) -> Node:
        """Journal an attempt that never ran (the engineer could not produce it)."""
        return self._record(_with_usage(attempt, usage), None, "rejected", None, started, error=error)

    def _record(
        self,
        attempt: Attempt,
        code_path: str | None,
        status: str,
        score: float | None,
        started: float,
        result: RunResult | None = None,
        error: str | None = None,
    ) -> Node:
        node = Node(
            id=attempt.id,
            parent=attempt.parent,
            stage=attempt.stage,
            role=attempt.role,
            plan=attempt.plan,
            code_path=code_path,
            status=status,
            score=score,
            started=started,
            ended=time.time(),
            result=result.to_json() if result else None,
            error=error,
            usage=dict(attempt.usage or {}),
            meta=dict(attempt.meta or {}),
        )
        return self.journal.add(node)

    def _link_inputs(self, workdir: Path, final: bool) -> None:
        """./input holds links into the run's data; the folds link says which folds this run uses."""
        inp = workdir / contract.INPUT_DIR
        inp.mkdir(exist_ok=True)
        data = self.layout.data
        links = {
            contract.TRAIN_FILE: data / contract.TRAIN_FILE,
            contract.TEST_FILE: data / contract.TEST_FILE,
            contract.TARGET_FILE: data / contract.TARGET_FILE,
            contract.TASK_FILE: data / contract.TASK_FILE,
            contract.FOLDS_FILE: self.layout.folds_full if final else self.layout.folds,
            contract.FILES_LINK: self.spec.task_dir,
        }
        for name, target in links.items():
            link = inp / name
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(target.resolve())
        # Outputs of an interrupted earlier try of this attempt must not be mistaken for new ones.
        out = workdir / contract.OUTPUT_DIR
        if out.exists():
            for f in out.iterdir():
                if f.is_file():
                    f.unlink()


def describe_failure(result: RunResult) -> str:
    """One paragraph for the journal and the debug role: what went wrong, with the traceback."""
    if result.timed_out:
        return f"timed out after {result.duration_s:.0f} s"
    head = (
        f"exited with status {result.exit_code}"
        if result.signal is None
        else f"killed by signal {result.signal}"
    )
    if result.exception:
        head += f" ({result.exception})"
    detail = result.traceback or result.stderr_tail[-2000:]
    return f"{head}\n{detail}".strip()


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)
