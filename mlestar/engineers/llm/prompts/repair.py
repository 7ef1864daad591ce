"""Prompts that repair: debugging a failed script, and the re-ask after an unusable reply."""

from __future__ import annotations

from mlestar.engineers.base import TaskContext
from mlestar.engineers.llm.prompts.checks import BLOCKS_FORMAT
from mlestar.engineers.llm.prompts.common import ERROR_LIMIT, clip, script_view, system, task_brief, user
from mlestar.llm.client import Message


def debug(ctx: TaskContext, script: str, error: str) -> list[Message]:
    return [
        system("debug", "You fix a solution script that failed when the harness ran it."),
        user(
            task_brief(ctx),
            "SCRIPT:\n" + script_view(script),
            "WHAT HAPPENED (trimmed):\n```text\n" + clip(error.strip(), ERROR_LIMIT) + "\n```",
            "Fix the cause of the failure and keep everything else as it is. Do not hide errors "
            "with try/except, do not install packages, do not call exit().",
            BLOCKS_FORMAT,
        ),
    ]


def reask(reason: str, reply_format: str) -> Message:
    """Fed back after a reply that could not be used: why, and the format again."""
    return Message(
        "user",
        f"Your reply could not be used: {clip(reason, 1500)}\nPlease answer again.\n{reply_format}",
    )
