"""The `mlestar` command. The one place that reads flags and the environment into a frozen config."""

from __future__ import annotations

import argparse
import errno
import gc
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import MISSING, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from mlestar.config import RunConfig, SearchSettings, parse_duration
from mlestar.errors import ConfigError, MlestarError, UserError
from mlestar.hardware import Hardware, detect_hardware, resolve_device


def _default(name: str, of: type = RunConfig) -> Any:
    """A setting's default as the config dataclass states it: defaults are stated there only."""
    for f in fields(of):
        if f.name == name:
            return f.default_factory() if f.default is MISSING else f.default  # type: ignore[misc,operator]
    raise KeyError(name)


_BUDGET = f"{_default('budget_s') / 60:g}m"

_TELEMETRY_OFF = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "DVC_NO_ANALYTICS": "1",
    "RAY_USAGE_STATS_ENABLED": "0",
}
_PLAIN_PAGES = {
    # numpy asks the kernel for huge pages for every large array (madvise); where transparent huge
    # pages are defragmented on madvise (many distributions' default), a fault then waits for the
    # kernel to compact memory. Laying out a task of millions of pixel rows spent 2.9-4.6 s in the
    # kernel so, 1.2-1.6 s with plain pages; its scripts and the run's own process alike.
    "NUMPY_MADVISE_HUGEPAGE": "0",
    # Arrow's allocations from malloc rather than its bundled mimalloc: 0.5-1 s less kernel time there.
    "ARROW_DEFAULT_MEMORY_POOL": "system",
}


def _task_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("task overrides (each beats task.yaml, which beats inference)")
    g.add_argument("--train", help="training table, relative to the task folder")
    g.add_argument("--test", help="test table, relative to the task folder")
    g.add_argument("--sample-submission", help="sample submission, relative to the task folder")
    g.add_argument("--id-column")
    g.add_argument(
        "--target", action="append", dest="target_columns", help="prediction column (repeat for several)"
    )
    g.add_argument(
        "--metric", help="metric name, e.g. accuracy, roc_auc, multiclass_logloss, rmse, mean_rmsle"
    )
    g.add_argument(
        "--problem-type",
        choices=["binary", "multiclass", "regression", "multi_target_regression", "multilabel"],
    )
    g.add_argument("--lower-is-better", dest="lower_is_better", action="store_true", default=None)
    g.add_argument("--higher-is-better", dest="lower_is_better", action="store_false")
    g.add_argument("--group-column", help="rows sharing a value stay in one fold")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    keys = (
        "train",
        "test",
        "sample_submission",
        "id_column",
        "target_columns",
        "metric",
        "problem_type",
        "lower_is_better",
        "group_column",
    )
    return {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlestar",
        description="An autonomous ML engineer: MLE-STAR search over harness-scored solution scripts.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="solve a task: search, then write submission.csv and solution.py")
    run.add_argument(
        "task_dir", type=Path, help="folder with description.md, data files and a sample submission"
    )
    run.add_argument("--out", type=Path, help="run folder (default: a new folder under ./runs/)")
    run.add_argument(
        "--budget",
        default=_BUDGET,
        help=f"wall-clock budget for the whole run, e.g. 300, 5m, 1h (default {_BUDGET})",
    )
    run.add_argument("--max-nodes", type=int, help="stop after this many script runs")
    run.add_argument("--seed", type=int, default=_default("seed"))
    run.add_argument(
        "--jobs", type=int, default=_default("jobs"), help="attempts run in parallel (default: cores)"
    )
    run.add_argument(
        "--llm",
        default=_default("engineer"),
        metavar="PROVIDER:MODEL",
        help="engineer: builtin (offline, default), openai:MODEL, gemini:MODEL, anthropic:MODEL, replay:RUN_DIR",
    )
    run.add_argument(
        "--role-llm",
        action="append",
        default=[],
        metavar="ROLE=PROVIDER:MODEL",
        help="a different model for one role, e.g. summarize_ablation=openai:gpt-4o-mini",
    )
    run.add_argument(
        "--llm-models",
        type=Path,
        metavar="FILE",
        help="a YAML file of per-model settings (context window, output cap, temperature, "
        "thinking budget, price) over mlestar's own table (default: MLESTAR_LLM_MODELS)",
    )
    run.add_argument(
        "--search",
        metavar="BACKEND",
        help="web search for the retrieval role of models without their own: tavily "
        "(TAVILY_API_KEY) or searxng:URL (default: offline, the model cards)",
    )
    run.add_argument(
        "--llm-check",
        action="store_true",
        help="only check that every --llm model answers (URL, key, name, context window), then exit",
    )
    run.add_argument("--max-cost", type=float, help="stop using the LLM after this many US dollars")
    run.add_argument("--max-tokens", type=int, help="stop using the LLM after this many tokens")
    run.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, else a store in the run folder)",
    )
    run.add_argument("--no-tracking", action="store_true", help="do not log to MLflow")
    run.add_argument(
        "--cards", type=Path, action="append", default=[], help="a folder of your own model cards"
    )
    folds, rows = _default("n_folds", SearchSettings), _default("subsample_rows", SearchSettings)
    run.add_argument("--folds", type=int, default=folds, help=f"validation folds (default {folds})")
    run.add_argument(
        "--subsample", type=int, default=rows, help=f"rows the search uses on large tasks (default {rows})"
    )
    memory = _default("memory_mb")
    run.add_argument(
        "--memory-mb", type=int, default=memory, help=f"memory cap per script (default {memory})"
    )
    run.add_argument(
        "--executor",
        default=_default("executor"),
        metavar="KIND",
        help="where scripts run: local (default), ray (a private local Ray cluster), "
        "auto or ray://HOST:PORT (an existing cluster with a shared filesystem)",
    )
    run.add_argument(
        "--sandbox",
        choices=["auto", "strict", "off"],
        default=_default("sandbox"),
        help="confine scripts: auto (strongest available, default), strict (refuse to run "
        "without user namespaces), off (unconfined)",
    )
    run.add_argument(
        "--disk-mb",
        type=int,
        default=_default("disk_mb"),
        help=f"what one script's folder may hold, and its largest file, in MB (default {_default('disk_mb')})",
    )
    run.add_argument(
        "--max-processes",
        type=int,
        default=_default("max_processes"),
        help=f"processes and threads one script may have at once (default {_default('max_processes')})",
    )
    run.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default=_default("device"),
        help="where scripts may train: auto (the GPU when one is visible, default), cpu, or cuda "
        "(refuse to run without a GPU); CUDA_VISIBLE_DEVICES chooses the GPUs",
    )
    run.add_argument(
        "--refit-all",
        action="store_true",
        help="refit every handed-over script at the end, even one whose search run already fitted "
        "the final model (slower; checks that each script repeats)",
    )
    run.add_argument("--no-live", action="store_true", help="plain log lines instead of the live panel")
    _task_flags(run)

    resume = sub.add_parser("resume", help="continue an interrupted run from its journal")
    resume.add_argument("run_dir", type=Path)
    resume.add_argument("--no-live", action="store_true")

    inspect = sub.add_parser("inspect", help="show what mlestar infers from a task folder")
    inspect.add_argument("task_dir", type=Path)
    inspect.add_argument("--json", action="store_true", help="print the inferred task as JSON")
    _task_flags(inspect)

    status = sub.add_parser("status", help="summarise a run from its journal")
    status.add_argument("run_dir", type=Path)

    report = sub.add_parser("report", help="write a run's HTML report (also while it runs)")
    report.add_argument("run_dir", type=Path)
    report.add_argument("--out", type=Path, help="where to write the page (default: RUN_DIR/report.html)")

    track = sub.add_parser("track", help="send a run's history to an MLflow store (no duplicates)")
    track.add_argument("run_dir", type=Path)
    track.add_argument("--tracking-uri", help="default: MLFLOW_TRACKING_URI, else the run folder's own store")

    export = sub.add_parser("export", help="export a finished run as a DVC project that `dvc repro` rebuilds")
    export.add_argument("run_dir", type=Path)
    export.add_argument("dest", type=Path)
    export.add_argument(
        "--remote", help="a DVC remote (folder or URL) that receives the data with `dvc push`"
    )
    export.add_argument(
        "--check",
        action="store_true",
        help="then run `dvc repro` in a temporary clone and compare its submission with the run's, byte for byte",
    )
    _serving_parsers(sub)
    return parser


def without_credentials(uri: str | None) -> str | None:
    """The tracking URI without its user:password, which go to MLFLOW_TRACKING_USERNAME and _PASSWORD
    of this process instead (MLflow reads them there): a password never reaches config.json, the
    journal or a report."""
    if not uri:
        return uri
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    os.environ.setdefault("MLFLOW_TRACKING_USERNAME", unquote(parts.username or ""))
    os.environ.setdefault("MLFLOW_TRACKING_PASSWORD", unquote(parts.password))
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return urlunsplit(parts._replace(netloc=f"{host}:{parts.port}" if parts.port else host))


def _serving_parsers(sub: Any) -> None:
    validate = sub.add_parser("validate", help="check a table against a run's data schema (exit 1 on errors)")
    validate.add_argument("run_dir", type=Path)
    validate.add_argument("data", type=Path, help="a table (csv, parquet, json, ...)")
    validate.add_argument(
        "--strict", action="store_true", help="exit 1 on warnings too (unseen values, out of range)"
    )
    validate.add_argument("--json", action="store_true", help="print the findings as JSON")

    serve = sub.add_parser("serve", help="serve a run's model over HTTP: /predict /health /metadata /metrics")
    serve.add_argument("run_dir", type=Path)
    serve.add_argument(
        "--host", default="127.0.0.1", help="bind address (default 127.0.0.1: this machine only)"
    )
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--max-mb", type=float, default=10.0, help="largest request body in MB (default 10)")
    serve.add_argument("--max-rows", type=int, default=100_000, help="most rows per request (default 100000)")
    serve.add_argument("--no-validate", action="store_true", help="skip the schema check of requests")
    serve.add_argument(
        "--follow-alias",
        metavar="ALIAS",
        help="serve the registry version this alias names (e.g. champion) and follow it",
    )
    serve.add_argument("--poll", type=float, default=30.0, help="seconds between alias checks (default 30)")
    serve.add_argument("--tracking-uri", help="the MLflow store of --follow-alias (default: the run's)")
    serve.add_argument(
        "--log-requests",
        action="store_true",
        help="log served rows in windows to RUN_DIR/monitoring/requests",
    )
    serve.add_argument(
        "--log-window-rows", type=int, default=1000, help="rows per logged window (default 1000)"
    )
    serve.add_argument(
        "--log-window-s", type=float, default=3600.0, help="seconds per logged window (default 3600)"
    )
    serve.add_argument(
        "--log-text", action="store_true", help="log free-text columns too (left out by default)"
    )
    serve.add_argument(
        "--log-exclude", action="append", default=[], metavar="COLUMN", help="a column never logged (repeat)"
    )

    predict = sub.add_parser("predict", help="predict a table with a run's model (batch)")
    predict.add_argument("run_dir", type=Path)
    predict.add_argument("data", type=Path)
    predict.add_argument("-o", "--output", type=Path, default=Path("predictions.csv"))
    predict.add_argument(
        "--no-validate", action="store_true", help="predict even when the table has schema errors"
    )

    monitor = sub.add_parser(
        "monitor",
        help="drift, schema and live-metric report on new or logged data (exit 1 when something moved)",
    )
    monitor.add_argument("run_dir", type=Path)
    monitor.add_argument(
        "new_data",
        type=Path,
        nargs="?",
        help="a table; default: the requests logged by `serve --log-requests`",
    )
    monitor.add_argument("--labels", type=Path, help="answers for the new rows, joined on the id column")
    monitor.add_argument("--last-windows", type=int, help="only the latest N logged windows")
    monitor.add_argument(
        "--alpha", type=float, default=0.05, help="family-wise significance of the drift tests (default 0.05)"
    )
    monitor.add_argument(
        "--psi-min", type=float, default=0.1, help="smallest PSI that counts as drift (default 0.1)"
    )
    monitor.add_argument("--out", type=Path, help="report folder (default RUN_DIR/monitoring/reports/<time>)")
    monitor.add_argument("--tracking-uri", help="MLflow store for the report (default: the run's)")
    monitor.add_argument("--no-tracking", action="store_true", help="do not log the report to MLflow")

    retrain = sub.add_parser(
        "retrain", help="a warm-started search on new data; promote only when better beyond noise"
    )
    retrain.add_argument("run_dir", type=Path, help="the champion's run folder")
    retrain.add_argument("--data", type=Path, required=True, help="new training rows, answers included")
    retrain.add_argument("--out", type=Path, help="retrain folder (default runs/<task>-retrain-<time>)")
    retrain.add_argument(
        "--holdout", type=float, default=0.2, help="share of --data neither model sees (default 0.2)"
    )
    retrain.add_argument(
        "--alpha", type=float, default=0.05, help="significance of the paired bootstrap test (default 0.05)"
    )
    retrain.add_argument("--budget", default=_BUDGET)
    retrain.add_argument("--max-nodes", type=int)
    retrain.add_argument("--seed", type=int, default=_default("seed"))
    retrain.add_argument("--jobs", type=int, default=_default("jobs"))
    retrain.add_argument("--llm", default=_default("engineer"), metavar="PROVIDER:MODEL")
    retrain.add_argument("--tracking-uri", help="default: the champion run's store")
    retrain.add_argument(
        "--no-tracking", action="store_true", help="compare and journal, but set no registry alias"
    )
    retrain.add_argument("--no-live", action="store_true")


def _role_models(pairs: Sequence[str]) -> tuple[tuple[str, str], ...]:
    out = []
    for pair in pairs:
        role, sep, spec = pair.partition("=")
        if not sep or not role or not spec:
            raise ConfigError(f"expected --role-llm ROLE=PROVIDER:MODEL; got {pair!r}")
        out.append((role, spec))
    return tuple(out)


def config_from_args(args: argparse.Namespace, environ: dict[str, str]) -> RunConfig:
    if not args.task_dir.is_dir():
        raise ConfigError(f"expected a task folder; {args.task_dir} is not a folder")
    if args.jobs < 1 or args.folds < 2:
        raise ConfigError(f"expected --jobs >= 1 and --folds >= 2; got {args.jobs} and {args.folds}")
    if args.disk_mb < 1 or args.max_processes < 2:
        raise ConfigError(
            f"expected --disk-mb >= 1 and --max-processes >= 2; got {args.disk_mb} and {args.max_processes}"
        )
    task_dir = args.task_dir.resolve()
    out = args.out or Path("runs") / f"{task_dir.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    return RunConfig(
        task_dir=task_dir,
        run_dir=out.resolve(),
        budget_s=parse_duration(args.budget),
        max_nodes=args.max_nodes,
        seed=args.seed,
        jobs=args.jobs,
        engineer=args.llm,
        role_models=_role_models(args.role_llm),
        llm_models=args.llm_models.resolve() if args.llm_models else None,
        search_backend=args.search,
        search=SearchSettings(n_folds=args.folds, subsample_rows=args.subsample),
        memory_mb=args.memory_mb,
        executor=args.executor,
        sandbox=args.sandbox,
        disk_mb=args.disk_mb,
        max_processes=args.max_processes,
        device=args.device,
        group_column=args.group_column,
        overrides=tuple(sorted(_overrides(args).items())),
        tracking_uri=without_credentials(args.tracking_uri or environ.get("MLFLOW_TRACKING_URI")),
        tracking=not args.no_tracking,
        max_cost_usd=args.max_cost,
        max_tokens=args.max_tokens,
        card_dirs=tuple(p.resolve() for p in args.cards),
        live=False if args.no_live else None,
        refit_all=args.refit_all,
    )


def _llm_settings(config: RunConfig, environ: dict[str, str]) -> Any:
    """The LLM settings of a run, checked against their servers (None for the built-in engineer)."""
    return _checked_llm(
        config.engineer, config.role_models, environ, config.llm_models, config.search_backend
    )


def _checked_llm(
    engineer: str,
    role_models: tuple[tuple[str, str], ...],
    environ: dict[str, str],
    models_file: Path | None = None,
    search: str | None = None,
) -> Any:
    if engineer == "builtin":
        return None
    from mlestar.llm.check import check_models
    from mlestar.llm.settings import LLMSettings

    settings = LLMSettings.from_env(environ, engineer, role_models, models_file)
    if settings.api == "replay":
        return settings  # recorded replies: nothing to reach
    if search:
        from mlestar.llm.websearch import SearchSpec

        settings = replace(settings, search=SearchSpec.from_env(environ, search))
    checked, results = check_models(settings)
    for result in results:
        print(f"llm check: {result.line()}", file=sys.stderr)
    return checked


def _hardware(device: str, environ: dict[str, str]) -> Hardware:
    """This machine's hardware, once per session; `--device cuda` without a GPU stops here."""
    hardware = detect_hardware(environ)
    chosen = resolve_device(device, hardware)
    print(f"hardware: {hardware.describe()}; scripts train on the {chosen.upper()}", file=sys.stderr)
    return hardware


def _import_app() -> Any:
    """mlestar.app and the data stack under it, imported with the garbage collector paused: the
    collector's passes over an import's fresh objects find no garbage and cost a sixth of its time.
    What the import made lives for the whole run, so it is frozen out of every later pass too."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        import mlestar.app as app
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
    return app


def _cmd_run(args: argparse.Namespace, environ: dict[str, str]) -> int:
    config = config_from_args(args, environ)
    if args.llm_check:
        if config.engineer == "builtin":
            raise ConfigError("expected --llm PROVIDER:MODEL to check; found the built-in engineer")
        _llm_settings(config, environ)
        return 0
    hardware = _hardware(config.device, environ)
    llm = _llm_settings(config, environ)
    print(f"run folder: {config.run_dir}", file=sys.stderr)
    from mlestar.execution.factory import start_executor
    from mlestar.run_layout import RunLayout

    RunLayout(config.run_dir).refuse_existing()  # a user's mistake: refused before any process starts
    # The scripts' fork server imports their libraries for seconds: begun before mlestar's own
    # imports, not after them. The run owns it from here (start_run closes it on any refusal).
    executor = start_executor(config)
    try:
        start_run = _import_app().start_run
    except BaseException:
        executor.close()
        raise
    outcome = start_run(config, llm, hardware=hardware, executor=executor)
    return _report(config.run_dir, outcome)


def _cmd_resume(args: argparse.Namespace, environ: dict[str, str]) -> int:
    resume_run = _import_app().resume_run
    from mlestar.config import config_from_json

    without_credentials(environ.get("MLFLOW_TRACKING_URI"))  # its password, if any, for this session
    cfg_path = args.run_dir / "config.json"
    config = config_from_json(json.loads(cfg_path.read_text())) if cfg_path.exists() else None
    hardware = _hardware(config.device, environ) if config else None
    llm = _llm_settings(config, environ) if config else None
    outcome = resume_run(args.run_dir.resolve(), llm, hardware=hardware)
    return _report(args.run_dir, outcome)


def _report(run_dir: Path, outcome: Any) -> int:
    # The run is over and the process about to end: freezing what is left spares the interpreter's
    # exit a last collection over every object of the run (seconds on a busy machine). Objects
    # without cycles are still freed as before.
    gc.freeze()
    if outcome.status == "fallback":
        print(
            "no solution script worked: submission.csv holds a trivial prediction (the training prior)",
            file=sys.stderr,
        )
    else:
        from mlestar.status import score_of

        print(f"best validation score {score_of(run_dir, outcome.best)} from {outcome.best}", file=sys.stderr)
    print(f"submission: {run_dir / 'submission.csv'}\nsolution:   {run_dir / 'solution.py'}", file=sys.stderr)
    return 0


def _cmd_inspect(args: argparse.Namespace, environ: dict[str, str]) -> int:
    from mlestar.execution.sandbox import resolve
    from mlestar.task import inspect_json, load_task_tables, render_inspect

    spec, tables = load_task_tables(args.task_dir, _overrides(args))
    sandbox = resolve("auto")
    hardware = detect_hardware(environ)
    if args.json:
        found = {**inspect_json(spec, tables), "sandbox": sandbox.to_json(), "hardware": hardware.to_json()}
        print(json.dumps(found, indent=2, default=str))
    else:
        print(
            f"{render_inspect(spec, tables)}\nsandbox: {sandbox.describe()}\nhardware: {hardware.describe()}"
        )
        if sandbox.warning:
            print(f"warning: {sandbox.warning}")
    return 0


def _cmd_status(args: argparse.Namespace, environ: dict[str, str]) -> int:
    from mlestar.status import summarize

    print(summarize(args.run_dir))
    return 0


def _cmd_report(args: argparse.Namespace, environ: dict[str, str]) -> int:
    from mlestar.report import report_run

    print(report_run(args.run_dir, args.out))
    return 0


def _cmd_track(args: argparse.Namespace, environ: dict[str, str]) -> int:
    from mlestar.tracking import sync_run

    report = sync_run(
        args.run_dir, without_credentials(args.tracking_uri or environ.get("MLFLOW_TRACKING_URI"))
    )
    print(report)
    return 0 if report.complete else 1


def _cmd_export(args: argparse.Namespace, environ: dict[str, str]) -> int:
    from mlestar.versioning import export_run

    report = export_run(args.run_dir, args.dest, args.remote, env=environ, check=args.check)
    print(report)
    return 1 if report.check is not None and not report.check.same else 0


def _cmd_validate(args: argparse.Namespace, environ: dict[str, str]) -> int:
    from mlestar.serving.commands import validate_command

    return validate_command(args, environ)


def _cmd_serve(args: argparse.Namespace, environ: dict[str, str]) -> int:
    from mlestar.serving.commands import serve_command

    return serve_command(args, environ)


def _cmd_predict(args: argparse.Namespace, environ: dict[str, str]) -> int:
    from mlestar.serving.commands import predict_command

    return predict_command(args, environ)


def _cmd_monitor(args: argparse.Namespace, environ: dict[str, str]) -> int:
    from mlestar.monitoring.command import monitor_command

    return monitor_command(args, environ)


def _cmd_retrain(args: argparse.Namespace, environ: dict[str, str]) -> int:
    from mlestar.retrain.command import retrain_command

    return retrain_command(args, environ, _checked_llm(args.llm, (), environ))


_COMMANDS = {
    "run": _cmd_run,
    "resume": _cmd_resume,
    "inspect": _cmd_inspect,
    "status": _cmd_status,
    "report": _cmd_report,
    "track": _cmd_track,
    "export": _cmd_export,
    "validate": _cmd_validate,
    "serve": _cmd_serve,
    "predict": _cmd_predict,
    "monitor": _cmd_monitor,
    "retrain": _cmd_retrain,
}


def main(argv: Sequence[str] | None = None) -> int:
    for key, value in {**_TELEMETRY_OFF, **_PLAIN_PAGES}.items():  # a user's own setting stands
        os.environ.setdefault(key, value)
    args = build_parser().parse_args(argv)
    environ = dict(os.environ)
    try:
        return _COMMANDS[args.command](args, environ)
    except UserError as e:
        print(f"mlestar: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("\nmlestar: interrupted; continue with `mlestar resume RUN_DIR`", file=sys.stderr)
        return 130
    except MlestarError as e:
        print(f"mlestar: failed: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        print(
            f"mlestar: failed: the disk is full ({e}); free some space, then `mlestar resume RUN_DIR`",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
