"""`mlestar serve RUN_DIR`: a REST server for a run's model (FastAPI on uvicorn).

    POST /predict   JSON records or CSV in; predictions out (JSON, or CSV with Accept: text/csv).
                    Rows are checked against the run's schema: a malformed request gets a 4xx
                    that says what is wrong (400 unreadable, 413 too large, 415 wrong type,
                    422 rows that do not match the schema).
    GET  /health    liveness and the model being served
    GET  /metadata  task, metric, validation score, versions, schema
    GET  /metrics   Prometheus text: requests, errors, latency, rows, drift gauges

With --follow-alias the model comes from the MLflow registry and is swapped, between requests,
when the alias moves (registry.py). Binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from mlestar.monitoring.request_log import LogSettings, RequestLog
from mlestar.monitoring.validate import check_frame
from mlestar.serving.loaded import ServedModel, metadata
from mlestar.serving.payload import PayloadError, parse_body
from mlestar.serving.telemetry import Telemetry


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    max_bytes: int = 10 * 1024 * 1024
    max_rows: int = 100_000
    validate: bool = True
    log: LogSettings | None = None
    """Request logging (opt-in): None logs nothing."""
    follow_alias: str | None = None
    poll_s: float = 30.0
    tracking_uri: str | None = None


class ModelSlot:
    """The model being served; swapped whole, so a request sees one model from start to end."""

    def __init__(self, model: ServedModel) -> None:
        self._model = model
        self._lock = threading.Lock()

    @property
    def current(self) -> ServedModel:
        with self._lock:
            return self._model

    def swap(self, model: ServedModel) -> None:
        with self._lock:
            self._model = model


def build_app(slot: ModelSlot, settings: ServeSettings, log: RequestLog | None = None) -> FastAPI:
    telemetry = Telemetry()

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        if log is not None:
            log.close()  # the last, partial window

    app = FastAPI(title="mlestar model server", lifespan=lifespan)
    app.state.telemetry = telemetry

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        started, status, rows = time.perf_counter(), 500, 0
        try:
            body = await read_limited(request, settings.max_bytes)
            model = slot.current
            frame = parse_body(request.headers.get("content-type", ""), body, model.spec.id_column)
            if len(frame) > settings.max_rows:
                raise PayloadError(
                    413, f"expected at most {settings.max_rows} rows per request, found {len(frame)}"
                )
            wants_csv = "text/csv" in request.headers.get("accept", "")
            response = await run_in_threadpool(respond, model, frame, settings, log, telemetry, wants_csv)
            status, rows = 200, len(frame)
            return response
        except PayloadError as exc:
            status = exc.status
            return JSONResponse({"error": exc.message, "findings": exc.findings}, status)
        except Exception as exc:  # the model failed on these rows: say so, keep serving
            return JSONResponse({"error": f"the model could not answer: {type(exc).__name__}: {exc}"}, 500)
        finally:
            telemetry.observe("/predict", status, time.perf_counter() - started, rows)

    @app.get("/health")
    def health() -> dict[str, Any]:
        model = slot.current
        telemetry.observe("/health", 200, 0.0)
        return {"status": "ok", "model": model.source, "version": model.version}

    @app.get("/metadata")
    def meta() -> dict[str, Any]:
        telemetry.observe("/metadata", 200, 0.0)
        return metadata(slot.current)

    @app.get("/metrics")
    def prometheus() -> Response:
        model = slot.current
        telemetry.observe("/metrics", 200, 0.0)
        text = telemetry.render(model.schema, model.version)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    return app


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it is known to be larger than limit bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadError(413, f"expected a body of at most {limit} bytes, found {declared}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadError(413, f"expected a body of at most {limit} bytes, found more")
        chunks.append(chunk)
    return b"".join(chunks)


def respond(
    model: ServedModel,
    frame: pd.DataFrame,
    settings: ServeSettings,
    log: RequestLog | None,
    telemetry: Telemetry,
    csv: bool,
) -> Response:
    warnings: list[str] = []
    if settings.validate:
        checked = check_frame(model.schema, frame)
        if not checked.ok:
            message = "the rows do not match the model's schema: " + "; ".join(
                f.message for f in checked.errors
            )
            raise PayloadError(422, message, [f.to_json() for f in checked.findings])
        frame = checked.frame
        warnings = [f.message for f in checked.warnings]
    pred = model.predict(frame)
    out = model.answer(frame, pred)
    id_column = model.spec.id_column
    if id_column and id_column in frame.columns:
        out.insert(0, id_column, frame[id_column].to_numpy())
    telemetry.served(frame)
    if log is not None:
        log.record(frame, pred)
    if csv:
        return Response(out.to_csv(index=False), media_type="text/csv")
    records = out.to_json(orient="records", double_precision=15)
    version = "null" if model.version is None else f'"{model.version}"'
    text = f'{{"predictions": {records}, "version": {version}, "warnings": {pd.Series(warnings, dtype=object).to_json(orient="values")}}}'
    return Response(text, media_type="application/json")


def serve(slot: ModelSlot, settings: ServeSettings, run_dir: Path, follower: Any = None) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM)."""
    import uvicorn

    log = RequestLog(run_dir, slot.current.schema, settings.log) if settings.log else None
    app = build_app(slot, settings, log)
    print(f"serving {slot.current.source} on http://{settings.host}:{settings.port}", file=sys.stderr)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning", access_log=False)
    if follower is not None:
        follower.stop()


@contextmanager
def running(app: Any, host: str, port: int) -> Iterator[str]:
    """The app served from a background thread (tests, benchmarks); yields its base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, name="mlestar-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        raise RuntimeError(f"the server did not start on {host}:{port}")
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
