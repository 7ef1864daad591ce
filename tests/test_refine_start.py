"""An outer refinement step starts only when its ablation and a first plan are likely to fit in the
refine stage's share: an ablation with no time left for a plan only takes the widening's time."""

from __future__ import annotations

from types import SimpleNamespace

from mlestar.search.budget import Budget
from mlestar.search.stages import Search
from tests.builders import build_node


def _steps_started(elapsed_s: float, script_s: float) -> list[int]:
    # 300 s, the final reserve 24 s: the refine stage starts nothing after 0.9 * 276 = 248.4 s.
    budget = Budget.plan(300.0, spent_before_s=elapsed_s, max_nodes=None, nodes_run=0)
    started: list[int] = []

    def refine_step(t: int) -> bool:
        started.append(t)
        return True

    cur = build_node("draft-0", started=0.0, ended=script_s)
    search = SimpleNamespace(
        settings=SimpleNamespace(t_outer=1), state=SimpleNamespace(current=cur), budget=budget,
        refine_step=refine_step,
    )  # fmt: skip
    Search.refine(search)  # type: ignore[arg-type]
    return started


def test_a_step_starts_when_its_ablation_and_a_plan_fit() -> None:
    assert _steps_started(elapsed_s=200.0, script_s=20.0) == [0]


def test_no_step_starts_when_only_the_ablation_would_fit() -> None:
    # One run of the script (half of it before the deadline, as for any attempt) would fit; two not.
    budget = Budget.plan(300.0, spent_before_s=230.0, max_nodes=None, nodes_run=0)
    assert budget.may_start("refine", 20.0) and not budget.may_start("refine", 40.0)
    assert _steps_started(elapsed_s=230.0, script_s=20.0) == []
