"""The MLE-STAR search over an Engineer, stage by stage in the paper's order (arXiv 2506.15692):

  screen     retrieval: the engineer's candidate models, each tried cheaply on this task's data;
             the M best are drafted (screening.py)
  draft      one initial solution per candidate, evaluated on the run's folds
  merge      candidates merged into the best draft, until a merge does not help (Algorithm 1)
  check      does the solution use all the data, does it leak the target
  refine     T outer steps, each: ablation -> the block that matters most -> K inner plans for
             that block (Algorithm 2)
  widen      time refinement left over: more screened drafts and seed variants (widen.py)
  ensemble   R ensemble plans over the best scripts (Algorithm 3)

The engineer writes scripts and takes decisions; every attempt goes through the attempt runner
(attempts.py), which runs it in the harness and journals it. Every engineer decision goes through
`ask`, memoised in the journal, so a resumed run takes the path the interrupted one took.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from mlestar import blocks
from mlestar.config import SearchSettings
from mlestar.engineers.base import (
    AblationResult,
    BlockChoice,
    Candidate,
    Engineer,
    EnsembleMember,
    LeakageReport,
    PlanOutcome,
    TaskContext,
    Variant,
)
from mlestar.journal import Journal, Node, Stage
from mlestar.journal.events import (
    Decided,
    Decision,
    EngineerFailed,
    FallbackDrafts,
    LeakageFound,
    StageFinished,
    StageStarted,
)
from mlestar.search import ensemble as ens
from mlestar.search import keys, screening
from mlestar.search import widen as widening
from mlestar.search.attempts import Attempts, Job, engineer_error, skipped_node
from mlestar.search.budget import Budget, refit_allowance, refit_seconds, refittable
from mlestar.search.final_fit import run_final_fit
from mlestar.search.harness import Attempt, Harness
from mlestar.search.memo import Memo
from mlestar.search.ranking import ensemble_members, ranked

T = TypeVar("T")


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
    drafts: list[Node] = field(default_factory=list)
    """The working drafts, best first: the merge stage's candidates."""
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
        jobs: int,
        warm_start: tuple[WarmScript, ...] = (),
    ) -> None:
        self.engineer = engineer
        self.harness = harness
        self.journal = journal
        self.budget = budget
        self.settings = settings
        self.warm_start = warm_start
        self.memo = Memo(journal)
        self.attempts = Attempts(ctx, engineer, harness, budget, settings, jobs)
        self.state = SearchState()

    @property
    def ctx(self) -> TaskContext:
        """What the engineer knows of the task; screening adds its table."""
        return self.attempts.ctx

    @ctx.setter
    def ctx(self, ctx: TaskContext) -> None:
        self.attempts.ctx = ctx  # the debug role reads it too

    # -- the whole search ----------------------------------------------------------------------
    def run(self) -> Node | None:
        """Run every stage; returns the best solution node (script or ensemble), or None."""
        stages = (
            (Stage.SCREEN, self.screen),
            (Stage.DRAFT, self.draft),
            (Stage.MERGE, self.merge),
            (Stage.CHECK, self.check),
            (Stage.REFINE, self.refine),
            (Stage.WIDEN, self.widen),
            (Stage.ENSEMBLE, self.ensemble),
        )
        try:
            for name, stage in stages:
                if name == Stage.REFINE:  # the current solution is settled enough to fit it ahead
                    self.attempts.spare = self.final_fit_ahead
                    ens.import_ahead()
                if not self.journal.has(StageStarted, stage=name):
                    self.journal.record(StageStarted(stage=name))
                stage()
                if not self.journal.has(StageFinished, stage=name):
                    best = self.best()
                    self.journal.record(StageFinished(stage=name, best=best.id if best else None))
                if self.state.current is None and name != Stage.SCREEN:
                    break  # nothing works: no merge, refinement or ensemble can help
        finally:
            self.attempts.close()
        return self.best()

    def best(self) -> Node | None:
        return self.journal.best_solution(self.ctx.spec.lower_is_better)

    def final_fit_ahead(self) -> Callable[[], Node] | None:
        """Spare work for a lane the search leaves idle, from refinement on: the final fit of a
        script the hand-over would likely refit now (the best script first, then the next ones an
        ensemble would draw on: those the final reserve keeps time for), when the hand-over would
        refit it (its search run saved no model to reuse) and the fit should end before the search
        does. Done, the hand-over does not refit it and the reserve keeps no time for it."""
        for node in self.attempts.likely_handed_over():
            if self.attempts.refit_need(node) == 0.0:
                continue
            if self.journal.get(keys.final_fit_id(node.id)) is not None:  # failed
                continue
            if refit_allowance(refit_seconds(node)) <= self.budget.search_remaining():
                return partial(self._fit_ahead, node)
        return None

    def _fit_ahead(self, script: Node) -> Node:
        node = run_final_fit(self.harness, self.budget, script, self.ctx.threads, ahead=True)
        self.attempts.keep_reserve()
        return node

    # -- retrieval and initial solutions -------------------------------------------------------
    def screen(self) -> None:
        """Retrieval: the engineer's candidates, all screened cheaply when there are more than M
        (screening.py); sets the draft and widening orders and ctx.screening."""
        screening.retrieve(self)

    def draft(self) -> None:
        """One script per chosen candidate (the screened script itself when it screened), after an
        earlier run's best scripts when retraining; the best that works is the current solution."""
        drafts = [self._draft_job(i, name) for i, name in enumerate(self.state.draft_order)]
        nodes = self.attempts.run_batch(self._warm_jobs() + drafts, stage=Stage.DRAFT, always_first=True)
        ok = self._ranked([n for n in nodes if n.ok]) or self._ranked(
            [n for n in self._fallback_drafts() if n.ok]
        )
        self.state.drafts = ok
        self.state.current = ok[0] if ok else None

    def _draft_job(self, i: int, name: str) -> Job:
        cand, screened = self.state.candidates[name], self.state.screened.get(name)
        if screened is not None and screened.code_path:  # the script screened is the draft
            return keys.draft(i, cand, screened), partial(self.harness.script_of, screened)
        return keys.draft(i, cand, None), partial(self.engineer.draft, self.ctx, cand)

    def _fallback_drafts(self) -> list[Node]:
        """Every draft failed: an engineer with a fallback (the LLM engineer's built-in one) has it
        draft the same candidates, so the run still has a line of solutions to improve instead of
        ending at the prior."""
        fallback: Engineer | None = getattr(self.engineer, "fallback", None)
        if fallback is None or not self.state.draft_order:
            return []
        if not self.journal.has(FallbackDrafts):
            self.journal.record(FallbackDrafts(candidates=list(self.state.draft_order)))
        cands = [self.state.candidates[name] for name in self.state.draft_order]
        jobs = [
            (keys.fallback_draft(i, c), partial(fallback.draft, self.ctx, c)) for i, c in enumerate(cands)
        ]
        return self.attempts.run_batch(jobs, stage=Stage.DRAFT, always_first=True)

    def _warm_jobs(self) -> list[Job]:
        """An earlier run's best scripts, run first as drafts on this run's data and folds."""
        jobs: list[Job] = []
        for i, warm in enumerate(self.warm_start):
            self.state.candidates.setdefault(warm.name, Candidate(warm.name, warm.plan, source="warm_start"))
            jobs.append((keys.warm_start(i, warm.name, warm.plan, warm.source), partial(str, warm.code)))
        return jobs

    # -- merging and checks --------------------------------------------------------------------
    def merge(self) -> None:
        """Algorithm 1: merge each next draft into the best one; a merge is kept when it scores at
        least as well, and the first one that does not ends the stage. Drafts that end late take
        the stage's share, not its first merge (often the search's largest single gain): that one
        may run into the check stage's share."""
        base = self.state.current
        assert base is not None
        for i, other in enumerate(self.state.drafts[1:], start=1):
            expected = max(base.duration_s, other.duration_s)
            if not self.budget.may_start(Stage.MERGE, expected, into_next=i == 1):
                break
            cand = self.state.candidates[other.meta["candidate"]]
            scripts = self.harness.script_of(base), self.harness.script_of(other)
            node = self.attempts.step(
                keys.merge(i, base, cand), partial(self.engineer.merge, self.ctx, *scripts, cand)
            )
            if not node.ok or self.harness.score_of(base).beats(node.score):  # ties are kept
                self._decide(Decision.MERGE_REJECTED, node, base)
                break
            self._decide(Decision.MERGE_KEPT, node, base)
            base = node
        self.state.current = base

    def check(self) -> None:
        """The data-usage check (a script that uses the data it ignored is kept if no worse), then
        the leakage check of the solution refinement starts from."""
        cur = self.state.current
        assert cur is not None
        script = self.harness.script_of(cur)
        if self.budget.may_start(Stage.CHECK):
            revised = self.ask("check-data", partial(self.engineer.check_data_usage, self.ctx, script), None)
            if revised:
                node = self.attempts.step(keys.data_usage(cur), partial(str, revised))
                if node.ok and not self.harness.score_of(cur).beats(node.score):
                    self._decide(Decision.DATA_USAGE_KEPT, node, cur)
                    cur = node
                else:
                    self._decide(Decision.DATA_USAGE_REJECTED, node, cur)
        self.state.current = self._leak_checked(cur, "check-leak", Stage.CHECK)

    def _leak_checked(self, node: Node, key: str, stage: Stage) -> Node:
        """The engineer's leakage check on a solution about to become the current one (the first,
        and each refinement kept after it): the node itself, or its fix when one was written and
        works. A leak-free score is the honest one, even when it is lower."""
        script = self.harness.script_of(node)
        report = self.ask(key, partial(self.engineer.check_leakage, self.ctx, script), LeakageReport(()))
        if not report.leaks:
            return node
        self.journal.record(LeakageFound(node=node.id, leaks=list(report.leaks)))
        if not report.fixed_code:
            return node
        att = keys.leakage_fix(key, node, stage, report.leaks)
        fix = self.attempts.step(att, partial(str, report.fixed_code))
        if not fix.ok:
            return node
        self._decide(Decision.LEAKAGE_FIXED, fix, node)
        return fix

    # -- targeted refinement (Algorithm 2) -----------------------------------------------------
    def refine(self) -> None:
        """T outer steps on the current solution; two in a row without a gain end the stage."""
        stalled = 0
        for t in range(self.settings.t_outer):
            cur = self.state.current
            if stalled >= 2 or cur is None or not self.budget.may_start(Stage.REFINE, cur.duration_s):
                break
            stalled = 0 if self.refine_step(t) else stalled + 1

    def refine_step(self, t: int) -> bool:
        """Ablation -> block choice -> inner plans; the best plan, when it beats the current
        solution, is leak-checked and becomes the current solution."""
        cur = self.state.current
        assert cur is not None and cur.score is not None
        script = self.harness.script_of(cur)
        summary = self.ablation(t, cur, script)
        choice = self.choose_block(t, script, summary)
        best = cur if choice is None else self.inner_plans(t, cur, script, choice)
        self.state.summaries.append(summary)
        if choice is not None:
            self.state.refined_blocks.append(choice.block)
        if best is cur:
            self.journal.record(Decided(what=Decision.REFINEMENT_NONE, round=t, node=cur.id))
            return False
        self._decide(Decision.REFINEMENT_KEPT, best, cur)
        self.state.current = self._leak_checked(best, f"t{t}-check-leak", Stage.REFINE)
        return True

    def ablation(self, t: int, cur: Node, script: str) -> str:
        """The engineer's variants of the script with one part taken out or changed, all run; its
        summary of what each part is worth (earlier summaries steer it to new parts)."""
        previous = list(self.state.summaries)
        variants: list[Variant] = self.ask(
            f"t{t}-ablate", partial(self.engineer.ablate, self.ctx, script, previous), []
        )
        jobs = [(keys.ablation(t, cur, v), partial(str, v.code)) for v in variants]
        nodes = self.attempts.run_batch(jobs, stage=Stage.REFINE, debug=False)
        lower = self.ctx.spec.lower_is_better
        assert cur.score is not None
        results = [
            AblationResult(v, n.score, cur.score, lower) for v, n in zip(variants, nodes, strict=False)
        ]
        summarize = partial(self.engineer.summarize_ablation, self.ctx, results)
        return self.ask(f"t{t}-summary", summarize, "(no ablation summary)")

    def choose_block(self, t: int, script: str, summary: str) -> BlockChoice | None:
        """The block the ablation says matters most, with a first plan for it; None: no block."""
        refined = list(self.state.refined_blocks)
        pick = partial(self.engineer.pick_block, self.ctx, script, summary, refined)
        choice: BlockChoice | None = self.ask(f"t{t}-pick", pick, None)
        if choice is not None:
            self.journal.record(
                Decided(what=Decision.BLOCK_CHOSEN, round=t, block=choice.block, plan=choice.plan)
            )
        return choice

    def inner_plans(self, t: int, cur: Node, script: str, choice: BlockChoice) -> Node:
        """Up to K plans for the chosen block, one per lane: as an attempt comes back, its lane takes
        the next plan, written seeing the scores of the plans back so far (the others pending).
        The best attempt that beats `cur`, else `cur`."""
        plans = _Plans(self, t, cur, script, choice)
        best = cur
        while batch := plans.take(self.attempts.jobs):
            nodes = self.attempts.run_batch(batch, stage=Stage.REFINE, more=plans.back)
            for (att, _), node in zip(batch, nodes, strict=False):  # seen already, unless --max-nodes
                plans.seen(att, node)
            for node in nodes:
                if node.ok and self.harness.score_of(node).beats(best.score):
                    best = node
        return best

    def _implemented(self, script: str, block: str, plan: str) -> str:
        """The script with one block rewritten by the engineer; BlockError if that breaks it."""
        spliced = blocks.replace_block(script, block, self.engineer.implement(self.ctx, script, block, plan))
        return self.engineer.settle(self.ctx, spliced)

    # -- widening and ensembles ----------------------------------------------------------------
    def widen(self) -> None:
        """Time left after refinement: more drafts from the screening table and more seeds."""
        widening.widen(self)

    def ensemble(self) -> None:
        """Algorithm 3: R ensemble plans over the best distinct scripts (as many as the hand-over
        can refit), each plan seeing the scores of those before it; first, the best script's seeds
        averaged."""
        best = ensemble_members(self.journal, self.ctx.spec.lower_is_better)
        members = refittable(best, self.attempts.jobs, self.budget.remaining(), self.attempts.refit_need)
        if len(members) < 2:
            return
        history: list[PlanOutcome] = []
        tried: set[str] = set()
        seeds = self._seed_average(members)
        if seeds is not None:  # the engineer sees how it scored, and a plan of the same is not run again
            history.append(PlanOutcome(seeds.plan, seeds.score, members[0].score))  # type: ignore[arg-type]
            tried.add("average:" + ",".join(seeds.meta["members"]))
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
            att = keys.ensemble(r, members[0], chosen, plan)
            node = self.journal.get(att.id) or self._ensembled(att, plan.kind, chosen, plan.code)
            history.append(PlanOutcome(plan.plan, node.score, members[0].score))  # type: ignore[arg-type]

    def _seed_average(self, members: list[Node]) -> Node | None:
        """Widening seeds the best scripts to average them: the best member's script and its seed
        variants among the members, averaged, before the engineer's plans (which may not think of
        it). A variant is never handed over alone (Node.seed_of)."""
        top = members[0].seed_of or members[0].id
        group = [n for n in members if top in (n.id, n.seed_of)]
        if len(group) < 2 or not self.budget.may_compute():
            return None
        att = keys.seed_average(group)
        node = self.journal.get(att.id) or ens.computed(self.harness, att, "average", group)
        return node if node.ok else None

    def _ensembled(self, att: Attempt, kind: str, members: list[Node], code: str | None) -> Node:
        """An ensemble script run as an attempt, or an ensemble of the members' stored predictions
        computed by the harness (average, greedy weights, stacking)."""
        if kind == "script" and code:
            if not self.budget.may_start(Stage.ENSEMBLE):
                return skipped_node(att)
            return self.attempts.step(att, partial(str, code))
        return ens.computed(self.harness, att, kind, members)

    # -- the engineer's decisions --------------------------------------------------------------
    def ask(self, key: str, question: Callable[[], T], fallback: T) -> T:
        """An engineer decision, memoised for resume. An engineer that cannot answer (no plan
        left, a bug, a provider gone) does not end the run: the failure is journaled and the
        search goes on with the fallback, which is memoised too so a resume takes the same path."""

        def guarded() -> T:
            try:
                return question()
            except Exception as e:
                self.journal.record(EngineerFailed(key=key, error=engineer_error(e)))
                return fallback

        return self.memo(key, guarded)

    def _ranked(self, nodes: list[Node]) -> list[Node]:
        return ranked(nodes, self.ctx.spec.lower_is_better)

    def _decide(self, what: Decision, node: Node, base: Node) -> None:
        if not self.journal.has(Decided, what=what, node=node.id):
            self.journal.record(
                Decided(what=what, node=node.id, base=base.id, score=node.score, base_score=base.score)
            )


@dataclass
class _Plans:
    """The plans of one outer step for its block, asked for one at a time as lanes come free."""

    search: Search
    t: int
    cur: Node
    script: str
    choice: BlockChoice
    outcomes: list[PlanOutcome] = field(default_factory=list)
    """Plan k's at k: pending (no score) until its attempt is back."""
    places: dict[str, int] = field(default_factory=dict)
    """Attempt id -> k."""
    exhausted: bool = False
    """The engineer has no further plan for the block."""

    @property
    def base(self) -> float:
        """The score the plans are measured against: the current solution's."""
        assert self.cur.score is not None
        return self.cur.score

    def take(self, n: int) -> list[Job]:
        """Up to n plans to start together (fewer when the plans or the time run out)."""
        jobs: list[Job] = []
        while len(jobs) < n and (job := self.next()) is not None:
            jobs.append(job)
        return jobs

    def back(self, att: Attempt, node: Node) -> Job | None:
        """A plan's attempt is back: its score is seen, and the next plan takes its lane."""
        self.seen(att, node)
        return self.next()

    def seen(self, att: Attempt, node: Node) -> None:
        self.outcomes[self.places[att.id]] = PlanOutcome(att.plan, node.score, self.base)

    def next(self) -> Job | None:
        s, k, block = self.search, len(self.outcomes), self.choice.block
        if (
            self.exhausted
            or k >= s.settings.k_inner
            or not s.budget.may_start(Stage.REFINE, self.cur.duration_s)
        ):
            return None
        ask = partial(s.engineer.plan_next, s.ctx, self.script, block, list(self.outcomes))
        plan = self.choice.plan if k == 0 else s.ask(f"t{self.t}-plan{k}", ask, None)
        if plan is None:
            self.exhausted = True
            return None
        self.outcomes.append(PlanOutcome(plan, None, self.base))
        att = keys.inner_plan(self.t, k, self.cur, self.choice, plan)
        self.places[att.id] = k
        return att, partial(s._implemented, self.script, block, plan)
