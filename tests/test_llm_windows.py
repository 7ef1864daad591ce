"""Prompts fit the model's context window: trimmed in the stated order, answers capped to what
the window leaves, and a window too small for any prompt refused with a reason."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from mlestar.engineers.base import PlanOutcome
from mlestar.engineers.llm import LLMEngineer, prompts
from mlestar.engineers.llm.asking import CHARS_PER_TOKEN, Asker, UsageLedger, Window, min_answer
from mlestar.engineers.llm.prompts.room import DEFAULT_ROOM, FLOORS, TRIM_ORDER, Room, shrink
from mlestar.llm.fakes import ScriptedClient
from mlestar.llm.settings import ROLES
from tests.llm_support import SCRIPT, RecordingFallback, context, fenced


def _rooms() -> list[Room]:
    rooms, room = [DEFAULT_ROOM], shrink(DEFAULT_ROOM)
    while room is not None:
        rooms.append(room)
        room = shrink(room)
    return rooms


def test_rooms_shrink_in_the_stated_order_down_to_their_floors() -> None:
    rooms = _rooms()
    first_cut = {}
    for before, after in zip(rooms, rooms[1:], strict=False):
        changed = [n for n in (*TRIM_ORDER, "house_style") if getattr(before, n) != getattr(after, n)]
        assert len(changed) == 1
        first_cut.setdefault(changed[0], len(first_cut))
    assert list(first_cut) == [*TRIM_ORDER, "house_style"]  # profile first, the house style last
    assert rooms[-1] == FLOORS and shrink(FLOORS) is None


def _long_ctx(tmp: Path):  # type: ignore[no-untyped-def]
    ctx = context(tmp, description="A long task description. " * 400)
    return replace(ctx, profile={"columns": {f"c{i}": {"kind": "numeric"} for i in range(300)}})


def test_fit_keeps_the_contract_and_the_block_at_work_while_trimming(tmp_path: Path) -> None:
    ctx = _long_ctx(tmp_path)
    history = [PlanOutcome(f"plan {i} " * 40, 0.5, 0.6) for i in range(12)]
    full = prompts.plan_next(ctx, SCRIPT, "features", history)
    fitted = prompts.fit(lambda room: prompts.plan_next(ctx, SCRIPT, "features", history, room=room), 9000)
    assert prompts.size(full) > 9000 >= prompts.size(fitted)
    text = "\n".join(m.content for m in fitted)
    assert "HARNESS CONTRACT" in text and "use exactly the harness's folds" in text
    assert 'cols = [c for c in test.columns if c != "id"]' in text  # the block being planned for
    assert "characters cut" in text  # the profile and description were trimmed, not dropped whole


@pytest.mark.parametrize("role", ROLES)
def test_every_role_fits_an_eight_thousand_token_window(role: str, tmp_path: Path) -> None:
    """With a 8k window and a long task, every prompt is trimmed to fit and leaves its answer room."""
    ctx = _long_ctx(tmp_path)
    window = Window(context_tokens=8192, max_output_tokens=4096)
    asker = Asker(
        dict.fromkeys(ROLES, ScriptedClient([])), UsageLedger(), windows=dict.fromkeys(ROLES, window)
    )
    build = {
        "draft": lambda room: prompts.draft(ctx, RecordingFallback().retrieve(ctx, 1)[0], room=room),
        "debug": lambda room: prompts.debug(ctx, SCRIPT, "Traceback\n" + "  line\n" * 3000, room=room),
        "implement": lambda room: prompts.implement(ctx, SCRIPT, "features", "plan " * 500, room=room),
    }.get(role, lambda room: prompts.check_data_usage(ctx, SCRIPT, room=room))
    messages, cap = asker.prompt(role, build)
    tokens = prompts.size(messages) / CHARS_PER_TOKEN
    assert tokens + cap <= 8192 and cap >= min_answer(min(4096, prompts.ROLE_STYLE[role].max_tokens))


def test_a_window_too_small_for_any_prompt_is_refused_with_a_reason(tmp_path: Path) -> None:
    client = ScriptedClient([])
    fallback = RecordingFallback()
    eng = LLMEngineer(client, fallback, windows=dict.fromkeys(ROLES, Window(context_tokens=2048)))
    ctx = context(tmp_path)
    assert eng.draft(ctx, fallback.retrieve(ctx, 1)[0]) == SCRIPT  # the fallback's draft
    assert client.calls == [] and "cannot hold the smallest draft prompt" in eng.fallback_log[0][1]


def test_the_engineer_sends_the_trimmed_prompt_and_the_capped_answer(tmp_path: Path) -> None:
    ctx = _long_ctx(tmp_path)
    client = ScriptedClient({"implement": [fenced("X, X_test = 1, 2")]})
    window = Window(context_tokens=6000, max_output_tokens=4096)
    eng = LLMEngineer(client, RecordingFallback(), windows=dict.fromkeys(ROLES, window))
    eng.implement(ctx, SCRIPT, "features", "Use fewer columns.")
    call = client.calls[0]
    assert call.max_tokens is not None and len(call.prompt) / CHARS_PER_TOKEN + call.max_tokens <= 6000
    assert call.max_tokens < 4096  # less than the role's cap: the prompt took the rest
