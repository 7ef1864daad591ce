"""Prompts that fit the model's context window, trimmed in a stated order.

Every prompt builder takes a Room: how many characters each trimmable part may take. fit()
builds a prompt with the default Room and, while it is too long for the window, halves one
part at a time, in TRIM_ORDER, down to its floor:

    1. profile      the data preview (column kinds, sizes, extra files)
    2. history      earlier plans and their scores, ablation summaries and results, members
    3. description  the task description
    4. script       the script shown; other blocks are shortened, the block at work stays whole
    5. error        the traceback of a failed script (its head and tail are kept)
    6. example      a model card's example code
    7. house style  the sketch of a solution script, dropped last (code roles only)

The contract, the task's type and metric, and the reply format are never trimmed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace

from mlestar.llm.client import Message


@dataclass(frozen=True)
class Room:
    """Characters each trimmable part of a prompt may take."""

    profile: int = 2000
    history: int = 6000
    description: int = 3000
    script: int = 10000
    error: int = 3000
    example: int = 2500
    house_style: bool = True


DEFAULT_ROOM = Room()
FLOORS = Room(
    profile=300, history=800, description=600, script=1500, error=800, example=400, house_style=False
)
TRIM_ORDER = ("profile", "history", "description", "script", "error", "example")


def shrink(room: Room) -> Room | None:
    """The next smaller room: the first part in TRIM_ORDER above its floor halved (not below
    the floor), then the house style dropped; None when nothing is left to trim."""
    for name in TRIM_ORDER:
        now, floor = getattr(room, name), getattr(FLOORS, name)
        if now > floor:
            return replace(room, **{name: max(floor, now // 2)})
    if room.house_style:
        return replace(room, house_style=False)
    return None


def size(messages: list[Message]) -> int:
    return sum(len(m.content) for m in messages)


def fit(build: Callable[[Room], list[Message]], max_chars: int | None) -> list[Message]:
    """The prompt with the largest room that fits in max_chars; the smallest one when none
    does (the caller then decides whether the window can take it). None: no limit."""
    room = DEFAULT_ROOM
    messages = build(room)
    while max_chars is not None and size(messages) > max_chars:
        smaller = shrink(room)
        if smaller is None:
            break
        room = smaller
        messages = build(room)
    return messages


assert all(getattr(DEFAULT_ROOM, f.name) >= getattr(FLOORS, f.name) for f in fields(Room))
