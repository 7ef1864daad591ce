"""What a run hands over, decided from the journal alone (pure functions).

The best node is a script, or an ensemble of stored predictions. An ensemble's members with zero
weight (greedy selection often leaves some out) take no part: they are not refit and not written
into solution.py. Which members the final fit can refit in the time left is decided here too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mlestar.journal import Node
from mlestar.search.budget import run_seconds

MIN_REFIT_S = 10.0
"""The least a refit is assumed to take (starting a script, reading the data)."""


@dataclass(frozen=True)
class HandoverPlan:
    best: str
    kind: str
    """"script", or how the ensemble combines its members: "average", "greedy" or "stacking"."""
    members: tuple[str, ...]
    """The scripts that run in the final fit and in solution.py (the best itself for a script)."""
    weights: tuple[float, ...]
    """One per member ("stacking" fits a meta-model instead and ignores them)."""
    dropped: tuple[str, ...] = ()
    """Ensemble members with zero weight, left out."""

    @property
    def weights_by_member(self) -> dict[str, float]:
        return dict(zip(self.members, self.weights, strict=True))


@dataclass(frozen=True)
class MemberFit:
    """How one member's final predictions came about."""

    member: str
    refit: Node | None
    """The final-<member> attempt, when it ran and worked."""
    reason: str | None = None
    """Why the member's stored predictions stand in for a refit."""
    reused: bool = False
    """Its search run fitted what a refit would (every row, one run, the frozen settings): its
    predictions and saved model are the final ones, and nothing is refit."""

    @property
    def source_id(self) -> str:
        """The node whose predictions the submission uses."""
        return self.refit.id if self.refit is not None else self.member

    @property
    def model_id(self) -> str | None:
        """The node whose saved model is the member's final model (None: it has none)."""
        if self.refit is not None:
            return self.refit.id
        return self.member if self.reused else None


def plan_of(best: Node) -> HandoverPlan:
    if best.code_path is not None:  # a script, an engineer-written ensemble script included
        return HandoverPlan(best.id, "script", (best.id,), (1.0,))
    kind = str(best.meta.get("kind", "average"))
    members = [str(m) for m in best.meta.get("members", [])]
    weights = [float(w) for w in best.meta.get("weights") or [1.0 / len(members)] * len(members)]
    if kind == "stacking":
        return HandoverPlan(best.id, kind, tuple(members), tuple(weights))
    kept = [(m, w) for m, w in zip(members, weights, strict=True) if w > 0]
    dropped = tuple(m for m, w in zip(members, weights, strict=True) if w <= 0)
    return HandoverPlan(best.id, kind, tuple(m for m, _ in kept), tuple(w for _, w in kept), dropped)


def schedule(
    members: Sequence[str],
    weights: Mapping[str, float],
    nodes: Mapping[str, Node],
    lanes: int,
    remaining_s: float,
) -> tuple[list[str], dict[str, str]]:
    """(members to refit, in the order they start; {member: why it is not refit}). The most
    weighted go first, each to the least loaded of `lanes` parallel workers, each expected to
    take what its search run took (once); a member that would not finish in the time left is refused."""
    loads = [0.0] * max(1, lanes)
    admitted: list[str] = []
    refused: dict[str, str] = {}
    for member in sorted(members, key=lambda m: (-weights.get(m, 0.0), m)):
        need = max(MIN_REFIT_S, run_seconds(nodes[member]))
        lane = loads.index(min(loads))
        if loads[lane] + need > remaining_s:
            left = max(0.0, remaining_s - loads[lane])
            refused[member] = f"no time left to refit it: it takes about {need:.0f} s, {left:.0f} s were left"
            continue
        loads[lane] += need
        admitted.append(member)
    return admitted, refused
