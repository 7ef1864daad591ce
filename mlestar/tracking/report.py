"""What reached the tracking store and, said plainly, what did not."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Unlogged:
    item: str
    """"node draft-2", "event run_finished", "run summary" ..."""
    reason: str


@dataclass(frozen=True)
class TrackingReport:
    tracking_uri: str
    """The store, with any password removed."""
    experiment: str
    run_key: str | None
    """The stable id of the mlestar run (tag mlestar.run_id)."""
    parent_run_id: str | None
    logged: tuple[str, ...]
    """Node ids sent now."""
    skipped: tuple[str, ...]
    """Node ids that were already in the store."""
    not_logged: tuple[Unlogged, ...]
    model_uri: str | None = None
    """models:/<name>/<version> of the registered final model, when one was logged."""
    run_dir: str | None = None

    @property
    def complete(self) -> bool:
        return not self.not_logged

    def summary(self, run_dir: str | None = None) -> str:
        head = (
            f"MLflow {self.tracking_uri}, experiment {self.experiment!r}: {len(self.logged)} attempt(s) "
            f"logged, {len(self.skipped)} already there"
        )
        if self.parent_run_id:
            head += f"; run {self.parent_run_id}"
        if self.model_uri:
            head += f"; model {self.model_uri}"
        if self.complete:
            return head
        lines = [head, f"NOT logged ({len(self.not_logged)}):"]
        by_reason: dict[str, list[str]] = {}
        for unlogged in self.not_logged:
            by_reason.setdefault(unlogged.reason, []).append(unlogged.item)
        for reason, items in by_reason.items():
            lines.append(
                f"  {', '.join(items)}: {reason}"
                if len(items) < 3
                else f"  {reason}:\n    {', '.join(items)}"
            )
        where = run_dir or self.run_dir or "RUN_DIR"
        lines.append(f"Re-send later with: mlestar track {where} --tracking-uri {self.tracking_uri}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["complete"] = self.complete
        return data


SyncReport = TrackingReport
"""What sync_run returns (the same facts as the live tracker's report)."""
