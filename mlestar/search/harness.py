"""Runs and scores attempts. The only place where a script meets the data, the folds and the metric.

Every attempt gets its own folder with an ./input of links into the run's data folder, runs under
the executor's limits, and is scored here from its out-of-fold predictions. The result is appended
to the journal before anything else looks at it.
"""

from __future__ import annotations

import hashlib
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
from mlestar.journal import SAME_PREDICTIONS, Journal, Node, Stage, Status
from mlestar.journal.events import AttemptStarted
from mlestar.journal.nodes import RAN
from mlestar.metrics import Metric, Score
from mlestar.run_layout import RunLayout
from mlestar.search import feature_cache, validation
from mlestar.search.freeze import frozen_by_first_run
from mlestar.search.saved_models import MODEL_SAVED, keep_best, link_model, model_path
from mlestar.splits import fitted_rows, load_repeats
from mlestar.task.spec import TaskSpec


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """What the search wants run: where it sits in the tree and why."""

    id: str
    parent: str | None = None
    stage: Stage
    role: str
    plan: str
    meta: Mapping[str, Any] | None = None
    usage: Mapping[str, Any] | None = None
    split: str = "search"
    """Which folds it runs on: "search" (with the repeats on small data) or "screen"."""
    time_box: float | None = None
    """Seconds it may take at most (screening); None: what the budget allows."""


def device_environment(device: str) -> tuple[tuple[str, str], ...]:
    """What tells a script its device. On the CPU no GPU is visible either, so a script that asks for
    one anyway fails at once instead of taking a GPU the run did not grant; on cuda the
    CUDA_VISIBLE_DEVICES the run was started with passes through."""
    if device == contract.DEVICE_CUDA:
        return ((contract.ENV_DEVICE, contract.DEVICE_CUDA),)
    return ((contract.ENV_DEVICE, contract.DEVICE_CPU), ("CUDA_VISIBLE_DEVICES", ""))


def _with_usage(attempt: Attempt, usage: Mapping[str, Any] | None) -> Attempt:
    return replace(attempt, usage=usage) if usage else attempt


@dataclass(frozen=True)
class _Split:
    """One fold assignment an attempt runs on: the file linked as ./input/folds.npy, its values."""

    path: Path
    folds: np.ndarray


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
        device: str = contract.DEVICE_CPU,
        save_models: bool = True,
    ) -> None:
        """`script_hint_s`: the time one script should aim for (tuning loops stop by it); `device`:
        "cuda" lets scripts see the GPUs, "cpu" hides them; `save_models`: a search attempt that
        runs once on every row saves its model, for the hand-over to reuse instead of refitting."""
        self.layout = layout
        self.spec = spec
        self.executor = executor
        self.journal = journal
        self.metric = metric
        self.seed = seed
        self.memory_mb = memory_mb
        self.script_hint_s = script_hint_s
        self.device = device
        self.save_models = save_models
        self.y = np.load(layout.data / contract.TARGET_FILE)
        self.folds = np.load(layout.folds)
        self.folds_full = np.load(layout.folds_full)
        screen = layout.folds_screen
        self.folds_screen = np.load(screen) if screen.exists() else None
        self.repeats = load_repeats(layout)
        self.n_test = _parquet_rows(layout.data / contract.TEST_FILE)
        self._cache: dict[str, Predictions] = {}
        self._lock = threading.Lock()

    # -- scoring -------------------------------------------------------------------------------
    def score(self, oof: np.ndarray, folds: np.ndarray | None = None) -> float:
        used = (self.folds if folds is None else folds) >= 0
        return float(self.metric.score(self.y[used], oof[used]))

    def interval(self, oof: np.ndarray, folds: np.ndarray | None = None) -> list[float] | None:
        used = (self.folds if folds is None else folds) >= 0
        bounds = validation.interval(
            self.metric.score, self.y[used], oof[used], self.seed, resampled=self.metric.resample_scores
        )
        return None if bounds is None else [round(b, 6) for b in bounds]

    def splits(self, split: str, final: bool = False) -> list[_Split]:
        """The fold assignments an attempt runs on, the scored one first."""
        if final:
            return [_Split(self.layout.folds_full, self.folds_full)]
        if split == "screen" and self.folds_screen is not None:
            return [_Split(self.layout.folds_screen, self.folds_screen)]
        repeats = [_Split(self.layout.folds_repeat(r), f) for r, f in enumerate(self.repeats, start=1)]
        return [_Split(self.layout.folds, self.folds), *repeats]

    def screen_cost_ratio(self) -> float:
        """How much more fitting an attempt on the search's splits does than one on the screening
        split: rows each fold model is fitted on, summed over folds and splits."""
        screen = sum(fitted_rows(s.folds) for s in self.splits("screen"))
        return sum(fitted_rows(s.folds) for s in self.splits("search")) / max(screen, 1)

    def split_key(self, split: str) -> str:
        """Equal for two splits only when their folds are: a script's result on one stands for the other."""
        digest = hashlib.sha1()
        for s in self.splits(split):
            digest.update(np.ascontiguousarray(s.folds).tobytes())
        return digest.hexdigest()

    def score_of(self, node: Node) -> Score:
        """A node's score with the metric's direction, for comparing it with others."""
        return Score(node.score, self.spec.lower_is_better)

    def script_of(self, node: Node) -> str:
        """An attempt's script as later steps read it: with what its search found frozen in."""
        assert node.code_path is not None, f"{node.id} has no script"
        return (self.layout.root / node.code_path).read_text()

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
        self.journal.record(AttemptStarted(node=attempt.id, timeout_s=round(timeout_s, 1)))
        attempt = _with_usage(attempt, usage)
        script_path, code_path = self._write_script(attempt.id, script)
        try:
            blocks.validate(script)
        except blocks.BlockError as e:
            return self._record(attempt, code_path, Status.REJECTED, None, started, error=str(e))
        splits = self.splits(attempt.split, final)
        save = final or (self.save_models and self.on_handover_rows(splits))
        runs: list[tuple[Predictions, float]] = []
        result: RunResult | None = None
        ran: list[list[float]] = []
        for r, split in enumerate(splits):
            workdir = script_path.parent if r == 0 else self.layout.repeat(attempt.id, r)
            path = script_path if r == 0 else self._repeat_script(script, script_path, workdir)
            left = timeout_s - (time.time() - started)
            one = self._execute(path, workdir, split.path, left, threads, len(splits), final, save)
            ended = time.time()
            ran.append([round(ended - min(one.duration_s, ended - started), 3), round(ended, 3)])
            attempt = replace(attempt, meta={**(attempt.meta or {}), RAN: ran})
            result = result or one
            judged = self._judge(workdir, one, split.folds)
            if isinstance(judged[0], Status):  # a failure on any split fails the attempt
                status, error = judged  # (scores of different splits must compare)
                where = f"on split {r + 1} of {len(splits)}: " if r else ""
                return self._record(attempt, code_path, status, None, started, one, where + error)
            runs.append(judged)
        assert result is not None
        saved = save and not final and model_path(self.layout, attempt.id).exists()
        if saved:
            attempt = replace(attempt, meta={**(attempt.meta or {}), MODEL_SAVED: True})
        node = self._scored(attempt, code_path, started, result, runs, splits[0].folds)
        if saved:
            with self._lock:  # bounded disk: only the best few saved models are kept
                keep_best(self.layout, list(self.journal.nodes.values()), self.score_of)
        return node

    def on_handover_rows(self, splits: list[_Split]) -> bool:
        """Does an attempt on these splits fit what the hand-over's final fit would: one run on
        every row, in the final folds? Then the model it saves is the final model."""
        return len(splits) == 1 and bool(np.array_equal(splits[0].folds, self.folds_full))

    def _execute(
        self,
        script: Path,
        workdir: Path,
        folds: Path,
        left_s: float,
        threads: int,
        n_splits: int,
        final: bool,
        save_model: bool,
    ) -> RunResult:
        workdir.mkdir(parents=True, exist_ok=True)
        self._link_inputs(workdir, folds)
        limits = Limits(
            timeout_s=max(5.0, left_s),
            memory_mb=self.memory_mb,
            threads=threads,
            env=(
                (contract.ENV_TIME_BUDGET, str(int(self._time_hint(left_s, n_splits)))),
                (contract.ENV_SEED, str(self.seed)),
                (contract.ENV_SAVE_MODEL, "1" if save_model else "0"),
                (contract.ENV_MODE, contract.MODE_HANDOVER if final else contract.MODE_EXPLORE),
                *device_environment(self.device),
            ),
        )
        result = self.executor.run(script, workdir, limits)
        feature_cache.share(workdir / contract.CACHE_DIR, self.layout.cache)
        return result

    def _repeat_script(self, script: str, first: Path, workdir: Path) -> Path:
        """What a further split runs: the script with its first run's findings frozen in
        (freeze.py), so the machine's speed cannot change what the repeats score."""
        frozen = frozen_by_first_run(script, first.parent / contract.OUTPUT_DIR)
        if frozen == script:
            return first
        workdir.mkdir(parents=True, exist_ok=True)
        path = workdir / first.name
        path.write_text(frozen)
        return path

    def _write_script(self, attempt_id: str, script: str) -> tuple[Path, str]:
        """Write the attempt's solution.py; its path, and its path relative to the run folder."""
        workdir = self.layout.attempt(attempt_id)
        workdir.mkdir(parents=True, exist_ok=True)
        script_path = workdir / "solution.py"
        script_path.write_text(script)
        return script_path, str(script_path.relative_to(self.layout.root))

    def _time_hint(self, timeout_s: float, n_splits: int = 1) -> float:
        """What one run should aim for: an attempt on several splits shares one script's time."""
        hint = 0.8 * max(timeout_s, 5.0)
        return min(hint, self.script_hint_s / n_splits) if self.script_hint_s else hint

    def _judge(
        self, workdir: Path, result: RunResult, folds: np.ndarray
    ) -> tuple[Predictions, float] | tuple[Status, str]:
        """A run's predictions and score, or its failure as (status, error)."""
        if not result.ok:
            return (Status.TIMEOUT if result.timed_out else Status.FAILED), describe_failure(result)
        try:
            preds = read_predictions(workdir / contract.OUTPUT_DIR, folds, self.n_test, self.spec.n_outputs)
            score = self.score(preds.oof, folds)
        except (PredictionError, ValueError) as e:
            return Status.INVALID, str(e)
        if not np.isfinite(score):
            return Status.INVALID, "the score is not finite"
        return preds, score

    def _scored(
        self,
        attempt: Attempt,
        code_path: str,
        started: float,
        result: RunResult,
        runs: list[tuple[Predictions, float]],
        folds: np.ndarray,
    ) -> Node:
        """Journal a working attempt: its runs combined, scored, with an interval. A single run's
        score is the one its judging computed (a metric over millions of rows takes a while)."""
        preds = validation.combine([p for p, _ in runs])
        score = runs[0][1] if len(runs) == 1 else self.score(preds.oof, folds)
        meta = {**(attempt.meta or {}), "interval": self.interval(preds.oof, folds)}
        twin = self._same_predictions(attempt, preds, score)
        if twin is not None:
            meta[SAME_PREDICTIONS] = twin
        if len(runs) > 1:
            meta["repeats"] = len(runs)
            meta["repeat_scores"] = [round(self.score(p.oof, folds), 6) for p, _ in runs]
            save_predictions(self.layout.attempt(attempt.id) / contract.OUTPUT_DIR, preds)
        with self._lock:
            self._cache[attempt.id] = preds
        return self._record(replace(attempt, meta=meta), code_path, Status.OK, score, started, result)

    def _same_predictions(self, attempt: Attempt, preds: Predictions, score: float) -> str | None:
        """An earlier script whose predictions these are, value for value: the change reached
        nothing the model sees (more tuning trials that settled on the same settings, an option no
        member reads). Only scripts of equal score on the same folds are compared."""
        if attempt.stage == Stage.FINAL:
            return None
        for node in list(self.journal.nodes.values()):  # attempts of a batch add nodes from their threads
            same_run = node.score == score and node.code_path and node.stage != Stage.FINAL
            if not same_run or node.repeat_of or node.meta.get("split", "search") != attempt.split:
                continue
            try:
                earlier = self.predictions(node.id)
            except (PredictionError, OSError):  # its outputs are gone or were made for other folds
                continue
            if np.array_equal(earlier.oof, preds.oof) and np.array_equal(earlier.test, preds.test):
                return node.id
        return None

    def record_computed(self, attempt: Attempt, preds: Predictions, score: float, started: float) -> Node:
        """Journal an attempt the harness computed itself (an ensemble of stored predictions)."""
        save_predictions(self.layout.attempt(attempt.id) / contract.OUTPUT_DIR, preds)
        with self._lock:
            self._cache[attempt.id] = preds
        meta = {**(attempt.meta or {}), "interval": self.interval(preds.oof)}
        return self._record(replace(attempt, meta=meta), None, Status.OK, score, started)

    def record_repeat(self, attempt: Attempt, script: str, twin: Node) -> Node:
        """Journal an attempt whose script does what one that already ran on the same folds did:
        the scripts are seeded, so the earlier predictions and score stand and nothing is run again."""
        started = time.time()
        script_path, code_path = self._write_script(attempt.id, script)
        preds = self.predictions(twin.id)
        save_predictions(script_path.parent / contract.OUTPUT_DIR, preds)
        with self._lock:
            self._cache[attempt.id] = preds
        meta: dict[str, Any] = dict(attempt.meta or {})
        meta.update({k: twin.meta[k] for k in ("interval", "repeats", "repeat_scores") if k in twin.meta})
        if twin.meta.get(MODEL_SAVED) and link_model(self.layout, twin.id, attempt.id):
            meta[MODEL_SAVED] = True
        meta.update(same_as=twin.id, same_as_s=round(twin.duration_s, 3))
        return self._record(replace(attempt, meta=meta), code_path, Status.OK, twin.score, started)

    def record_failure(
        self, attempt: Attempt, error: str, started: float, usage: Mapping[str, Any] | None = None
    ) -> Node:
        """Journal an attempt that never ran (the engineer could not produce it)."""
        return self._record(_with_usage(attempt, usage), None, Status.REJECTED, None, started, error=error)

    def _record(
        self,
        attempt: Attempt,
        code_path: str | None,
        status: Status,
        score: float | None,
        started: float,
        result: RunResult | None = None,
        error: str | None = None,
    ) -> Node:
        meta = dict(attempt.meta or {})
        if attempt.split != "search":
            meta["split"] = attempt.split
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
            meta=meta,
        )
        return self.journal.add(node)

    def _link_inputs(self, workdir: Path, folds: Path) -> None:
        """./input holds links into the run's data; the folds link says which folds this run uses."""
        inp = workdir / contract.INPUT_DIR
        inp.mkdir(exist_ok=True)
        data = self.layout.data
        links = {
            contract.TRAIN_FILE: data / contract.TRAIN_FILE,
            contract.TEST_FILE: data / contract.TEST_FILE,
            contract.TARGET_FILE: data / contract.TARGET_FILE,
            contract.TASK_FILE: data / contract.TASK_FILE,
            contract.FOLDS_FILE: folds,
            contract.FILES_LINK: self.spec.task_dir,
            contract.CACHE_LINK: self.layout.cache,
        }
        self.layout.cache.mkdir(exist_ok=True)
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
