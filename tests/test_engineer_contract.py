"""One contract for every engineer (mlestar.engineers.checks), run over the built-in engineer, the LLM
engineer answering through the shipped scripted client (mlestar.llm.fakes, no fallback engineer:
every answer is the model's) and the tests' scripted engineer; and the checks themselves, which
catch an engineer that breaks a rule and say what was expected."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mlestar.blocks import block_names
from mlestar.engineers.base import ENSEMBLE_KINDS, BlockChoice, Engineer, EnsemblePlan, TaskContext, Usage
from mlestar.engineers.builtin import BuiltinEngineer
from mlestar.engineers.checks import (
    ContractViolation,
    check_ablate,
    check_debug,
    check_draft,
    check_engineer,
    check_implement_and_settle,
    check_pick_block,
    check_plan_ensemble,
    check_take_usage,
    engineer_checks,
)
from mlestar.engineers.llm.engineer import LLMEngineer
from mlestar.llm.fakes import FunctionClient
from mlestar.search.combine import KINDS
from tests.llm_support import GoodModel
from tests.scripted_engineer import ScriptedEngineer
from tests.test_builtin_tasks import make_task


def _llm() -> LLMEngineer:
    model = GoodModel(broken_draft=None)
    client = FunctionClient(
        lambda messages, role: model.answer(role, "\n\n".join(m.content for m in messages))
    )
    client.web_search = True  # it retrieves on its own (the product gives it the built-in's cards)
    return LLMEngineer(client)


ENGINEERS: dict[str, Callable[[], Any]] = {
    "builtin": BuiltinEngineer,
    "llm": _llm,
    "scripted": ScriptedEngineer,
}


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> TaskContext:
    return make_task(tmp_path_factory.mktemp("contract"), "regression").ctx


@pytest.mark.parametrize("check", list(engineer_checks()), ids=lambda c: c.__name__)
@pytest.mark.parametrize("kind", ENGINEERS)
def test_every_engineer_meets_the_contract(kind: str, check: Callable[..., None], ctx: TaskContext) -> None:
    check(ENGINEERS[kind](), ctx)


def test_the_harness_computes_every_kind_an_engineer_may_name() -> None:
    assert ENSEMBLE_KINDS == KINDS  # combine.py imports nothing from mlestar: the two must agree


# -- the checks catch what breaks the contract ------------------------------------------------
def _no_blocks(ctx: TaskContext, candidate: object) -> str:
    return "import numpy as np\nprint(np.zeros(1))\n"


def _no_outputs(ctx: TaskContext, candidate: object) -> str:
    return '"""Reads nothing, writes nothing."""\n\n# %% block: model\nx = 1\n'


def _raises(*args: object) -> object:
    raise ValueError("boom")


def _other_block(ctx: TaskContext, script: str, summary: str, refined: list[str]) -> BlockChoice:
    return BlockChoice("no-such-block", "improve it")


def _median(ctx: TaskContext, members: list, history: list) -> EnsemblePlan:
    return EnsemblePlan("median", "the median of the members")


def _with_marker(ctx: TaskContext, script: str, block: str, plan: str) -> str:
    return f"# %% block: {block}\nNOISE = 0.1\nFAIL = False\nSLEEP = 0.0\n"


def _duplicate_block(ctx: TaskContext, script: str, error: str) -> str:
    return f"{script}\n# %% block: {block_names(script)[0]}\nx = 1\n"


class _Spending:
    """take_usage that never resets: it keeps reporting the same call."""

    def __call__(self) -> Usage:
        return Usage(input_tokens=10, output_tokens=5, calls=1)


def _forgets(ctx: TaskContext, script: str, previous: list[str]) -> list:
    previous.append("taken")  # a role must not change what it was given
    return ScriptedEngineer().ablate(ctx, script, [])


BROKEN: list[tuple[str, Callable[..., Any], Callable[..., None], str]] = [
    ("draft", _no_blocks, check_draft, "draft: expected a script of named blocks"),
    ("draft", _no_outputs, check_draft, "draft: expected a script the contract gate lets through"),
    ("ablate", _raises, check_ablate, "ablate: expected an answer, found ValueError: boom"),
    ("ablate", _forgets, check_ablate, "ablate: expected its arguments left as they were"),
    ("pick_block", _other_block, check_pick_block, "pick_block: expected a block among"),
    ("plan_ensemble", _median, check_plan_ensemble, "plan_ensemble: expected a kind among"),
    ("implement", _with_marker, check_implement_and_settle, "implement: expected the block's code alone"),
    ("debug", _duplicate_block, check_debug, "debug: expected a script the harness runs"),
    ("take_usage", _Spending(), check_take_usage, "take_usage: expected nothing after a reset"),
]


@pytest.mark.parametrize(
    ("role", "answer", "check", "said"),
    BROKEN,
    ids=[getattr(b[1], "__name__", "never_resets") for b in BROKEN],
)
def test_a_broken_role_is_caught_with_what_was_expected(
    role: str, answer: Callable[..., Any], check: Callable[..., None], said: str, ctx: TaskContext
) -> None:
    engineer = ScriptedEngineer()
    setattr(engineer, role, answer)
    with pytest.raises(ContractViolation, match="^" + said.replace("(", r"\(")):
        check(engineer, ctx)
    with pytest.raises(ContractViolation):
        check_engineer(engineer, ctx)


def test_a_whole_engineer_passes_in_one_call(ctx: TaskContext) -> None:
    engineer: Engineer = ScriptedEngineer()
    check_engineer(engineer, ctx)
