"""What the parent MLflow run says about a whole mlestar run, gathered from the journal's events."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlestar.journal import Node
from mlestar.tracking.records import (
    KIND_RUN,
    PARAM_LIMIT,
    TAG_KIND,
    TAG_RUN_ID,
    clip,
    finite,
    flat_params,
    safe_key,
)
from mlestar.tracking.scrub import Scrubber


@dataclass
class RunFacts:
    """Accumulates what the events tell (mutable on purpose: it grows as records arrive)."""

    run_dir: Path
    key: str
    started: float | None = None
    started_event: dict[str, Any] = field(default_factory=dict)
    data_digests: dict[str, str] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    """Scores of the solutions seen so far, in journal order (for the running best)."""
    node_count: int = 0
    _task: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> dict[str, Any]:
        """The TaskSpec JSON: task.json of the run folder, else the run_started event's copy."""
        if not self._task:
            path = self.run_dir / "task.json"
            if path.is_file():
                self._task = json.loads(path.read_text())
            else:
                return dict(self.started_event.get("task") or {})
        return self._task

    @property
    def lower_is_better(self) -> bool:
        return bool(self.task.get("lower_is_better", False))

    def absorb_event(self, record: dict[str, Any]) -> None:
        self.events.append(record)
        if record.get("name") == "run_started":
            self.started_event = record
            self.started = finite(record.get("time"))
        elif record.get("name") == "inputs_hashed":
            self.data_digests.update({str(k): str(v) for k, v in (record.get("data") or {}).items()})

    def absorb_node(self, record: dict[str, Any]) -> tuple[int, float | None]:
        """Count the node; return its step and the running best score after it: the best of what
        the run could hand over (Node.is_solution: not a screening split's score, not a seed
        variant alone)."""
        self.node_count += 1
        score = finite(record.get("score"))
        if score is not None and Node.from_json(record).is_solution:
            self.scores.append(score)
        if not self.scores:
            return self.node_count, None
        best = min(self.scores) if self.lower_is_better else max(self.scores)
        return self.node_count, best


def engineer_model(engineer: str) -> str:
    """The LLM behind an engineer spec: "openai:gpt-4o-mini" -> "gpt-4o-mini"; "builtin" -> "builtin"."""
    return engineer.split(":", 1)[1] if ":" in engineer else engineer


def parent_tags(facts: RunFacts, scrub: Scrubber) -> dict[str, str]:
    task = facts.task
    event = facts.started_event
    engineer = str(event.get("engineer") or (event.get("config") or {}).get("engineer") or "")
    tags = {TAG_KIND: KIND_RUN, TAG_RUN_ID: facts.key, "mlestar.run_dir": str(facts.run_dir.resolve())}
    if task.get("name"):
        tags["mlestar.task"] = str(task["name"])
    if engineer:
        tags["mlestar.engineer"] = scrub.text(engineer)
    return tags


def parent_params(facts: RunFacts, scrub: Scrubber) -> dict[str, str]:
    """task, engineer, model, budget, seed, metric, versions, and the whole config flattened."""
    event = facts.started_event
    config = dict(event.get("config") or {})
    task = facts.task
    engineer = str(event.get("engineer") or config.get("engineer") or "")
    headline = {
        "task": task.get("name"),
        "problem_type": task.get("problem_type"),
        "metric": task.get("metric"),
        "engineer": engineer or None,
        "model": engineer_model(engineer) if engineer else None,
        "budget_s": config.get("budget_s"),
        "seed": config.get("seed"),
    }
    params = {k: clip(scrub.text(str(v)), PARAM_LIMIT) for k, v in headline.items() if v is not None}
    params.update(flat_params(config, "config", scrub))
    versions = event.get("versions") or {}
    params.update({safe_key(f"version.{k}"): clip(str(v), PARAM_LIMIT) for k, v in versions.items()})
    return params


def events_jsonl(facts: RunFacts, scrub: Scrubber) -> str:
    return "".join(json.dumps(scrub.value(e), default=str) + "\n" for e in facts.events)
