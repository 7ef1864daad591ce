"""One prompt builder per role of the search; each returns the messages to send.

Every prompt carries the harness contract (mlestar.contract.CONTRACT) in its system message and
only what its role needs. Each builder takes a Room (room.py): with the default one, long
scripts, descriptions and tracebacks are clipped to keep a prompt within PROMPT_LIMIT
characters; fit() trims further, in a stated order, for models with a small context window.
"""

from __future__ import annotations

from mlestar.engineers.llm.prompts.checks import check_data_usage, check_leakage
from mlestar.engineers.llm.prompts.common import ROLE_STYLE
from mlestar.engineers.llm.prompts.ensemble import plan_ensemble
from mlestar.engineers.llm.prompts.initial import (
    draft,
    merge,
    retrieve_from_cards,
    retrieve_from_results,
    retrieve_web,
)
from mlestar.engineers.llm.prompts.refine import (
    ablate,
    implement,
    pick_block,
    plan_next,
    summarize_ablation,
)
from mlestar.engineers.llm.prompts.repair import debug, reask
from mlestar.engineers.llm.prompts.room import DEFAULT_ROOM, TRIM_ORDER, Room, fit, size

PROMPT_LIMIT = 24_500
"""Characters in all messages of one prompt, for the largest inputs the tests use."""

__all__ = [
    "DEFAULT_ROOM",
    "PROMPT_LIMIT",
    "ROLE_STYLE",
    "TRIM_ORDER",
    "Room",
    "ablate",
    "check_data_usage",
    "check_leakage",
    "debug",
    "draft",
    "fit",
    "implement",
    "merge",
    "pick_block",
    "plan_ensemble",
    "plan_next",
    "reask",
    "retrieve_from_cards",
    "retrieve_from_results",
    "retrieve_web",
    "size",
    "summarize_ablation",
]
