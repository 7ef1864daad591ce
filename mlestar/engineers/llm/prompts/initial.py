"""Prompts of the first stage: retrieve candidate models, draft one solution each, merge them."""

from __future__ import annotations

from collections.abc import Sequence

from mlestar.engineers.base import Candidate, TaskContext
from mlestar.engineers.llm.prompts.checks import BLOCKS_FORMAT
from mlestar.engineers.llm.prompts.common import LIBRARIES, clip, script_view, system, task_brief, user
from mlestar.engineers.llm.prompts.room import DEFAULT_ROOM, Room
from mlestar.llm.client import Message

CARDS_FORMAT = """\
Reply with a JSON list and nothing else, one object per model:
[{"name": "<short unique model name>", "summary": "<one or two sentences: why it suits this task>",
  "example": "<a short Python example (at most 25 lines) fitting and predicting with it>"}]"""

SCRIPT_FORMAT = """\
Reply with the complete script in one ```python fenced block, and nothing after it."""


def retrieve_web(ctx: TaskContext, m: int, *, room: Room = DEFAULT_ROOM) -> list[Message]:
    """Grounded in a live web search (Gemini's Google Search, Anthropic's web search)."""
    return [
        system("retrieve", "You find the models that work best today for this kind of task.", code=False),
        user(
            task_brief(ctx, room),
            f"Search the web for {m} effective, current models for this task, as strong competition "
            "solutions use them. Avoid defaulting to old baselines. Every model must be usable with "
            f"these libraries only: {LIBRARIES}.",
            CARDS_FORMAT,
        ),
    ]


def retrieve_from_results(
    ctx: TaskContext, m: int, results: Sequence[str], *, room: Room = DEFAULT_ROOM
) -> list[Message]:
    """Grounded in the results of a pluggable search backend."""
    listing = "\n".join(f"- {clip(r, 800)}" for r in results[:10])
    return [
        system("retrieve", "You pick the models that work best today for this kind of task.", code=False),
        user(
            task_brief(ctx, room),
            f"Web search results:\n{clip(listing, room.history)}",
            f"From these results and what you know, propose {m} effective models for this task. "
            f"Every model must be usable with these libraries only: {LIBRARIES}.",
            CARDS_FORMAT,
        ),
    ]


def retrieve_from_cards(
    ctx: TaskContext, m: int, cards: Sequence[Candidate], *, room: Room = DEFAULT_ROOM
) -> list[Message]:
    """Offline: choose among the built-in (and the user's) model cards."""
    menu = "\n".join(f"- {c.name}: {clip(c.summary, 300)}" for c in cards)
    return [
        system("retrieve", "You choose the candidate models the search will draft.", code=False),
        user(
            task_brief(ctx, room),
            f"Model cards available:\n{menu}",
            f"Choose the {m} cards most likely to do well on this task, best first, diverse enough "
            "that averaging them can help.",
            'Reply with a JSON list of the chosen card names and nothing else, e.g. ["name1", "name2"].',
        ),
    ]


def draft(ctx: TaskContext, candidate: Candidate, *, room: Room = DEFAULT_ROOM) -> list[Message]:
    card = f"MODEL CARD {candidate.name}: {clip(candidate.summary, 800)}"
    if candidate.example:
        card += f"\nExample:\n```python\n{clip(candidate.example, room.example)}\n```"
    if candidate.references:
        card += "\nFound on: " + clip("; ".join(candidate.references[:8]), 800)
    return [
        system("draft", "You write a first, simple solution script around one model.", room=room),
        user(
            task_brief(ctx, room),
            card,
            "Write a simple, complete solution script that uses this model. No ensembling and no "
            "hyper-parameter search: sensible defaults, kept fast. Use the harness's folds: for each "
            "fold k >= 0 fit on rows whose fold is neither k nor -1, predict the rows of fold k into "
            "the out-of-fold array and the test rows into the test array (average over folds). "
            "Every preprocessing step is fitted inside the fold loop on the fitting rows only. "
            "Split the script into named blocks (load, features, model, train, save or similar).",
            SCRIPT_FORMAT,
        ),
    ]


def merge(
    ctx: TaskContext, base: str, other: str, candidate: Candidate, *, room: Room = DEFAULT_ROOM
) -> list[Message]:
    return [
        system("merge", "You integrate a second model into the current best solution.", room=room),
        user(
            task_brief(ctx, room),
            "BASE SOLUTION (the current best; keep its loading, folds and features):\n"
            + script_view(base, room.script * 6 // 10),
            f"OTHER SOLUTION, built around {candidate.name}:\n" + script_view(other, room.script * 45 // 100),
            "Extend the base solution so that it also trains the other solution's model, inside the "
            "same fold loop, then averages the two models' out-of-fold and test predictions (a "
            "simple mean; no weight search). Keep the base's block names; add blocks if needed.",
            BLOCKS_FORMAT,
        ),
    ]
