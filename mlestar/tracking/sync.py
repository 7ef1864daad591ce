"""`mlestar track RUN_DIR`: re-send a run's whole history from its journal, without duplicates.

Nodes already complete under the run's parent MLflow run (same mlestar.run_id) are skipped;
half-sent ones are finished; everything else is sent in journal order.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mlestar.errors import RunFolderError
from mlestar.journal import Journal
from mlestar.run_layout import RunLayout
from mlestar.tracking.backend import display_uri, is_transient, resolve_uri, short_error
from mlestar.tracking.records import normalize, run_key
from mlestar.tracking.report import SyncReport, Unlogged
from mlestar.tracking.scrub import Scrubber, secret_values
from mlestar.tracking.sink import Item, label
from mlestar.tracking.writer import StoreWriter

RETRY_DELAYS_S = (0.5, 1.0, 2.0)


def sync_run(
    run_dir: Path,
    tracking_uri: str | None = None,
    *,
    experiment: str | None = None,
    model_name: str | None = None,
    secrets: Iterable[str] | None = None,
) -> SyncReport:
    """Send the run's journal to the store (None: the run folder's own store); report the outcome.

    secrets: values never to write anywhere; None reads the environment's key-looking variables.
    """
    records = _records(run_dir)
    first_kind, first = records[0]
    uri = resolve_uri(tracking_uri, run_dir)
    writer = StoreWriter(
        None,
        uri,
        run_dir,
        experiment or _task_name(run_dir, records),
        run_key(first_kind, first),
        Scrubber(secret_values(os.environ) if secrets is None else secrets),
        model_name,
    )
    first_time = first.get("time") if first_kind == "event" else first.get("started")
    failed: list[Unlogged] = []
    try:
        _retry(lambda: writer.open(first_time, live=False))
    except Exception as exc:
        failed = [Unlogged("run", f"could not open the run in the store: {short_error(exc)}")]
        failed += [Unlogged(label(*r), "not sent: the store could not be reached") for r in records]
        return _report(writer, failed)
    failed = _send_all(writer, records)
    if not any(u.reason.startswith("not sent") for u in failed):
        try:
            _retry(writer.finish)
        except Exception as exc:
            failed.append(Unlogged(label("finish", {}), short_error(exc)))
    return _report(writer, failed)


def _send_all(writer: StoreWriter, records: list[Item]) -> list[Unlogged]:
    """Send in order; a store that stays down stops the sync (the rest is reported unsent)."""
    failed: list[Unlogged] = []
    for index, (kind, body) in enumerate(records):
        writer.absorb(kind, body)
        try:
            _retry(lambda kind=kind, body=body: writer.send(kind, body))  # type: ignore[misc]
        except Exception as exc:
            failed.append(Unlogged(label(kind, body), short_error(exc)))
            if is_transient(exc):
                rest = records[index + 1 :]
                failed += [Unlogged(label(*r), "not sent: the store stopped answering") for r in rest]
                break
    return failed


def _retry(action: Callable[[], Any]) -> None:
    for delay in (*RETRY_DELAYS_S, None):
        try:
            action()
            return
        except Exception as exc:
            if delay is None or not is_transient(exc):
                raise
            time.sleep(delay)


def _records(run_dir: Path) -> list[Item]:
    layout = RunLayout(run_dir)
    if not layout.journal.is_file():
        raise RunFolderError(f"expected a run folder with journal.jsonl, found {run_dir} without one")
    items = (normalize(str(r.get("kind", "")), r) for r in Journal(run_dir).records())
    records = [item for item in items if item is not None]
    if not records:
        raise RunFolderError(f"expected journal records in {layout.journal}, found none")
    return records


def _task_name(run_dir: Path, records: list[Item]) -> str:
    """The experiment is named after the task: task.json, else the run_started event, else the folder."""
    task_file = RunLayout(run_dir).task
    if task_file.is_file():
        return str(json.loads(task_file.read_text()).get("name") or run_dir.name)
    for _, record in records:
        if record.get("name") == "run_started" and isinstance(record.get("task"), dict):
            return str(record["task"].get("name") or run_dir.name)
    return run_dir.name


def _report(writer: StoreWriter, failed: list[Unlogged]) -> SyncReport:
    model = writer.final_model
    return SyncReport(
        tracking_uri=display_uri(writer.tracking_uri),
        experiment=writer.experiment,
        run_key=writer.key,
        parent_run_id=writer.parent_id,
        logged=tuple(writer.logged),
        skipped=tuple(writer.skipped),
        not_logged=tuple(failed + writer.problems),
        model_uri=model.uri if model is not None else None,
        run_dir=str(writer.run_dir),
    )
