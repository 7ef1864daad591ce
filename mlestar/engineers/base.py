"""The Engineer seam: the roles the MLE-STAR search asks an engineer to play.

Every role returns plain values (scripts are strings made of named blocks, see mlestar.blocks);
the search runs and scores everything itself, so an engineer never sees a score it did not get
from the harness. Each role may fail by raising EngineerFailure; the search then records a failed
attempt and falls back (to the built-in engineer for an LLM, or to the last working solution).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mlestar.contract import DEVICE_CPU
from mlestar.hardware import Hardware
from mlestar.task.spec import TaskSpec


class EngineerFailure(Exception):
    """A role could not produce a usable answer (unparsable reply, no block found, ...).

    Not part of the user-facing error tree: the search catches it and records a failed attempt.
    """


@dataclass(frozen=True)
class ScreenResult:
    """One row of the screening table: a candidate's first script tried cheaply on this task's data
    (a subsample of at most a few thousand rows, two folds, a time box) before any is drafted."""

    name: str
    family: str
    score: float | None
    """The task's metric on the screening split; None when the script failed or was not run."""
    seconds: float
    status: str
    """"ok", "failed", "timeout", "invalid", "rejected" (no script) or "skipped" (no time left)."""
    prior: int
    """Position in the engineer's own order (0 first): it orders the screening and breaks ties."""
    chosen: bool = False
    """Drafted on the search's folds (the M best, one per family first)."""
    interval: tuple[float, float] | None = None
    """The score's 90% bootstrap interval over the screening's validation rows, when it has one."""


def screening_table(results: tuple[ScreenResult, ...] | list[ScreenResult], note: str = "") -> str:
    """The screening table as text: for people (status, the live log) and for an LLM's prompt."""
    lines = [f"Screening{': ' + note if note else ''}"]
    lines.append(f"  {'rank':>4}  {'candidate':<28} {'family':<16} {'score':>10} {'time':>7}  status")
    for i, r in enumerate(results, start=1):
        score = "-" if r.score is None else f"{r.score:.5f}"
        mark = "  <- drafted" if r.chosen else ""
        lines.append(
            f"  {i:>4}  {r.name[:28]:<28} {r.family[:16]:<16} {score:>10} {r.seconds:6.1f}s  {r.status}{mark}"
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class TaskContext:
    """What every role may know about the task and the run."""

    spec: TaskSpec
    profile: dict[str, Any]
    """Column kinds, sizes, extra files: see mlestar.task.profile."""
    seed: int
    threads: int
    script_budget_s: float
    """A soft time limit for one script of this run."""
    data_dir: Path
    """The run's data folder (what the scripts see as ./input)."""
    screening: tuple[ScreenResult, ...] = ()
    """Evidence from this task's data, filled in once screening is done (empty before, and when
    there was nothing to screen): every candidate's cheap score, best first. Roles after retrieval
    (draft, merge, refinement, ensembles) may read it, e.g. to say which model families work here;
    screening_table() renders it as text for a prompt."""
    hardware: Hardware = field(default_factory=Hardware)
    """The machine the scripts run on (cores, memory, GPUs), as the CLI detected it."""
    device: str = DEVICE_CPU
    """What scripts find in $MLESTAR_DEVICE: "cuda" (they may train on the GPU) or "cpu"."""


@dataclass(frozen=True)
class Candidate:
    """A retrieved model: a model card with a short example."""

    name: str
    summary: str
    example: str = ""
    source: str = "builtin"
    family: str = ""
    """Models of one family (boosted trees, linear models on TF-IDF, ...) share it; screening drafts
    one per family first. Empty: the candidate is its own family."""
    references: tuple[str, ...] = ()
    """Pages a web search found the model on (grounded retrieval), for the draft to read."""


@dataclass(frozen=True)
class Variant:
    """One ablation variant: the current script with one block turned off or reset."""

    name: str
    description: str
    block: str
    code: str
    """The whole variant script."""


@dataclass(frozen=True)
class AblationResult:
    """A variant's score beside the base score, for the summary and the block choice."""

    variant: Variant
    score: float | None
    base_score: float
    lower_is_better: bool

    @property
    def impact(self) -> float | None:
        """How much worse the script gets without this part (positive: the part helps)."""
        if self.score is None:
            return None
        delta = self.score - self.base_score
        return delta if self.lower_is_better else -delta


@dataclass(frozen=True)
class BlockChoice:
    block: str
    plan: str


@dataclass(frozen=True)
class PlanOutcome:
    """A previous plan on the target block and how it scored (None: it failed)."""

    plan: str
    score: float | None
    base_score: float


@dataclass(frozen=True)
class EnsembleMember:
    node_id: str
    plan: str
    score: float


ENSEMBLE_KINDS = ("average", "greedy", "stacking")
"""What the harness computes from stored predictions (search/combine.py, which imports nothing
from mlestar, spells them again as KINDS)."""


@dataclass(frozen=True)
class EnsemblePlan:
    """How to combine members: one of ENSEMBLE_KINDS, computed by the harness on stored
    predictions, or "script", an engineer-written script scored like any other."""

    kind: str
    plan: str
    members: tuple[str, ...] = ()
    code: str | None = None


@dataclass(frozen=True)
class LeakageReport:
    leaks: tuple[str, ...]
    """One line per finding; empty when the script is clean."""
    fixed_code: str | None = None


@dataclass
class Usage:
    """Tokens and cost an engineer spent; the search moves it onto journal nodes."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0
    by_role: dict[str, dict[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": self.cost_usd,
            "calls": self.calls,
            "by_role": {role: dict(v) for role, v in self.by_role.items()},
        }


class Engineer(Protocol):
    """The roles of the search. Implementations: builtin.BuiltinEngineer, llm.LLMEngineer; a new one
    is held to the contract by engineers.checks.check_engineer."""

    name: str

    def retrieve(self, ctx: TaskContext, m: int) -> list[Candidate]: ...

    def draft(self, ctx: TaskContext, candidate: Candidate) -> str: ...

    def merge(self, ctx: TaskContext, base: str, other: str, other_candidate: Candidate) -> str: ...

    def check_data_usage(self, ctx: TaskContext, script: str) -> str | None:
        """A revised script that uses data the current one ignores, or None if all is used."""
        ...

    def check_leakage(self, ctx: TaskContext, script: str) -> LeakageReport: ...

    def ablate(self, ctx: TaskContext, script: str, previous: list[str]) -> list[Variant]: ...

    def summarize_ablation(self, ctx: TaskContext, results: list[AblationResult]) -> str: ...

    def pick_block(self, ctx: TaskContext, script: str, summary: str, refined: list[str]) -> BlockChoice: ...

    def plan_next(self, ctx: TaskContext, script: str, block: str, history: list[PlanOutcome]) -> str: ...

    def implement(self, ctx: TaskContext, script: str, block: str, plan: str) -> str:
        """The new code of `block` alone (marker line excluded)."""
        ...

    def settle(self, ctx: TaskContext, script: str) -> str:
        """The script after implement's block was spliced in, with any other block brought in line
        with it (e.g. a second member needs a combining main); most engineers return it unchanged."""
        ...

    def plan_ensemble(
        self, ctx: TaskContext, members: list[EnsembleMember], history: list[PlanOutcome]
    ) -> EnsemblePlan: ...

    def debug(self, ctx: TaskContext, script: str, error: str) -> str: ...

    def take_usage(self) -> Usage:
        """What was spent since the last call, then reset."""
        ...
