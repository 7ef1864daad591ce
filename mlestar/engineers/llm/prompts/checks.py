"""Prompts of the checks on a solution: data usage, and leakage with its fix."""

from __future__ import annotations

from collections.abc import Sequence

from mlestar.engineers.base import TaskContext
from mlestar.engineers.llm.prompts.common import clip, script_view, system, task_brief, user
from mlestar.engineers.llm.prompts.room import DEFAULT_ROOM, Room
from mlestar.llm.client import Message

ALL_DATA_USED = "ALL DATA USED"

BLOCKS_FORMAT = """\
Reply with code in one ```python fenced block: either the whole revised script, or only the
blocks you change or add, each starting with its own marker line "# %% block: <name>" (a new
block goes after the block you list before it; blocks you leave out stay as they are)."""

LEAKAGE_FORMAT = """\
Reply with a JSON object first:
{"leakage": true or false, "findings": ["<one line per leak>"], "block": "<name of the block to fix, or null>"}
If leakage is true, follow it with the new code of that block alone (without its marker line) in
one ```python fenced block; the rest of the script stays as it is, so keep the names later blocks use."""


def check_data_usage(ctx: TaskContext, script: str, *, room: Room = DEFAULT_ROOM) -> list[Message]:
    return [
        system("check_data_usage", "You make sure the solution uses the data it is given.", room=room),
        user(
            task_brief(ctx, room),
            "CURRENT SOLUTION:\n" + script_view(script, room.script),
            "Compare the solution with the task description and the data profile. Does it leave out "
            "provided information that would likely help: columns dropped without reason, text or "
            "date columns ignored, extra task files never read? Columns absent from the test table "
            "must stay unused.",
            f"If everything useful is used, reply with exactly: {ALL_DATA_USED}\n"
            f"Otherwise revise the solution to use it. {BLOCKS_FORMAT}",
        ),
    ]


def check_leakage(
    ctx: TaskContext, script: str, static_findings: Sequence[str], *, room: Room = DEFAULT_ROOM
) -> list[Message]:
    hints = ""
    if static_findings:
        listed = "\n".join(f"- {f}" for f in static_findings)
        hints = "A static check flagged:\n" + clip(listed, room.history)
    return [
        system("check_leakage", "You find data leakage and fix it.", code=True, room=room),
        user(
            task_brief(ctx, room),
            "SOLUTION TO CHECK:\n" + script_view(script, room.script),
            hints,
            "Look for leakage: anything fitted on validation or test rows' answers (scalers, "
            "encoders, target statistics, feature selection computed before the fold split), "
            "columns that exist in train but not in test or proxies of the answer, test labels, "
            "choosing anything by looking at validation scores inside the script.",
            LEAKAGE_FORMAT,
        ),
    ]
