"""The `monitor` command (cli.py holds only its flags)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mlestar.errors import RunFolderError
from mlestar.monitoring.monitor import (
    MonitorResult,
    MonitorSettings,
    monitor_run,
    summary_lines,
    write_report,
)


def monitor_command(args: argparse.Namespace, environ: dict[str, str]) -> int:
    """Exit 0 when nothing is wrong, 1 on drift, schema errors or a live metric worse beyond noise."""
    run_dir = args.run_dir.resolve()
    if not (run_dir / "task.json").is_file():
        raise RunFolderError(
            f"expected a run folder made by `mlestar run` (task.json) at {args.run_dir}; found none"
        )
    settings = MonitorSettings(
        alpha=args.alpha,
        psi_min=args.psi_min,
        labels=args.labels,
        last_windows=args.last_windows,
        out_dir=args.out,
    )
    result = monitor_run(run_dir, args.new_data, settings)
    task = json.loads((run_dir / "task.json").read_text()).get("name", run_dir.name)
    folder = write_report(result, run_dir, settings.out_dir, str(task))
    print("\n".join(summary_lines(result)))
    print(f"report: {folder / 'monitor.html'}")
    if not args.no_tracking:
        _log(run_dir, args.tracking_uri or environ.get("MLFLOW_TRACKING_URI"), str(task), result, folder)
    return result.exit_code


def _log(run_dir: Path, tracking_uri: str | None, task: str, result: MonitorResult, folder: Path) -> None:
    """The report as an MLflow run; a store that fails does not change the verdict."""
    try:
        from mlestar.serving.registry import journal_key, store_of
        from mlestar.tracking.monitor_run import log_monitor_run

        uri = store_of(run_dir, tracking_uri)
        run_id = log_monitor_run(uri, run_dir, task, journal_key(run_dir), result.to_json(), folder)
        print(f"mlflow run: {run_id}")
    except ImportError:
        return
    except Exception as exc:
        print(f"the report was not logged to MLflow: {type(exc).__name__}: {exc}", file=sys.stderr)
