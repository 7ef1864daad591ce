"""Prompts that repair: debugging a failed script, and the re-ask after an unusable reply."""

from __future__ import annotations

import re
from pathlib import Path

from mlestar.engineers.base import TaskContext
from mlestar.engineers.llm.prompts.checks import BLOCKS_FORMAT
from mlestar.engineers.llm.prompts.common import clip, script_view, system, task_brief, user
from mlestar.engineers.llm.prompts.room import DEFAULT_ROOM, Room
from mlestar.llm.client import Message


def debug(ctx: TaskContext, script: str, error: str, *, room: Room = DEFAULT_ROOM) -> list[Message]:
    return [
        system("debug", "You fix a solution script that failed when the harness ran it.", room=room),
        user(
            task_brief(ctx, room),
            "SCRIPT:\n" + script_view(script, room.script),
            "WHAT HAPPENED (trimmed):\n```text\n"
            + clip(portable_error(error, ctx.data_dir.parent).strip(), room.error)
            + "\n```",
            "Fix the cause of the failure and keep everything else as it is. Do not hide errors "
            "with try/except, do not install packages, do not call exit().",
            BLOCKS_FORMAT,
        ),
    ]


def portable_error(error: str, run_root: Path) -> str:
    """The error with machine-specific paths cut: the attempt's own folder, the run folder and
    where Python and its packages live. Shorter, and the same on every machine, so a recorded
    run's debug prompts are found again on replay."""
    root = re.escape(str(run_root).rstrip("/"))
    text = re.sub(root + r"/attempts/[^/\"]+/", "", error)
    text = re.sub(root, "RUN_DIR", text)
    text = re.sub(r'File "[^"]*/(site-packages|dist-packages)/', r'File "\1/', text)
    return re.sub(r'File "[^"]*/lib/(python3[\d.]*)/', r'File "\1/', text)


def reask(reason: str, reply_format: str) -> Message:
    """Fed back after a reply that could not be used: why, and the format again."""
    return Message(
        "user",
        f"Your reply could not be used: {clip(reason, 1500)}\nPlease answer again.\n{reply_format}",
    )
