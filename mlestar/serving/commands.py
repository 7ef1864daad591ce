"""The `serve`, `predict` and `validate` commands (cli.py holds only their flags)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from mlestar.errors import ConfigError, RunFolderError
from mlestar.monitoring.request_log import LogSettings
from mlestar.monitoring.schema import load_schema
from mlestar.monitoring.validate import check_frame, summary_line
from mlestar.serving.loaded import load_run_model
from mlestar.task.files import read_table
from mlestar.task.spec import TaskSpec

PREDICT_CHUNK = 50_000


def serve_command(args: argparse.Namespace, environ: dict[str, str]) -> int:
    from mlestar.serving.server import ModelSlot, ServeSettings, serve

    run_dir = _run_dir(args.run_dir)
    log = (
        LogSettings(args.log_window_rows, args.log_window_s, args.log_text, tuple(args.log_exclude))
        if args.log_requests
        else None
    )
    settings = ServeSettings(
        host=args.host,
        port=args.port,
        max_bytes=int(args.max_mb * 1024 * 1024),
        max_rows=args.max_rows,
        validate=not args.no_validate,
        log=log,
        follow_alias=args.follow_alias,
        poll_s=args.poll,
        tracking_uri=args.tracking_uri or environ.get("MLFLOW_TRACKING_URI"),
    )
    if settings.follow_alias is None:
        serve(ModelSlot(load_run_model(run_dir)), settings, run_dir)
        return 0
    from mlestar.serving.follow import AliasFollower, load_alias
    from mlestar.serving.registry import model_name, store_of

    uri, name = store_of(run_dir, settings.tracking_uri), model_name(run_dir)
    slot = ModelSlot(load_alias(uri, name, settings.follow_alias))
    follower = AliasFollower(slot, uri, name, settings.follow_alias, settings.poll_s).start()
    serve(slot, settings, run_dir, follower)
    return 0


def predict_command(args: argparse.Namespace, environ: dict[str, str]) -> int:
    model = load_run_model(_run_dir(args.run_dir))
    frame = read_table(args.data, model.spec.id_column)
    checked = check_frame(model.schema, frame)
    for finding in checked.findings:
        print(f"{finding.severity}: {finding.message}", file=sys.stderr)
    if not checked.ok and not args.no_validate:
        raise ConfigError(
            f"expected rows that match the run's schema in {args.data}; {summary_line(checked)} (see above)"
        )
    rows = checked.frame if checked.ok else frame
    parts = []
    for start in range(0, len(rows), PREDICT_CHUNK):  # bounded memory on large tables
        chunk = rows.iloc[start : start + PREDICT_CHUNK].reset_index(drop=True)
        out = model.answer(chunk, model.predict(chunk))
        if model.spec.id_column and model.spec.id_column in chunk.columns:
            out.insert(0, model.spec.id_column, chunk[model.spec.id_column].to_numpy())
        parts.append(out)
    result = pd.concat(parts, ignore_index=True)
    result.to_csv(args.output, index=False)
    print(f"{len(result)} predictions written to {args.output}", file=sys.stderr)
    return 0


def validate_command(args: argparse.Namespace, environ: dict[str, str]) -> int:
    """Exit 0 when the table can be used (1 on errors; with --strict, on warnings too)."""
    run_dir = _run_dir(args.run_dir)
    spec = TaskSpec.load(run_dir / "task.json")
    checked = check_frame(load_schema(run_dir), read_table(args.data, spec.id_column))
    if args.json:
        print(json.dumps({"ok": checked.ok, "findings": [f.to_json() for f in checked.findings]}, indent=1))
    else:
        for finding in checked.findings:
            print(f"{finding.severity}: {finding.message}")
        print(summary_line(checked))
    failed = bool(checked.errors) or (args.strict and bool(checked.warnings))
    return 1 if failed else 0


def _run_dir(path: Path) -> Path:
    if not (path / "task.json").is_file():
        raise RunFolderError(f"expected a run folder made by `mlestar run` (task.json) at {path}; found none")
    return path.resolve()
