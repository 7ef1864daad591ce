"""The LLM engineer: every role of the search played by a language model.

Each role builds its prompt (prompts/), fitted to the window of the role's model (a cheaper
one per role if configured), asks, reads the reply (readers.py) with re-asks on an unusable
reply, and hands the step to the fallback engineer when the model still fails, the provider
fails beyond its retries, or the model budget is spent. A role that fails `max_role_failures`
times in a row stops asking its model for the rest of the run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from mlestar.engineers.base import (
    AblationResult,
    BlockChoice,
    Candidate,
    Engineer,
    EngineerFailure,
    EnsembleMember,
    EnsemblePlan,
    LeakageReport,
    PlanOutcome,
    TaskContext,
    Usage,
    Variant,
)
from mlestar.engineers.llm import prompts, readers
from mlestar.engineers.llm.asking import Asker, Build, UsageLedger, Window
from mlestar.engineers.llm.gate import leakage_hints
from mlestar.engineers.llm.parsing import plain_text
from mlestar.engineers.llm.prompts.checks import BLOCKS_FORMAT, LEAKAGE_FORMAT
from mlestar.engineers.llm.prompts.ensemble import ENSEMBLE_FORMAT
from mlestar.engineers.llm.prompts.initial import CARDS_FORMAT, SCRIPT_FORMAT
from mlestar.engineers.llm.prompts.refine import PICK_FORMAT, VARIANTS_FORMAT
from mlestar.errors import LLMError
from mlestar.llm.budget import Budget
from mlestar.llm.client import WEB_SEARCH, LLMClient, Message
from mlestar.llm.failures import BudgetExhausted
from mlestar.llm.settings import ROLES
from mlestar.llm.websearch import SearchBackend

log = logging.getLogger(__name__)
T = TypeVar("T")

BODY_FORMAT = "Reply with the new code of the block alone, in one ```python fenced block."
TEXT_FORMAT = "Reply with plain text only."
CHOICE_FORMAT = 'Reply with a JSON list of card names, e.g. ["name1", "name2"].'


class LLMEngineer:
    def __init__(
        self,
        client: LLMClient | Mapping[str, LLMClient],
        fallback: Engineer | None = None,
        *,
        temperatures: Mapping[str, float] | None = None,
        search: SearchBackend | None = None,
        max_role_failures: int = 3,
        budget: Budget | None = None,
        label: str = "llm",
        windows: Mapping[str, Window] | None = None,
        reasks: int = 2,
    ) -> None:
        clients = dict(client) if isinstance(client, Mapping) else dict.fromkeys(ROLES, client)
        missing = [r for r in ROLES if r not in clients]
        if missing:
            raise ValueError(f"no client for roles {missing}")
        self.name = label
        self.fallback = fallback
        self.search = search
        self.budget = budget
        """The model budget the clients are charged to, when known (for reports and tests)."""
        self.ledger = UsageLedger()
        self.asker = Asker(clients, self.ledger, temperatures, windows, reasks)
        self.max_role_failures = max_role_failures
        self._failures: dict[str, int] = {}
        self._lock = threading.Lock()
        self.fallback_log: list[tuple[str, str]] = []
        """(role, reason) of every step handed to the fallback, in order."""

    # -- the fallback rule ------------------------------------------------------------------------
    def _play(self, role: str, ask: Callable[[], T], fallback: Callable[[Engineer], T]) -> T:
        with self._lock:
            benched = self._failures.get(role, 0) >= self.max_role_failures
        if not benched:
            try:
                result = ask()
            except (EngineerFailure, LLMError) as e:
                self._note_failure(role, e)
            else:
                with self._lock:
                    self._failures[role] = 0
                return result
        else:
            self._note(role, f"{role} failed {self.max_role_failures} times in a row; not asked any more")
        if self.fallback is None:
            raise EngineerFailure(f"{role}: the model failed and there is no fallback engineer")
        return fallback(self.fallback)

    def _note_failure(self, role: str, error: Exception) -> None:
        if not isinstance(error, BudgetExhausted):
            with self._lock:
                self._failures[role] = self._failures.get(role, 0) + 1
        self._note(role, f"{type(error).__name__}: {error}")

    def _note(self, role: str, reason: str) -> None:
        log.warning("%s: the fallback engineer takes this step (%s)", role, reason)
        self.ledger.fell_back(role)
        with self._lock:
            self.fallback_log.append((role, reason))

    # -- roles ------------------------------------------------------------------------------------
    def retrieve(self, ctx: TaskContext, m: int) -> list[Candidate]:
        return self._play("retrieve", lambda: self._retrieve(ctx, m), lambda f: f.retrieve(ctx, m))

    def _retrieve(self, ctx: TaskContext, m: int) -> list[Candidate]:
        if self.asker.client("retrieve").web_search:
            msgs = _build(prompts.retrieve_web, ctx, m)
            # The pages the search found stay with the cards, for the drafts to read.
            read = lambda r: readers.read_cards(r.text, m, "web", r.sources)  # noqa: E731
            return self.asker.ask_reply("retrieve", msgs, read, CARDS_FORMAT, (WEB_SEARCH,))
        if self.search is not None:
            query = search_query(ctx)
            try:
                results = self.search.search(query, 8)
            except Exception as e:  # a user's backend: its failure must not end the run
                raise EngineerFailure(f"retrieve: the search backend failed: {e}") from e
            msgs = _build(prompts.retrieve_from_results, ctx, m, results)
            return self.asker.ask(
                "retrieve", msgs, lambda t: readers.read_cards(t, m, "search"), CARDS_FORMAT
            )
        if self.fallback is None:
            raise EngineerFailure("retrieve: no web search and no model cards to choose from")
        cards = self.fallback.retrieve(ctx, 2 * m + 2)
        if len(cards) <= m:
            return cards
        msgs = _build(prompts.retrieve_from_cards, ctx, m, cards)
        return self.asker.ask(
            "retrieve", msgs, lambda t: readers.read_card_choice(t, m, cards), CHOICE_FORMAT
        )

    def draft(self, ctx: TaskContext, candidate: Candidate) -> str:
        msgs = _build(prompts.draft, ctx, candidate)
        return self._play(
            "draft",
            lambda: self.asker.ask("draft", msgs, readers.read_script, SCRIPT_FORMAT),
            lambda f: f.draft(ctx, candidate),
        )

    def merge(self, ctx: TaskContext, base: str, other: str, other_candidate: Candidate) -> str:
        msgs = _build(prompts.merge, ctx, base, other, other_candidate)
        return self._play(
            "merge",
            lambda: self.asker.ask("merge", msgs, lambda t: readers.read_revision(base, t), BLOCKS_FORMAT),
            lambda f: f.merge(ctx, base, other, other_candidate),
        )

    def check_data_usage(self, ctx: TaskContext, script: str) -> str | None:
        msgs = _build(prompts.check_data_usage, ctx, script)
        return self._play(
            "check_data_usage",
            lambda: self.asker.ask(
                "check_data_usage", msgs, lambda t: readers.read_data_usage(script, t), BLOCKS_FORMAT
            ),
            lambda f: f.check_data_usage(ctx, script),
        )

    def check_leakage(self, ctx: TaskContext, script: str) -> LeakageReport:
        msgs = _build(prompts.check_leakage, ctx, script, leakage_hints(script, ctx))
        return self._play(
            "check_leakage",
            lambda: self.asker.ask(
                "check_leakage", msgs, lambda t: readers.read_leakage(script, t), LEAKAGE_FORMAT
            ),
            lambda f: f.check_leakage(ctx, script),
        )

    def ablate(self, ctx: TaskContext, script: str, previous: list[str]) -> list[Variant]:
        msgs = _build(prompts.ablate, ctx, script, previous, "2 or 3" if previous else "1 or 2")
        return self._play(
            "ablate",
            lambda: self.asker.ask(
                "ablate", msgs, lambda t: readers.read_variants(script, t), VARIANTS_FORMAT
            ),
            lambda f: f.ablate(ctx, script, previous),
        )

    def summarize_ablation(self, ctx: TaskContext, results: list[AblationResult]) -> str:
        if not results:
            return "No ablation variant was run, so nothing is known about the parts' contributions."
        msgs = _build(prompts.summarize_ablation, ctx, results)
        return self._play(
            "summarize_ablation",
            lambda: self.asker.ask("summarize_ablation", msgs, plain_text, TEXT_FORMAT),
            lambda f: f.summarize_ablation(ctx, results),
        )

    def pick_block(self, ctx: TaskContext, script: str, summary: str, refined: list[str]) -> BlockChoice:
        msgs = _build(prompts.pick_block, ctx, script, summary, refined)
        return self._play(
            "pick_block",
            lambda: self.asker.ask(
                "pick_block", msgs, lambda t: readers.read_block_choice(script, refined, t), PICK_FORMAT
            ),
            lambda f: f.pick_block(ctx, script, summary, refined),
        )

    def plan_next(self, ctx: TaskContext, script: str, block: str, history: list[PlanOutcome]) -> str:
        msgs = _build(prompts.plan_next, ctx, script, block, history)
        return self._play(
            "plan_next",
            lambda: self.asker.ask("plan_next", msgs, lambda t: plain_text(t, 2000), TEXT_FORMAT),
            lambda f: f.plan_next(ctx, script, block, history),
        )

    def implement(self, ctx: TaskContext, script: str, block: str, plan: str) -> str:
        msgs = _build(prompts.implement, ctx, script, block, plan)
        return self._play(
            "implement",
            lambda: self.asker.ask(
                "implement", msgs, lambda t: readers.read_block_body(script, block, t), BODY_FORMAT
            ),
            lambda f: f.implement(ctx, script, block, plan),
        )

    def settle(self, ctx: TaskContext, script: str) -> str:
        """The fallback's settling: it reshapes only its own scripts (e.g. one the fallback refined
        with a second member), and passes the model's as they are."""
        return script if self.fallback is None else self.fallback.settle(ctx, script)

    def plan_ensemble(
        self, ctx: TaskContext, members: list[EnsembleMember], history: list[PlanOutcome]
    ) -> EnsemblePlan:
        msgs = _build(prompts.plan_ensemble, ctx, members, history)
        return self._play(
            "plan_ensemble",
            lambda: self.asker.ask(
                "plan_ensemble", msgs, lambda t: readers.read_ensemble_plan(members, t), ENSEMBLE_FORMAT
            ),
            lambda f: f.plan_ensemble(ctx, members, history),
        )

    def debug(self, ctx: TaskContext, script: str, error: str) -> str:
        msgs = _build(prompts.debug, ctx, script, error)
        return self._play(
            "debug",
            lambda: self.asker.ask("debug", msgs, lambda t: readers.read_revision(script, t), BLOCKS_FORMAT),
            lambda f: f.debug(ctx, script, error),
        )

    def take_usage(self) -> Usage:
        """Tokens, cost and fallbacks by role since the last call (the fallback's spend included)."""
        usage = self.ledger.take()
        if self.fallback is not None:
            other = self.fallback.take_usage()
            usage.input_tokens += other.input_tokens
            usage.output_tokens += other.output_tokens
            usage.cost_usd += other.cost_usd
            usage.calls += other.calls
        return usage


def _build(builder: Callable[..., list[Message]], *args: Any) -> Build:
    """A prompt builder with its arguments bound, waiting for its Room (see prompts/room.py)."""
    return lambda room: builder(*args, room=room)


def search_query(ctx: TaskContext) -> str:
    """What retrieval searches for: the kind of problem, its metric and its data, not its name."""
    kinds = sorted(
        {str(c.get("kind")) for c in ctx.profile.get("columns", {}).values() if isinstance(c, dict)}
    )
    data = " ".join(k for k in kinds if k in ("numeric", "categorical", "text", "date")) or "tabular"
    files = " image" if any("image" in str(f.get("kind")) for f in ctx.profile.get("files", [])) else ""
    return f"best machine learning models {ctx.spec.problem_type} {ctx.spec.metric} {data}{files} data competition"
