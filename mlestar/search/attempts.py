"""The attempt runner: one attempt from the engineer's script to a judged node, and batches of them.

An attempt is keyed by its place in the search (draft-2, t1-k3, ...): a resumed run reads a finished
one back from the journal instead of running it again. The harness runs, judges and journals each
script; progress and tracking follow the journal, so nothing here reports anything.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from mlestar import syntax
from mlestar.config import SearchSettings
from mlestar.engineers.base import Engineer, EngineerFailure, TaskContext
from mlestar.journal import Journal, Node, Stage, Status
from mlestar.search.budget import STAGE_ENDS, Budget, NodeShare, refit_seconds
from mlestar.search.final_fit import done_final_fit
from mlestar.search.freeze import freeze_and_journal
from mlestar.search.harness import Attempt, Harness
from mlestar.search.ranking import ensemble_members

ScriptMaker = Callable[[], str]
"""Writes an attempt's script when it is due (the engineer's role, or a script already known)."""
Job = tuple[Attempt, ScriptMaker]
Refill = Callable[[Attempt, Node], "Job | None"]
"""Given an attempt of a batch and the node it came back as, the attempt to start in its lane."""
Spare = Callable[[], "Callable[[], Node] | None"]
"""Asked when a lane would stand idle: a run no decision of the search waits for, or None."""
log = logging.getLogger(__name__)
HANDOVER_GUESS = 3
"""Scripts the final-fit reserve covers: ensembles of stored predictions mostly weigh the best few."""


class Attempts:
    """Runs attempts for the stages, `jobs` at a time; remembers which scripts already worked."""

    def __init__(
        self,
        ctx: TaskContext,
        engineer: Engineer,
        harness: Harness,
        budget: Budget,
        settings: SearchSettings,
        jobs: int,
    ) -> None:
        self.ctx = ctx
        """What the engineer's debug role sees (the stages update it once screening is done)."""
        self.engineer = engineer
        self.harness = harness
        self.journal: Journal = harness.journal
        self.budget = budget
        self.settings = settings
        self.jobs = max(1, jobs)
        self.pool = ThreadPoolExecutor(self.jobs, thread_name_prefix="attempt")
        self._digests: dict[str, str] = {}
        """Script digest -> the first working attempt that ran it."""
        self._ran: dict[str, str] = {}
        """Attempt id -> the digest of the script it ran (the script before its settings were frozen)."""
        self._digest_lock = threading.Lock()
        self._seeded = False
        self._split_keys: dict[str, str] = {}
        self.spare: Spare | None = None
        """Work for lanes the search leaves idle (the stages set it once it is worth doing)."""
        self._spare_run: Future[Node] | None = None
        self._spare_lock = threading.Lock()

    def step(self, att: Attempt, make_script: ScriptMaker, *, debug: bool = True) -> Node:
        """One attempt on its own (a merge, a check): the engineer writes the script, the harness
        runs and judges it, a failure is debugged a bounded number of times. The lanes it leaves
        idle may take spare work."""
        self._fill_idle(busy=1)
        return self._step(att, make_script, debug=debug)

    def _step(
        self,
        att: Attempt,
        make_script: ScriptMaker,
        *,
        debug: bool = True,
        share: NodeShare | None = None,
        learn: bool = True,
    ) -> Node:
        """step(), as an attempt of a batch too. `share`: the script runs it may start; `learn`:
        remember a script that worked now (a batch does that once all its attempts are back)."""
        node = self.journal.get(att.id)  # a resumed run reads a finished attempt back
        if node is None:
            script = self._written(att, make_script)  # plan -> code (or the engineer's failure)
            node = script if isinstance(script, Node) else self.execute(att, script, share)
        rounds = self.settings.max_debug_rounds if debug else 0
        for d in range(1, rounds + 1):  # debug: fix what failed, run again, judge again
            if node.ok or node.code_path is None:
                break
            fix = debug_attempt(att, node, d)
            again = self.journal.get(fix.id) or self._debugged(fix, node, share)
            if again is None:  # no budget left, or the engineer could not change the script
                break
            node = again
        if learn:
            self.learn(node)
        return node

    def execute(self, att: Attempt, script: str, share: NodeShare | None = None) -> Node:
        """Run a written script: a twin's result stands for it, else the node budget admits it
        and the harness runs it in its time box, judges it and journals it."""
        digest = syntax.behaviour_digest(script) + ":" + self._split_key(att.split)
        twin = self._twin(digest)
        if twin is not None:  # seeded scripts: the same script on the same folds gives the same result
            return self.harness.record_repeat(att, script, twin)
        if not self.budget.take_node(share):
            return skipped_node(att)
        usage = self.engineer.take_usage()
        spent = usage.as_dict() if usage.calls else None
        timeout = self.budget.script_timeout()
        if att.time_box is not None:
            timeout = min(timeout, att.time_box)
        node = self.harness.run(att, script, timeout, self.ctx.threads, usage=spent)
        if node.ok:
            self._worked(node, digest, att.split)
        return node

    def run_batch(
        self,
        jobs: Sequence[Job],
        stage: Stage,
        debug: bool = True,
        always_first: bool = False,
        more: Refill | None = None,
    ) -> list[Node]:
        """Run independent attempts in parallel; results come back in the order given.

        What the batch's own attempts may start (--max-nodes shares) and learn from each other (the
        scripts that already worked) is settled by their order, never by which finishes first; an
        attempt started by `more` may repeat any attempt already back.
        `always_first`: the first `jobs` attempts start even past the stage's deadline.
        `more`: told of each attempt as it comes back, gives the attempt that takes its lane (None:
        the lane rests, or takes spare work), so no lane stands idle until the batch's slowest is
        done; those come back after the batch's own results, in the order started (not under
        --max-nodes, whose shares are settled before a batch starts)."""
        starts = [
            self.journal.get(att.id) is not None
            or (always_first and i < self.jobs)
            or self.budget.may_start(stage)
            for i, (att, _) in enumerate(jobs)
        ]
        runs_each = 1 + (self.settings.max_debug_rounds if debug else 0)
        shares = iter(self.budget.batch_shares(sum(starts), runs_each))
        futures: list[Future[Node] | None] = [
            self.pool.submit(self._batched, att, make, debug, next(shares)) if start else None
            for (att, make), start in zip(jobs, starts, strict=True)
        ]
        running = {fut: att for (att, _), fut in zip(jobs, futures, strict=True) if fut is not None}
        self._fill_idle(busy=len(running))
        refills = self._refill(running, more, debug)
        nodes = [
            fut.result() if fut is not None else skipped_node(att)
            for (att, _), fut in zip(jobs, futures, strict=True)
        ] + [fut.result() for fut in refills]
        for node in nodes:
            self.learn(node)
        return nodes

    def _refill(
        self, running: dict[Future[Node], Attempt], more: Refill | None, debug: bool
    ) -> list[Future[Node]]:
        """Until the batch is done: each attempt back gives its lane to the one `more` makes of it
        (attempts back together are told in the order they started), which may repeat it, else
        to spare work. Those `more` started, in order."""
        if self.budget.nodes_left() is not None or (more is None and self.spare is None):
            return []
        started: list[Future[Node]] = []
        waiting = set(running)
        while waiting:
            done, waiting = wait(waiting, return_when=FIRST_COMPLETED)
            for fut in sorted(done, key=list(running).index):  # `running` is in start order
                if fut.exception() is not None:
                    continue  # raised again, in order, when the batch's results are read
                self.learn(fut.result())  # an attempt started from now on may repeat it
                job = more(running[fut], fut.result()) if more is not None else None
                if job is not None:
                    started.append(self.pool.submit(self._batched, *job, debug, NodeShare(None)))
                    running[started[-1]] = job[0]
                    waiting.add(started[-1])
            self._fill_idle(busy=len(waiting))
        return started

    def _fill_idle(self, busy: int) -> None:
        """A lane left idle beside the search's own attempts (`busy` of them running) takes spare
        work, one piece at a time. Not when none runs: the stage is between two steps, and its
        next batch wants every lane. Not under --max-nodes, whose runs take a path set by counts."""
        if self.spare is None or not 0 < busy < self.jobs or self.budget.nodes_left() is not None:
            return
        with self._spare_lock:
            if self._spare_run is not None and not self._spare_run.done():
                return
            work = self.spare()
            if work is not None:
                self._spare_run = self.pool.submit(work)
                self._spare_run.add_done_callback(_said_if_failed)

    def learn(self, node: Node) -> None:
        """Remember a working script's digest, so a later attempt running the same code repeats it."""
        digest = self._ran.get(node.id)
        if node.ok and digest is not None:
            with self._digest_lock:
                self._digests.setdefault(digest, node.id)

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    # -- the steps' parts ------------------------------------------------------------------------
    def _batched(self, att: Attempt, make: ScriptMaker, debug: bool, share: NodeShare) -> Node:
        return self._step(att, make, debug=debug, share=share, learn=False)

    def _written(self, att: Attempt, make_script: ScriptMaker) -> str | Node:
        """The attempt's script, or its journaled failure when the engineer could not write it."""
        started = time.time()
        try:
            return make_script()
        except Exception as e:
            usage = self.engineer.take_usage()
            spent = usage.as_dict() if usage.calls else None
            return self.harness.record_failure(att, engineer_error(e), started, spent)

    def _debugged(self, fix: Attempt, broken: Node, share: NodeShare | None) -> Node | None:
        """The engineer's fix of a failed script, run; None when the budget allows no more runs or
        the engineer returned the script unchanged."""
        stage = fix.stage if fix.stage in STAGE_ENDS else Stage.REFINE
        if not self.budget.may_start(stage):
            return None
        script, error = self.harness.script_of(broken), broken.error or ""
        started = time.time()
        try:
            fixed = self.engineer.debug(self.ctx, script, error)
        except Exception as e:
            return self.harness.record_failure(fix, engineer_error(e), started)
        if fixed.strip() == script.strip():
            return None
        return self.execute(fix, fixed, share)

    def _worked(self, node: Node, digest: str, split: str) -> None:
        self._ran[node.id] = digest
        if split == "search":  # a screening run's search was boxed on a subsample: not kept
            freeze_and_journal(self.harness.layout, self.journal, node)
        self.keep_reserve()

    def keep_reserve(self) -> None:
        """Keep the time to refit what the hand-over likely refits (the final reserve)."""
        self.budget.reserve_for_final_fit(
            *(self.refit_need(n) for n in self.likely_handed_over()), lanes=self.jobs
        )

    def likely_handed_over(self) -> list[Node]:
        """The scripts the hand-over likely refits, most likely first: the best script, or an
        ensemble of the best few."""
        return ensemble_members(self.journal, self.harness.spec.lower_is_better)[:HANDOVER_GUESS]

    def refit_need(self, node: Node) -> float:
        """What the hand-over's refit of a script will take: nothing once its final fit is done."""
        return 0.0 if done_final_fit(self.journal, node.id) is not None else refit_seconds(node)

    def _twin(self, digest: str) -> Node | None:
        """An earlier working attempt whose script has this behaviour digest (ablation variants and
        undo plans often coincide, and engineers repeat themselves); read from the journal on first use."""
        with self._digest_lock:
            if not self._seeded:  # a resumed run learns the scripts that ran before it
                self._seeded = True
                for n in self.journal.nodes.values():
                    if n.ok and n.code_path and n.stage != Stage.FINAL and "same_as" not in n.meta:
                        key = self._split_key(str(n.meta.get("split", "search")))
                        script = self.harness.script_of(n)
                        self._digests.setdefault(syntax.behaviour_digest(script) + ":" + key, n.id)
            twin_id = self._digests.get(digest)
        return self.journal.get(twin_id) if twin_id else None

    def _split_key(self, split: str) -> str:
        if split not in self._split_keys:
            self._split_keys[split] = self.harness.split_key(split)
        return self._split_keys[split]


def _said_if_failed(work: Future[Node]) -> None:
    """Spare work that raised costs the search nothing (the hand-over does what it would have
    done), but a failure of the harness is a bug to hear of."""
    error = work.exception()
    if error is not None:
        log.warning("spare work failed (left to the hand-over): %s: %s", type(error).__name__, error)


def debug_attempt(att: Attempt, failed: Node, round_: int) -> Attempt:
    """The attempt that debugs `failed`, the latest node of `att`'s chain."""
    return Attempt(
        id=f"{att.id}.debug{round_}",
        parent=failed.id,
        stage=att.stage,
        role="debug",
        plan=f"debug: {_first_line(failed.error)}",
        meta=att.meta,
    )


def skipped_node(att: Attempt) -> Node:
    """An attempt the budget did not allow: reported to the caller, never journaled."""
    now = time.time()
    return Node(
        id=att.id,
        parent=att.parent,
        stage=att.stage,
        role=att.role,
        plan=att.plan,
        code_path=None,
        status=Status.SKIPPED,
        score=None,
        started=now,
        ended=now,
        error="no budget left",
    )


def engineer_error(e: Exception) -> str:
    """What the journal and progress say of an engineer that raised. EngineerFailure is the
    engineer's own word (e.g. "no refinement left to try on the model block"), shown as it is;
    anything else is a bug, shown with its type."""
    text = str(e) if isinstance(e, EngineerFailure) else "".join(traceback.format_exception_only(type(e), e))
    return "the engineer could not write this attempt: " + text.strip()


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0][:120] if text and text.strip() else "failure"
