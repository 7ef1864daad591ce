"""One attempt of the search (a node of the journal) and the words that describe it.

Stage and Status are StrEnums: they compare equal to their values and are written to JSON as
those values, so a journal reads the same as before they existed and old journals load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Stage(StrEnum):
    """Where in the search an attempt sits (also the names of the search's stages)."""

    SCREEN = "screen"
    """A candidate's first script tried cheaply on the screening split (retrieval)."""
    DRAFT = "draft"
    MERGE = "merge"
    CHECK = "check"
    """Data usage and leakage checks of the merged solution."""
    ABLATION = "ablation"
    """A variant of the current solution with one part taken out (inside the refine stage)."""
    REFINE = "refine"
    WIDEN = "widen"
    """More drafts and seed variants with the time refinement left over."""
    ENSEMBLE = "ensemble"
    FINAL = "final"
    """The hand-over: the final fit on every row, or the trivial fallback."""


class Status(StrEnum):
    """How an attempt ended."""

    OK = "ok"
    FAILED = "failed"
    """The script ran and exited with an error (or was killed)."""
    TIMEOUT = "timeout"
    REJECTED = "rejected"
    """Never ran: the engineer could not write it, or its blocks were malformed."""
    INVALID = "invalid"
    """Ran, but its outputs could not be scored (missing, wrong shape, not finite)."""
    SKIPPED = "skipped"
    """Never ran because the budget (time or --max-nodes) did not allow it. Handed back to the
    caller so results keep their order, but never journaled: a resumed run may still run it."""


SCRIPT_STAGES = (Stage.DRAFT, Stage.MERGE, Stage.CHECK, Stage.ABLATION, Stage.REFINE, Stage.WIDEN)
"""Stages whose working attempts are whole solution scripts, scored on the run's folds (an ablation
variant included: when taking a part out scores better, that script is a better solution). The
screen stage's attempts are not among them: they ran on a cheaper split."""
SOLUTION_STAGES = (*SCRIPT_STAGES, Stage.ENSEMBLE)
"""What the run may hand over: any of those scripts, or an ensemble of them (a seed variant only
as a member: see Node.seed_of)."""

SEED_OF = "seed_of"
"""Meta key of a seed variant (widening): the script it repeats with another SEED."""
SAME_PREDICTIONS = "same_predictions_as"
"""Meta key of an attempt whose script ran and predicted exactly what an earlier one did."""


@dataclass(frozen=True, kw_only=True)
class Node:
    """One attempt of the search."""

    id: str
    """Stable key of the attempt, derived from its place in the search (e.g. "draft-2")."""
    parent: str | None
    stage: Stage
    role: str
    """The engineer role that wrote it ("draft", "implement", "debug", ...) or the harness's."""
    plan: str
    code_path: str | None
    """The script, relative to the run folder."""
    status: Status
    score: float | None
    started: float
    ended: float
    result: dict[str, Any] | None = None
    """The runner's RunResult as JSON, when a script ran."""
    error: str | None = None
    """One line on why the attempt failed or was rejected."""
    usage: dict[str, Any] = field(default_factory=dict)
    """Tokens and cost spent by the engineer on this attempt, in total and by role."""
    meta: dict[str, Any] = field(default_factory=dict)
    """Stage-specific facts: model card, block name, ensemble members, debug round, and for an
    attempt whose script repeats an earlier one exactly, that attempt ("same_as"); for one whose
    script ran and predicted exactly what an earlier one did, that one ("same_predictions_as"). Scored attempts
    carry "interval" ([low, high], a 90% bootstrap interval of the score over the validation rows);
    on small data "repeats" (splits run, their out-of-fold predictions averaged) and
    "repeat_scores" (each split's own score); screening attempts carry "split": "screen". Attempts
    that ran a script carry "ran" (see RAN)."""

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Node:
        return cls(**{**record, "stage": Stage(record["stage"]), "status": Status(record["status"])})

    @property
    def ok(self) -> bool:
        return self.status == Status.OK and self.score is not None

    @property
    def is_solution(self) -> bool:
        """A working attempt the run may hand over (SOLUTION_STAGES, not a seed variant alone)."""
        return self.ok and self.stage in SOLUTION_STAGES and self.seed_of is None

    @property
    def seed_of(self) -> str | None:
        """The script this attempt repeats with another seed, when it is a seed variant. Variants
        are made to be averaged: one alone is never handed over, since its edge over its script
        is the luck of one draw, chosen after the fact."""
        base = self.meta.get(SEED_OF)
        return str(base) if base else None

    @property
    def repeat_of(self) -> str | None:
        """The earlier attempt this one adds nothing to: the same script (not run again), or one
        whose predictions these are value for value. A repeat is no new member or script to seed."""
        twin = self.meta.get("same_as") or self.meta.get(SAME_PREDICTIONS)
        return str(twin) if twin else None

    @property
    def repeat_note(self) -> str:
        """How the run's lines say what this attempt repeats, as a prefix of its plan ("" for none)."""
        if "same_as" in self.meta:
            return f"(same script as {self.meta['same_as']}: not run again) "
        if SAME_PREDICTIONS in self.meta:
            return f"(same predictions as {self.meta[SAME_PREDICTIONS]}) "
        return ""

    @property
    def interval(self) -> tuple[float, float] | None:
        """The score's 90% bootstrap interval (meta "interval"), when it has one."""
        low_high = self.meta.get("interval")
        if isinstance(low_high, list | tuple) and len(low_high) == 2:
            return float(low_high[0]), float(low_high[1])
        return None

    @property
    def script_spans(self) -> list[tuple[float, float]]:
        """When the attempt's script itself ran, one (start, end) per split: the node's span less
        the harness's own work around it (writing, judging, scoring). A node journaled before the
        spans were kept: its whole span. No script ran: none."""
        if self.result is None:
            return []
        spans = self.meta.get(RAN)
        if not spans:
            return [(self.started, self.ended)]
        return [(float(start), float(end)) for start, end in spans]

    @property
    def duration_s(self) -> float:
        """How long the attempt's script takes: its own run, or for a repeat of an earlier
        identical script (meta "same_as"), that run's time, which is what running it again costs."""
        return float(self.meta.get("same_as_s", self.ended - self.started))


RAN = "ran"
"""Node meta key: [[start, end], ...], the epoch seconds each run of the attempt's script began
and ended (the executor's own duration, ending when the harness got the result back)."""
