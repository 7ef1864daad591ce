"""Journal records turned into what MLflow stores: pure functions, no mlflow import.

One parent MLflow run per mlestar run, one nested run per journal node. These tags make the
search tree readable back from MLflow alone and make re-sending idempotent.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlestar.tracking.scrub import Scrubber

TAG_RUN_ID = "mlestar.run_id"
"""Stable id of the mlestar run, on the parent and on every nested run."""
TAG_KIND = "mlestar.kind"
"""KIND_RUN on the parent, KIND_NODE on nested runs."""
TAG_NODE_ID = "mlestar.node_id"
TAG_PARENT_NODE = "mlestar.parent_node"
TAG_PARENT_NODE_RUN = "mlestar.parent_node_run_id"
"""The MLflow run id of the parent attempt (when that attempt was logged)."""
TAG_COMPLETE = "mlestar.complete"
"""Set last: a nested run without it was interrupted and is finished on the next send."""
TAG_MODEL_ID = "mlestar.logged_model_id"
TAG_MODEL_VERSION = "mlestar.model_version"
MLFLOW_PARENT = "mlflow.parentRunId"
MLFLOW_NOTE = "mlflow.note.content"
KIND_RUN = "run"
KIND_NODE = "attempt"

PARAM_LIMIT = 500
"""Older MLflow servers cap param values at 500 characters; the full text goes to artifacts."""
TAG_LIMIT = 5000
TAIL_CHARS = 8000
_KEY_BAD = re.compile(r"[^A-Za-z0-9_\-. /]")


def safe_key(name: str) -> str:
    """A param, tag or metric name MLflow accepts."""
    return _KEY_BAD.sub("_", name)[:250] or "_"


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 15] + " …[truncated]"


def normalize(kind: str, record: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(kind, record) as the tracker understands it; None for a record it cannot use.

    Journals written before Journal.event refused a fact named "kind" hold "final" events whose
    record kind was overwritten by that fact ("script" or "ensemble"); such a record is still an
    event, and the fact is put back.
    """
    body = {k: v for k, v in record.items() if k != "kind"}
    if kind in ("node", "event"):
        return kind, body
    if "name" in body and "time" in body:
        return "event", {**body, "kind": kind}
    return None


def run_key(kind: str, record: dict[str, Any]) -> str:
    """The stable id of an mlestar run, from the first record of its journal.

    The same whether the record comes live from Journal.subscribe or is read back from the file
    (floats survive the JSON round trip exactly).
    """
    stamp = record.get("time") if kind == "event" else record.get("started")
    label = record.get("name") if kind == "event" else record.get("id")
    return hashlib.sha256(f"{kind}:{label}:{stamp!r}".encode()).hexdigest()[:16]


def mlflow_status(node_status: str) -> str:
    return "FINISHED" if node_status == "ok" else "FAILED"


def millis(seconds: float | None) -> int | None:
    return None if seconds is None else int(round(seconds * 1000))


def finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def flat_params(data: dict[str, Any], prefix: str, scrub: Scrubber) -> dict[str, str]:
    """Nested JSON flattened to "prefix.a.b" params, scrubbed and clipped."""
    return _flatten(scrub.value(data), prefix)


def _flatten(data: dict[str, Any], prefix: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out.update(_flatten(value, name))
        else:
            out[safe_key(name)] = clip(_as_text(value), PARAM_LIMIT)
    return out


def _as_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(_as_text(v) for v in value)
    return "" if value is None else str(value)


@dataclass(frozen=True)
class NodeFields:
    """Everything one nested run gets, ready to send."""

    node_id: str
    parent_node: str | None
    start_ms: int | None
    end_ms: int | None
    status: str
    tags: dict[str, str]
    params: dict[str, str]
    metrics: dict[str, float]
    texts: dict[str, str] = field(default_factory=dict)
    """Artifact file name -> scrubbed content."""


def node_fields(record: dict[str, Any], run_dir: Path, key: str, scrub: Scrubber) -> NodeFields:
    node_id = str(record["id"])
    parent = record.get("parent")
    tags = {
        TAG_KIND: KIND_NODE,
        TAG_RUN_ID: key,
        TAG_NODE_ID: node_id,
        "mlestar.stage": str(record.get("stage", "")),
        "mlestar.role": str(record.get("role", "")),
        "mlestar.status": str(record.get("status", "")),
        MLFLOW_NOTE: clip(scrub.text(str(record.get("plan") or "")), TAG_LIMIT),
    }
    if parent:
        tags[TAG_PARENT_NODE] = str(parent)
    if record.get("code_path"):
        tags["mlestar.code_path"] = str(record["code_path"])
    if record.get("error"):
        tags["mlestar.error"] = clip(scrub.text(str(record["error"])), TAG_LIMIT)
    result = record.get("result") or {}
    if result.get("exception"):
        tags["mlestar.exception"] = str(result["exception"])
    return NodeFields(
        node_id=node_id,
        parent_node=str(parent) if parent else None,
        start_ms=millis(record.get("started")),
        end_ms=millis(record.get("ended")),
        status=mlflow_status(str(record.get("status"))),
        tags=tags,
        params=flat_params(dict(record.get("meta") or {}), "meta", scrub),
        metrics=node_metrics(record),
        texts=node_texts(record, run_dir, scrub),
    )


def node_metrics(record: dict[str, Any]) -> dict[str, float]:
    result = record.get("result") or {}
    started, ended = finite(record.get("started")), finite(record.get("ended"))
    candidates: dict[str, Any] = {
        "score": record.get("score"),
        "duration_s": (ended - started) if started is not None and ended is not None else None,
        "run_duration_s": result.get("duration_s"),
        "peak_memory_mb": result.get("peak_memory_mb"),
        "exit_code": result.get("exit_code"),
    }
    for name, value in (record.get("usage") or {}).items():
        candidates[safe_key(f"usage.{name}")] = value
    return {k: v for k, raw in candidates.items() if (v := finite(raw)) is not None}


def node_texts(record: dict[str, Any], run_dir: Path, scrub: Scrubber) -> dict[str, str]:
    """The plan, the script, its output tails and the whole record, as artifact files."""
    result = record.get("result") or {}
    attempt = run_dir / "attempts" / str(record["id"])
    texts = {
        "plan.md": str(record.get("plan") or ""),
        "stdout_tail.txt": result.get("stdout_tail") or _tail(attempt / "stdout.txt"),
        "stderr_tail.txt": result.get("stderr_tail") or _tail(attempt / "stderr.txt"),
        "node.json": json.dumps(scrub.value(record), indent=2, default=str),
    }
    if result.get("traceback"):
        texts["traceback.txt"] = str(result["traceback"])
    code = run_dir / str(record["code_path"]) if record.get("code_path") else None
    if code is not None and code.is_file():
        texts[code.name] = code.read_text(encoding="utf-8", errors="replace")
    return {name: scrub.text(text) for name, text in texts.items() if text}


def _tail(path: Path) -> str:
    if not path.is_file():
        return ""
    with path.open("rb") as f:
        f.seek(max(0, path.stat().st_size - TAIL_CHARS))
        return f.read().decode("utf-8", errors="replace")
