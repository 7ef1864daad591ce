"""The engineer contract, checked role by role, in the spirit of scikit-learn's `check_estimator`.

An engineer is any object with the roles of `engineers.base.Engineer`. Each check asks one role the
question the search would ask on a fresh task (its own draft as the script, no history yet) and
raises ContractViolation naming the role, what was expected and what came back:

    check_engineer(MyEngineer(), ctx)                 every check, the first violation raised
    for check in engineer_checks(): check(eng, ctx)   one at a time (a test parametrizes over them)

On that fresh question every role answers: EngineerFailure (the way a role says it cannot answer,
which the search journals and goes on from) is a violation here as much as any other exception.
Nothing runs a script; a script is judged by what the harness and the contract gate refuse before
running one (it parses, its named blocks are unique, it reads the folds and writes both prediction
files, defines every name it uses, breaks no contract rule).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from mlestar import blocks
from mlestar.engineers.base import (
    ENSEMBLE_KINDS,
    AblationResult,
    BlockChoice,
    Candidate,
    Engineer,
    EnsembleMember,
    EnsemblePlan,
    LeakageReport,
    PlanOutcome,
    TaskContext,
    Usage,
    Variant,
)
from mlestar.engineers.llm.gate import script_findings

Check = Callable[[Engineer, TaskContext], None]
PLAN_KINDS = (*ENSEMBLE_KINDS, "script")
"""What an EnsemblePlan's kind may be: combined by the harness, or a script the engineer wrote."""


class ContractViolation(AssertionError):
    """A role answered outside the contract (or raised)."""


def check_engineer(engineer: Engineer, ctx: TaskContext) -> None:
    """Every check in turn; the first violation is raised."""
    for check in engineer_checks():
        check(engineer, ctx)


def engineer_checks() -> Iterator[Check]:
    yield check_name
    yield check_retrieve
    yield check_draft
    yield check_merge
    yield check_data_usage
    yield check_leakage
    yield check_ablate
    yield check_summarize_ablation
    yield check_pick_block
    yield check_plan_next
    yield check_implement_and_settle
    yield check_plan_ensemble
    yield check_debug
    yield check_take_usage


# -- the checks -------------------------------------------------------------------------------
def check_name(engineer: Engineer, ctx: TaskContext) -> None:
    name = getattr(engineer, "name", None)
    _expect(isinstance(name, str) and name.strip() != "", "name", "a non-empty string", name)


def check_retrieve(engineer: Engineer, ctx: TaskContext) -> None:
    cards = _candidates(engineer, ctx, 2)
    _expect(len({c.name for c in cards}) == len(cards), "retrieve", "distinct names", [c.name for c in cards])
    for card in cards:
        _expect(card.summary.strip() != "", "retrieve", f"a summary for {card.name}", card.summary)


def check_draft(engineer: Engineer, ctx: TaskContext) -> None:
    _draft(engineer, ctx)


def check_merge(engineer: Engineer, ctx: TaskContext) -> None:
    cards = _candidates(engineer, ctx, 2)
    base = _script("draft", _ask("draft", engineer.draft, ctx, cards[0]))
    other = _script("draft", _ask("draft", engineer.draft, ctx, cards[-1]))
    _script("merge", _ask("merge", engineer.merge, ctx, base, other, cards[-1]))


def check_data_usage(engineer: Engineer, ctx: TaskContext) -> None:
    revised = _ask("check_data_usage", engineer.check_data_usage, ctx, _draft(engineer, ctx))
    if revised is not None:
        _script("check_data_usage", revised)


def check_leakage(engineer: Engineer, ctx: TaskContext) -> None:
    report = _ask("check_leakage", engineer.check_leakage, ctx, _draft(engineer, ctx))
    _expect(isinstance(report, LeakageReport), "check_leakage", "a LeakageReport", report)
    _expect(all(isinstance(x, str) for x in report.leaks), "check_leakage", "findings as text", report.leaks)
    if report.fixed_code is not None:
        _script("check_leakage", report.fixed_code)


def check_ablate(engineer: Engineer, ctx: TaskContext) -> None:
    _variants(engineer, ctx, _draft(engineer, ctx))


def check_summarize_ablation(engineer: Engineer, ctx: TaskContext) -> None:
    script = _draft(engineer, ctx)
    lower = ctx.spec.lower_is_better
    results = [
        AblationResult(v, 1.0 + 0.1 * i if lower else 1.0 - 0.1 * i, 1.0, lower)
        for i, v in enumerate(_variants(engineer, ctx, script), start=1)
    ]
    summary = _ask("summarize_ablation", engineer.summarize_ablation, ctx, list(results))
    _expect(isinstance(summary, str) and summary.strip() != "", "summarize_ablation", "a summary", summary)


def check_pick_block(engineer: Engineer, ctx: TaskContext) -> None:
    _block_choice(engineer, ctx, _draft(engineer, ctx))


def check_plan_next(engineer: Engineer, ctx: TaskContext) -> None:
    script = _draft(engineer, ctx)
    _plan(engineer, ctx, script, _block_choice(engineer, ctx, script).block)


def check_implement_and_settle(engineer: Engineer, ctx: TaskContext) -> None:
    """The block's new code alone (its marker line left to the search), which spliced in and
    settled is a script with the same blocks."""
    script = _draft(engineer, ctx)
    block = _block_choice(engineer, ctx, script).block
    body = _ask("implement", engineer.implement, ctx, script, block, _plan(engineer, ctx, script, block))
    _expect(isinstance(body, str) and body.strip() != "", "implement", "the block's new code", body)
    _expect(blocks.block_names(body) == [], "implement", "the block's code alone, no marker line", body[:200])
    settled = _script(
        "settle", _ask("settle", engineer.settle, ctx, blocks.replace_block(script, block, body))
    )
    names = blocks.block_names(script)
    _expect(
        blocks.block_names(settled) == names, "settle", f"the blocks {names}", blocks.block_names(settled)
    )


def check_plan_ensemble(engineer: Engineer, ctx: TaskContext) -> None:
    lower = ctx.spec.lower_is_better
    members = [
        EnsembleMember(f"draft-{i}", f"draft {i}", 1.0 + (0.1 if lower else -0.1) * i) for i in range(3)
    ]
    plan = _ask("plan_ensemble", engineer.plan_ensemble, ctx, list(members), [])
    _expect(isinstance(plan, EnsemblePlan), "plan_ensemble", "an EnsemblePlan", plan)
    _expect(plan.kind in PLAN_KINDS, "plan_ensemble", f"a kind among {PLAN_KINDS}", plan.kind)
    ids = {m.node_id for m in members}
    _expect(set(plan.members) <= ids, "plan_ensemble", f"members among {sorted(ids)}", plan.members)
    _expect(plan.plan.strip() != "", "plan_ensemble", "the plan in words", plan.plan)
    _expect(
        (plan.code is not None) == (plan.kind == "script"),
        "plan_ensemble",
        "code only for a script",
        plan.code,
    )
    if plan.code is not None:
        _script("plan_ensemble", plan.code)


def check_debug(engineer: Engineer, ctx: TaskContext) -> None:
    script = _draft(engineer, ctx)
    error = "Traceback (most recent call last):\n  ...\nKeyError: 'no_such_column'"
    _script("debug", _ask("debug", engineer.debug, ctx, script, error))


def check_take_usage(engineer: Engineer, ctx: TaskContext) -> None:
    """What was spent since the last call, then reset: a second call right after spends nothing."""
    _draft(engineer, ctx)
    first = _ask("take_usage", engineer.take_usage)
    _expect(isinstance(first, Usage), "take_usage", "a Usage", first)
    again = _ask("take_usage", engineer.take_usage)
    _expect(again.calls == 0 and again.input_tokens == 0, "take_usage", "nothing after a reset", again)


# -- the questions, as the search asks them ---------------------------------------------------
def _candidates(engineer: Engineer, ctx: TaskContext, m: int) -> list[Candidate]:
    cards = _ask("retrieve", engineer.retrieve, ctx, m)
    _expect(isinstance(cards, list) and 0 < len(cards) <= m, "retrieve", f"1 to {m} candidates", cards)
    _expect(all(isinstance(c, Candidate) for c in cards), "retrieve", "Candidate objects", cards)
    return cards


def _draft(engineer: Engineer, ctx: TaskContext) -> str:
    return _script("draft", _ask("draft", engineer.draft, ctx, _candidates(engineer, ctx, 1)[0]))


def _variants(engineer: Engineer, ctx: TaskContext, script: str) -> list[Variant]:
    previous: list[str] = []
    variants = _ask("ablate", engineer.ablate, ctx, script, previous)
    _expect(previous == [], "ablate", "its arguments left as they were", previous)
    _expect(isinstance(variants, list) and variants != [], "ablate", "at least one variant", variants)
    names = blocks.block_names(script)
    for v in variants:
        _expect(isinstance(v, Variant), "ablate", "Variant objects", v)
        _expect(v.block in names, "ablate", f"a block among {names}", v.block)
        _expect(v.code != script, "ablate", f"variant {v.name} unlike the script", "the script itself")
        _script("ablate", v.code)
    _expect(
        len({v.name for v in variants}) == len(variants),
        "ablate",
        "distinct names",
        [v.name for v in variants],
    )
    return variants


def _block_choice(engineer: Engineer, ctx: TaskContext, script: str) -> BlockChoice:
    choice = _ask("pick_block", engineer.pick_block, ctx, script, "no ablation ran yet", [])
    names = blocks.block_names(script)
    _expect(isinstance(choice, BlockChoice), "pick_block", "a BlockChoice", choice)
    _expect(choice.block in names, "pick_block", f"a block among {names}", choice.block)
    return choice


def _plan(engineer: Engineer, ctx: TaskContext, script: str, block: str) -> str:
    history: list[PlanOutcome] = []
    plan = _ask("plan_next", engineer.plan_next, ctx, script, block, history)
    _expect(isinstance(plan, str) and plan.strip() != "", "plan_next", "a plan in words", plan)
    return plan


def _script(role: str, script: Any) -> str:
    _expect(isinstance(script, str), role, "a script (text)", type(script).__name__)
    try:
        blocks.validate(script)
    except blocks.BlockError as e:
        raise ContractViolation(f"{role}: expected a script the harness runs, found one where {e}") from None
    _expect(blocks.block_names(script) != [], role, "a script of named blocks", "no block marker")
    findings = script_findings(script)
    _expect(findings == [], role, "a script the contract gate lets through", "; ".join(findings[:3]))
    return str(script)


def _ask(role: str, answer: Callable[..., Any], *args: Any) -> Any:
    try:
        return answer(*args)
    except Exception as e:
        raise ContractViolation(f"{role}: expected an answer, found {type(e).__name__}: {e}") from e


def _expect(ok: bool, role: str, expected: str, found: object) -> None:
    if not ok:
        raise ContractViolation(f"{role}: expected {expected}, found {str(found)[:300]!s}")
