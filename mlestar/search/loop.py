"""The MLE-STAR loop over an Engineer: retrieve, draft, merge, check, refine, ensemble.

The harness runs and scores every attempt; the engineer only writes and decides. Every attempt is
keyed by its place in the search (draft-2, t1-k3, ...), so a resumed run skips what is done.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, TypeVar

from mlestar import blocks, syntax
from mlestar.config import SearchSettings
from mlestar.engineers.base import (
    AblationResult,
    Candidate,
    Engineer,
    EnsembleMember,
    LeakageReport,
    PlanOutcome,
    TaskContext,
    Variant,
)
from mlestar.journal import SCRIPT_STAGES, SOLUTION_STAGES, Journal, Node, Stage, Status
from mlestar.journal.events import (
    Decided,
    Decision,
    EngineerFailed,
    LeakageFound,
    StageFinished,
    StageStarted,
)
from mlestar.metrics import best_first
from mlestar.search import ensemble as ens
from mlestar.search import screening
from mlestar.search import widen as widening
from mlestar.search.budget import STAGE_ENDS, Budget, NodeShare, packed_s, refit_seconds
from mlestar.search.freeze import freeze_and_journal
from mlestar.search.harness import Attempt, Harness
from mlestar.search.memo import Memo
from mlestar.search.progress import Progress

T = TypeVar("T")
HANDOVER_GUESS = 3
"""Scripts the final-fit reserve covers: ensembles of stored predictions mostly weigh the best few."""

ScriptMaker = Callable[[], str]
ENSEMBLE_MEMBERS = 8
"""The best distinct scripts an ensemble may draw on (widening adds drafts and seed variants)."""


@dataclass(frozen=True)
class WarmScript:
    """A script from an earlier run to try first (retraining warm-starts from the old journal)."""

    name: str
    plan: str
    code: str
    source: str
    """The earlier run's node id."""


@dataclass
class SearchState:
    """What the stages hand each other: the current solution and what was learned so far."""

    current: Node | None = None
    candidates: dict[str, Candidate] = field(default_factory=dict)
    draft_order: list[str] = field(default_factory=list)
    """Candidates to draft, in order: the screening's choice, or the engineer's first M."""
    widen_order: list[str] = field(default_factory=list)
    """Candidates left for widening, best screened first."""
    screened: dict[str, Node] = field(default_factory=dict)
    """Candidate -> its screening attempt."""
    refined_blocks: list[str] = field(default_factory=list)
    summaries: list[str] = field(default_factory=list)


class Search:
    def __init__(
        self,
        ctx: TaskContext,
        engineer: Engineer,
        harness: Harness,
        journal: Journal,
        budget: Budget,
        settings: SearchSettings,
        progress: Progress,
        jobs: int,
        warm_start: tuple[WarmScript, ...] = (),
    ) -> None:
        self.ctx = ctx
        self.engineer = engineer
        self.harness = harness
        self.journal = journal
        self.budget = budget
        self.settings = settings
        self.progress = progress
        self.jobs = max(1, jobs)
        self.warm_start = warm_start
        self.memo = Memo(journal)
        self.pool = ThreadPoolExecutor(self.jobs, thread_name_prefix="attempt")
        self.state = SearchState()
        self._digests: dict[str, str] = {}
        """Script digest -> the first working attempt that ran it."""
        self._ran: dict[str, str] = {}
        """Attempt id -> the digest of the script it ran (the script before its settings were frozen)."""
        self._digest_lock = threading.Lock()
        self._seeded = False
        self._split_keys: dict[str, str] = {}

    # -- the whole search ----------------------------------------------------------------------
    def run(self) -> Node | None:
        """Run every stage; returns the best solution node (script or ensemble), or None."""
        try:
            stages = (
                (Stage.SCREEN, self.screen),
                (Stage.DRAFT, self.draft),
                (Stage.MERGE, self.merge),
                (Stage.CHECK, self.check),
                (Stage.REFINE, self.refine),
                (Stage.WIDEN, self.widen),
                (Stage.ENSEMBLE, self.ensemble),
            )
            for name, stage in stages:
                self.progress.set_stage(name)
                if not self.journal.has(StageStarted, stage=name):
                    self.journal.record(StageStarted(stage=name))
                stage()
                if not self.journal.has(StageFinished, stage=name):
                    self.journal.record(StageFinished(stage=name, best=self._best_id()))
                if self.state.current is None and name != Stage.SCREEN:
                    break  # nothing works: no merge, refinement or ensemble can help
        finally:
            self.pool.shutdown(wait=True)
        return self.best()

    def best(self) -> Node | None:
        return self.journal.best(self.ctx.spec.lower_is_better, stages=SOLUTION_STAGES)

    def _best_id(self) -> str | None:
        best = self.best()
        return best.id if best else None

    # -- stages --------------------------------------------------------------------------------
    def screen(self) -> None:
        """Retrieval: the engineer's candidates, all screened cheaply when there are more than M
        (see mlestar.search.screening); sets the draft and widening orders and ctx.screening."""
        screening.retrieve(self)

    def draft(self) -> None:
        jobs: list[tuple[Attempt, ScriptMaker]] = []
        for i, name in enumerate(self.state.draft_order):
            cand = self.state.candidates[name]
            meta: dict[str, Any] = {"candidate": cand.name}
            screened = self.state.screened.get(name)
            make: ScriptMaker = partial(self.engineer.draft, self.ctx, cand)
            if screened is not None and screened.code_path:  # the script screened is the draft
                meta["screened_as"] = screened.id
                make = partial(self.script_of, screened)
            plan = f"{cand.name}: {cand.summary}"
            att = Attempt(id=f"draft-{i}", stage=Stage.DRAFT, role="draft", plan=plan, meta=meta)
            jobs.append((att, make))
        nodes = self.run_batch(self._warm_jobs() + jobs, stage=Stage.DRAFT, always_first=True)
        ok = self._ranked([n for n in nodes if n.ok]) or self._ranked(
            [n for n in self._fallback_drafts() if n.ok]
        )
        self.state.current = ok[0] if ok else None
        self._drafts = ok

    def _fallback_drafts(self) -> list[Node]:
        """Every draft failed: an engineer with a fallback (the LLM engineer's built-in one) has it
        draft the same candidates, so the run still has a line of solutions to improve instead of
        ending at the prior."""
        fallback: Engineer | None = getattr(self.engineer, "fallback", None)
        if fallback is None or not self.state.draft_order:
            return []
        self.progress.note("no draft worked: the fallback engineer drafts the same candidates")
        jobs: list[tuple[Attempt, ScriptMaker]] = []
        for i, name in enumerate(self.state.draft_order):
            cand = self.state.candidates[name]
            plan = f"{cand.name}: drafted by the fallback engineer, every draft having failed"
            meta = {"candidate": cand.name}
            att = Attempt(id=f"draft-fallback-{i}", stage=Stage.DRAFT, role="draft", plan=plan, meta=meta)
            jobs.append((att, partial(fallback.draft, self.ctx, cand)))
        return self.run_batch(jobs, stage=Stage.DRAFT, always_first=True)

    def _warm_jobs(self) -> list[tuple[Attempt, ScriptMaker]]:
        """An earlier run's best scripts, run first as drafts on this run's data and folds."""
        jobs: list[tuple[Attempt, ScriptMaker]] = []
        for i, warm in enumerate(self.warm_start):
            self.state.candidates.setdefault(warm.name, Candidate(warm.name, warm.plan, source="warm_start"))
            meta = {"candidate": warm.name, "warm_from": warm.source}
            plan = f"warm start from {warm.source}: {warm.plan}"
            att = Attempt(id=f"warm-{i}", stage=Stage.DRAFT, role="warm_start", plan=plan, meta=meta)
            jobs.append((att, partial(str, warm.code)))
        return jobs

    def merge(self) -> None:
        base = self.state.current
        assert base is not None
        for i, other in enumerate(self._drafts[1:], start=1):
            if not self.budget.may_start(Stage.MERGE, max(base.duration_s, other.duration_s)):
                break
            cand = self.state.candidates[other.meta["candidate"]]
            att = Attempt(
                id=f"merge-{i}",
                parent=base.id,
                stage=Stage.MERGE,
                role="merge",
                plan=f"merge {cand.name} into {base.id}",
                meta={"candidate": cand.name},
            )
            make = partial(self.engineer.merge, self.ctx, self.script_of(base), self.script_of(other), cand)
            node = self.attempt(att, make)
            if node.ok and not self.harness.score_of(base).beats(node.score):  # ties are kept
                self._decide(Decision.MERGE_KEPT, node, base)
                base = node
            else:
                self._decide(Decision.MERGE_REJECTED, node, base)
                break  # MLE-STAR stops at the first merge that does not help
        self.state.current = base

    def check(self) -> None:
        cur = self.state.current
        assert cur is not None
        script = self.script_of(cur)
        if self.budget.may_start(Stage.CHECK):
            revised = self.ask("check-data", lambda: self.engineer.check_data_usage(self.ctx, script), None)
            if revised:
                att = Attempt(
                    id="check-data",
                    parent=cur.id,
                    stage=Stage.CHECK,
                    role="check_data_usage",
                    plan="use the data the solution ignores",
                )
                node = self.attempt(att, lambda: revised)
                if node.ok and not self.harness.score_of(cur).beats(node.score):
                    self._decide(Decision.DATA_USAGE_KEPT, node, cur)
                    cur, script = node, revised
                else:
                    self._decide(Decision.DATA_USAGE_REJECTED, node, cur)
        self.state.current = self._leak_checked(cur, "check-leak", Stage.CHECK)

    def _leak_checked(self, node: Node, key: str, stage: Stage) -> Node:
        """The engineer's leakage check on a solution about to become the current one (the first,
        and each refinement kept after it): the node itself, or its fix when one was written and
        works. A leak-free score is the honest one, even when it is lower."""
        script = self.script_of(node)
        report = self.ask(key, lambda: self.engineer.check_leakage(self.ctx, script), LeakageReport(()))
        if not report.leaks:
            return node
        self.journal.record(LeakageFound(node=node.id, leaks=list(report.leaks)))
        self.progress.note(f"leakage in {node.id}: {'; '.join(report.leaks)}")
        if not report.fixed_code:
            return node
        fixed = report.fixed_code
        why = "remove the leakage: " + "; ".join(report.leaks)
        att = Attempt(id=key, parent=node.id, stage=stage, role="check_leakage", plan=why)
        fix = self.attempt(att, lambda: fixed)
        if not fix.ok:
            return node
        self._decide(Decision.LEAKAGE_FIXED, fix, node)
        return fix

    def refine(self) -> None:
        stalled = 0
        for t in range(self.settings.t_outer):
            cur = self.state.current
            if stalled >= 2 or cur is None or not self.budget.may_start(Stage.REFINE, cur.duration_s):
                break
            improved = self._outer_round(t)
            stalled = 0 if improved else stalled + 1

    def _outer_round(self, t: int) -> bool:
        cur = self.state.current
        assert cur is not None and cur.score is not None
        script = self.script_of(cur)
        summary = self._ablation(t, cur, script)
        refined = list(self.state.refined_blocks)
        choice = self.ask(
            f"t{t}-pick", lambda: self.engineer.pick_block(self.ctx, script, summary, refined), None
        )
        if choice is None:
            self.state.summaries.append(summary)
            self.journal.record(Decided(what=Decision.REFINEMENT_NONE, round=t, node=cur.id))
            return False
        self.journal.record(
            Decided(what=Decision.BLOCK_CHOSEN, round=t, block=choice.block, plan=choice.plan)
        )
        history: list[PlanOutcome] = []
        best = cur
        k, out_of_plans = 0, False
        while (
            k < self.settings.k_inner
            and not out_of_plans
            and self.budget.may_start(Stage.REFINE, cur.duration_s)
        ):
            batch: list[tuple[Attempt, ScriptMaker]] = []
            pending = list(history)
            for j in range(min(self.jobs, self.settings.k_inner - k)):
                # Plans of one batch run together; each sees the others as pending (no score yet).
                ask = partial(self.engineer.plan_next, self.ctx, script, choice.block, list(pending))
                plan = choice.plan if k + j == 0 else self.ask(f"t{t}-plan{k + j}", ask, None)
                if plan is None:  # the engineer has no further plan for this block
                    out_of_plans = True
                    break
                pending.append(PlanOutcome(plan, None, cur.score))
                att = Attempt(
                    id=f"t{t}-k{k + j}",
                    parent=cur.id,
                    stage=Stage.REFINE,
                    role="implement",
                    plan=plan,
                    meta={"block": choice.block, "round": t},
                )
                batch.append((att, partial(self._implemented, script, choice.block, plan)))
            nodes = self.run_batch(batch, stage=Stage.REFINE) if batch else []
            for (att, _), node in zip(batch, nodes, strict=True):
                history.append(PlanOutcome(att.plan, node.score, cur.score))
                if node.ok and self.harness.score_of(node).beats(best.score):
                    best = node
            k += len(batch)
        self.state.refined_blocks.append(choice.block)
        self.state.summaries.append(summary)
        if best is not cur:
            self._decide(Decision.REFINEMENT_KEPT, best, cur)
            self.state.current = self._leak_checked(best, f"t{t}-check-leak", Stage.REFINE)
            return True
        self.journal.record(Decided(what=Decision.REFINEMENT_NONE, round=t, node=cur.id))
        return False

    def widen(self) -> None:
        """Time left after refinement: more drafts from the screening table and more seeds."""
        widening.widen(self)

    def _implemented(self, script: str, block: str, plan: str) -> str:
        """The script with one block rewritten by the engineer; BlockError if that breaks it."""
        return blocks.replace_block(script, block, self.engineer.implement(self.ctx, script, block, plan))

    def _ablation(self, t: int, cur: Node, script: str) -> str:
        assert cur.score is not None
        base_score = cur.score
        previous = list(self.state.summaries)
        variants: list[Variant] = self.ask(
            f"t{t}-ablate", lambda: self.engineer.ablate(self.ctx, script, previous), []
        )
        jobs: list[tuple[Attempt, ScriptMaker]] = []
        for v in variants:
            att = Attempt(
                id=f"t{t}-ablate-{v.name}",
                parent=cur.id,
                stage=Stage.ABLATION,
                role="ablate",
                plan=v.description,
                meta={"block": v.block},
            )
            jobs.append((att, partial(str, v.code)))
        nodes = self.run_batch(jobs, stage=Stage.REFINE, debug=False)
        results = [
            AblationResult(v, n.score, base_score, self.ctx.spec.lower_is_better)
            for v, n in zip(variants, nodes, strict=False)
        ]
        summarize = partial(self.engineer.summarize_ablation, self.ctx, results)
        return self.ask(f"t{t}-summary", summarize, "(no ablation summary)")

    def ensemble(self) -> None:
        members = self._refittable(self._ensemble_members())
        if len(members) < 2:
            return
        spec = self.ctx.spec
        history: list[PlanOutcome] = []
        tried: set[str] = set()
        best_single = members[0].score
        infos = [EnsembleMember(n.id, n.plan, n.score) for n in members]  # type: ignore[arg-type]
        for r in range(self.settings.r_ensemble):
            if not self.budget.may_compute():
                break
            ask = partial(self.engineer.plan_ensemble, self.ctx, infos, list(history))
            plan = self.ask(f"ens-r{r}-plan", ask, None)
            if plan is None:
                break
            chosen = [n for n in members if not plan.members or n.id in plan.members]
            key = plan.kind + ":" + ",".join(n.id for n in chosen)
            if key in tried or len(chosen) < 2:
                continue
            tried.add(key)
            att = Attempt(
                id=f"ens-{r}",
                parent=members[0].id,
                stage=Stage.ENSEMBLE,
                role="ensemble",
                plan=plan.plan,
                meta={"kind": plan.kind, "members": [n.id for n in chosen]},
            )
            node = self.journal.get(att.id) or self._ensemble_node(att, plan.kind, chosen, plan.code)
            self.progress.finished(node, self.best())
            history.append(PlanOutcome(plan.plan, node.score, best_single))  # type: ignore[arg-type]
        del spec

    def _ensemble_members(self) -> list[Node]:
        """The best distinct working solution scripts."""
        snapshot = list(self.journal.nodes.values())  # attempts of a batch add nodes from their threads
        nodes = [n for n in snapshot if n.ok and n.stage in SCRIPT_STAGES]
        ids = {n.id for n in nodes}
        distinct = [n for n in nodes if n.meta.get("same_as") not in ids]  # a repeat adds nothing
        return self._ranked(distinct)[:ENSEMBLE_MEMBERS]

    def _refittable(self, members: list[Node]) -> list[Node]:
        """The best members, as many as the hand-over can refit in the time left (each refit as
        long as its search run, packed on the run's lanes): an ensemble of members that cannot all
        be refit leaves no servable model, and on a subsample no exact submission either."""
        kept = members[:1]
        for node in members[1:]:
            refits = [refit_seconds(n) for n in (*kept, node)]
            if 1.3 * packed_s(refits, self.jobs) + 3.0 <= self.budget.remaining():
                kept.append(node)
        return kept

    def _ensemble_node(self, att: Attempt, kind: str, members: list[Node], code: str | None) -> Node:
        started = time.time()
        if kind == "script" and code:
            if not self.budget.may_start(Stage.ENSEMBLE):
                return _skipped_node(att)
            return self.attempt(att, lambda: code)
        spec, h = self.ctx.spec, self.harness
        preds = [h.predictions(n.id) for n in members]
        metric = h.metric.score
        try:
            if kind == "average":
                p = ens.average(preds, spec.problem_type)
                result = ens.EnsembleResult(p, h.score(p.oof), {"weights": [1 / len(preds)] * len(preds)})
            elif kind == "greedy":
                result = ens.greedy(preds, h.y, h.folds, metric, spec.lower_is_better, spec.problem_type)
            elif kind == "stacking":
                result = ens.stacking(preds, h.y, h.folds, metric, spec.problem_type)
            else:
                return h.record_failure(att, f"unknown ensemble kind {kind!r}", started)
        except Exception as e:  # a numerical failure of one method must not end the run
            return h.record_failure(att, f"{type(e).__name__}: {e}", started)
        meta = {**dict(att.meta or {}), **result.detail}
        return h.record_computed(replace(att, meta=meta), result.preds, result.score, started)

    # -- attempts ------------------------------------------------------------------------------
    def run_batch(
        self,
        jobs: list[tuple[Attempt, ScriptMaker]],
        stage: Stage,
        debug: bool = True,
        always_first: bool = False,
    ) -> list[Node]:
        """Run independent attempts in parallel; results come back in the order given.

        What the batch's attempts may start (--max-nodes shares) and learn from each other (the
        scripts that already worked) is settled by their order, never by which finishes first."""
        starts = []
        for i, (att, _) in enumerate(jobs):
            done = self.journal.get(att.id)
            starts.append(
                done is not None or (always_first and i < self.jobs) or self.budget.may_start(stage)
            )
        shares = iter(
            self.budget.batch_shares(sum(starts), 1 + (self.settings.max_debug_rounds if debug else 0))
        )
        futures: list[Future[Node] | None] = [
            self.pool.submit(self.attempt, att, make, debug, next(shares), False) if start else None
            for (att, make), start in zip(jobs, starts, strict=True)
        ]
        nodes = [
            fut.result() if fut is not None else self._skipped(att)
            for (att, _), fut in zip(jobs, futures, strict=True)
        ]
        for node in nodes:
            self._learn(node)
        return nodes

    def _skipped(self, att: Attempt) -> Node:
        return _skipped_node(att)

    def attempt(
        self,
        att: Attempt,
        make_script: ScriptMaker,
        debug: bool = True,
        share: NodeShare | None = None,
        learn: bool = True,
    ) -> Node:
        """Run an attempt (or read it back from the journal), then debug it a bounded number of
        times. `share`: the script runs it may start; `learn`: remember its script as one that
        worked now (a batch does that itself once all its attempts are back)."""
        node = self._attempt(att, make_script, debug, share)
        if learn:
            self._learn(node)
        return node

    def _attempt(self, att: Attempt, make_script: ScriptMaker, debug: bool, share: NodeShare | None) -> Node:
        node = self.journal.get(att.id)
        if node is None:
            started = time.time()
            try:
                script = make_script()
            except Exception as e:
                usage = self.engineer.take_usage()
                node = self.harness.record_failure(
                    att, _engineer_error(e), started, usage.as_dict() if usage.calls else None
                )
                self.progress.finished(node, self.best())
                return node
            node = self._run(att, script, share)
        for d in range(1, self.settings.max_debug_rounds + 1 if debug else 1):
            if node.ok or node.code_path is None:
                break
            fix = Attempt(
                id=f"{att.id}.debug{d}",
                parent=node.id,
                stage=att.stage,
                role="debug",
                plan=f"debug: {_first_line(node.error)}",
                meta=att.meta,
            )
            done = self.journal.get(fix.id)
            if done is not None:
                node = done
                continue
            if not self.budget.may_start(att.stage if att.stage in STAGE_ENDS else Stage.REFINE):
                break
            broken, error = self.script_of(node), node.error or ""
            started = time.time()
            try:
                fixed = self.engineer.debug(self.ctx, broken, error)
            except Exception as e:
                node = self.harness.record_failure(fix, _engineer_error(e), started)
                break
            if fixed.strip() == broken.strip():
                break
            node = self._run(fix, fixed, share)
        return node

    def _run(self, att: Attempt, script: str, share: NodeShare | None = None) -> Node:
        digest = syntax.behaviour_digest(script) + ":" + self._split_key(att.split)
        twin = self._twin(digest)
        if twin is not None:  # seeded scripts: the same script on the same folds gives the same result
            node = self.harness.record_repeat(att, script, twin)
            self.progress.finished(node, self.best())
            return node
        if not self.budget.take_node(share):
            return _skipped_node(att)
        self.progress.started(att.id)
        usage = self.engineer.take_usage()
        spent = usage.as_dict() if usage.calls else None
        timeout = self.budget.script_timeout()
        if att.time_box is not None:
            timeout = min(timeout, att.time_box)
        node = self.harness.run(att, script, timeout, self.ctx.threads, usage=spent)
        if node.ok:
            self._ran[node.id] = digest
            if att.split == "search":  # a screening run's search was boxed on a subsample: not kept
                freeze_and_journal(self.harness.layout, self.journal, node)
            # The hand-over may be this script or an ensemble of the best few: keep time to refit them.
            likely = self._ensemble_members()[:HANDOVER_GUESS]
            self.budget.reserve_for_final_fit(*(refit_seconds(n) for n in likely), lanes=self.jobs)
        self.progress.finished(node, self.best())
        return node

    def ask(self, key: str, question: Callable[[], T], fallback: T) -> T:
        """An engineer decision, memoised for resume. An engineer that cannot answer (no plan
        left, a bug, a provider gone) does not end the run: the failure is journaled and the
        search goes on with the fallback, which is memoised too so a resume takes the same path."""

        def guarded() -> T:
            try:
                return question()
            except Exception as e:
                error = _engineer_error(e)
                self.journal.record(EngineerFailed(key=key, error=error))
                self.progress.note(f"{key}: {error}")
                return fallback

        return self.memo(key, guarded)

    def _learn(self, node: Node) -> None:
        """Remember a working script's digest, so a later attempt running the same code repeats it."""
        digest = self._ran.get(node.id)
        if node.ok and digest is not None:
            with self._digest_lock:
                self._digests.setdefault(digest, node.id)

    def _twin(self, digest: str) -> Node | None:
        """An earlier working attempt whose script has this behaviour digest (ablation variants and
        undo plans often coincide, and engineers repeat themselves); read from the journal on first use."""
        with self._digest_lock:
            if not self._seeded:  # a resumed run learns the scripts that ran before it
                self._seeded = True
                for n in self.journal.nodes.values():
                    if n.ok and n.code_path and n.stage != Stage.FINAL and "same_as" not in n.meta:
                        key = self._split_key(str(n.meta.get("split", "search")))
                        self._digests.setdefault(syntax.behaviour_digest(self.script_of(n)) + ":" + key, n.id)
            twin_id = self._digests.get(digest)
        return self.journal.get(twin_id) if twin_id else None

    def _split_key(self, split: str) -> str:
        if split not in self._split_keys:
            self._split_keys[split] = self.harness.split_key(split)
        return self._split_keys[split]

    def script_of(self, node: Node) -> str:
        assert node.code_path is not None, f"{node.id} has no script"
        return (self.harness.layout.root / node.code_path).read_text()

    # -- helpers -------------------------------------------------------------------------------
    def _ranked(self, nodes: list[Node]) -> list[Node]:
        """Best score first; equal scores by id."""
        return best_first(nodes, self.harness.score_of, lambda n: n.id)

    def _decide(self, what: Decision, node: Node, base: Node) -> None:
        if not self.journal.has(Decided, what=what, node=node.id):
            self.journal.record(
                Decided(what=what, node=node.id, base=base.id, score=node.score, base_score=base.score)
            )


def _skipped_node(att: Attempt) -> Node:
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


def _engineer_error(e: Exception) -> str:
    tb = traceback.format_exception_only(type(e), e)
    return "the engineer could not write this attempt: " + "".join(tb).strip()


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0][:120] if text and text.strip() else "failure"
