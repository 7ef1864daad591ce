"""Retrieval by screening: every candidate the engineer knows is tried cheaply on this task's data.

MLE-STAR retrieves candidate models by searching the web for what worked on similar tasks. Offline,
the honest equivalent is evidence from the task itself: each candidate's first script runs on the
screening split (a subsample of a few thousand rows in two folds; small tables keep their folds),
under a time box, in parallel, early in the budget; a family's second candidate waits a few
places, so the evidence spans the leading families. Where scripts read per-row files, the first
candidate runs alone and unboxed, and the stages' shares are laid over the time left after it: it
computes the files' features once, for all. The M best, one per model family first, become the
drafts; the engineer's own order only decides who is screened first and breaks ties.

Decisions never depend on which parallel job finishes first: results are read back in the order
the candidates were given, and the choice is a pure function of the table, journaled once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from mlestar.engineers.base import Candidate, ScreenResult
from mlestar.journal import Node, Stage, Status
from mlestar.journal.events import Screened, StageStarted
from mlestar.metrics import Score, best_first
from mlestar.search.harness import Attempt

if TYPE_CHECKING:
    from mlestar.search.stages import Search

NODE_SHARE = 3
"""With --max-nodes, screening takes at most this fraction (1/3) of the scripts left."""
FAMILY_GAP = 2
"""Places a family's second candidate moves down the screening order (its third: twice that)."""


@dataclass(frozen=True)
class Screening:
    """The outcome: the table (best first) and the candidates to draft, in order."""

    results: tuple[ScreenResult, ...]
    drafts: tuple[str, ...]
    nodes: dict[str, Node]
    """Candidate name -> its screening attempt (its script becomes the draft's)."""


def choose(results: Sequence[ScreenResult], m: int, lower_is_better: bool) -> list[str]:
    """The M candidates to draft: the best of each family first (diversity is what merges and
    ensembles gain from) among those not clearly worse than the leader, then the next best of any
    family, then, if too few scripts worked, the failed ones in the engineer's order (the draft
    stage debugs them). A family whose best is clearly worse (its score's interval does not reach
    the leader's) brings no diversity worth a draft: a second script of a leading family does more."""
    ranked = ranked_results(results, lower_is_better)
    ok = [r for r in ranked if r.score is not None]
    chosen: list[str] = []
    families: set[str] = set()
    for r in ok:
        if r.family not in families and len(chosen) < m and not clearly_worse(r, ok[0], lower_is_better):
            chosen.append(r.name)
            families.add(r.family)
    for r in [*ok, *sorted((r for r in results if r.score is None), key=lambda r: r.prior)]:
        if len(chosen) < m and r.name not in chosen:
            chosen.append(r.name)
    return chosen


def clearly_worse(result: ScreenResult, leader: ScreenResult, lower_is_better: bool) -> bool:
    """The two scores' intervals do not overlap, the leader's being the better (no interval: not
    clearly worse)."""
    if result.interval is None or leader.interval is None:
        return False
    if lower_is_better:
        return result.interval[0] > leader.interval[1]
    return result.interval[1] < leader.interval[0]


def ranked_results(results: Sequence[ScreenResult], lower_is_better: bool) -> list[ScreenResult]:
    """Best first; scripts that did not work last, in the engineer's order."""
    return best_first(results, lambda r: Score(r.score, lower_is_better), lambda r: r.prior)


def leaders(results: Sequence[ScreenResult], n: int = 4) -> str:
    """The first rows of the table on one line: "logistic 0.04210, svm_rbf 0.05120, ..."."""
    return ", ".join(f"{r.name} {r.score:.5g}" for r in results[:n] if r.score is not None)


def result_of(cand: Candidate, prior: int, node: Node | None) -> ScreenResult:
    family = cand.family or cand.name
    if node is None:
        return ScreenResult(cand.name, family, None, 0.0, Status.SKIPPED, prior)
    return ScreenResult(
        cand.name, family, node.score, round(node.duration_s, 2), node.status, prior, interval=node.interval
    )


def screening_order(candidates: Sequence[Candidate], gap: int) -> list[int]:
    """Positions of the candidates in the order they are screened: the engineer's order, except
    that a family's second candidate moves `gap` places down, its third 2 x gap, and so on. When
    the screening's share of the budget runs out before every candidate ran (slow candidates, a
    loaded machine), its evidence spans the leading families rather than three boosters, while
    a family the engineer ranks far down does not jump ahead of a strong family's second."""
    seen: dict[str, int] = {}
    keyed = []
    for i, cand in enumerate(candidates):
        family = cand.family or cand.name
        keyed.append((i + gap * seen.get(family, 0), i))
        seen[family] = seen.get(family, 0) + 1
    return [i for _, i in sorted(keyed)]


def reads_row_files(profile: dict[str, Any]) -> bool:
    """Do the scripts read per-row files (pictures, sounds, ...)? Then the first candidate is
    screened alone and without the time box: computing the files' features is most of a first
    script's time, and candidates started together would each compute them and all time out,
    where after the first one they read them from the run's cache."""
    return bool(profile.get("files"))


def how_many(search: Search, n_candidates: int) -> int:
    """Candidates to screen: all of them, unless --max-nodes leaves too few scripts for the rest."""
    left = search.budget.nodes_left()
    return n_candidates if left is None else min(n_candidates, left // NODE_SHARE)


def time_box(search: Search) -> float:
    """Seconds one screening script may take: a small share of the search's time."""
    budget = search.budget
    return max(15.0, 0.08 * (budget.total_s - budget.base_reserve_s))


def retrieve(search: Search) -> None:
    """Ask for candidates, screen them, and set what the draft and widening stages take."""
    settings, state = search.settings, search.state
    wide = how_many(search, max(settings.m_candidates, settings.screen_candidates))
    if wide <= settings.m_candidates:  # too few scripts to screen: ask for the drafts alone
        wide = settings.m_candidates
    ask = partial(search.engineer.retrieve, search.ctx, wide)
    candidates: list[Candidate] = search.ask("retrieve", ask, [])
    state.candidates = {c.name: c for c in candidates}
    names = [c.name for c in candidates]
    found = None if _began_unscreened(search) else run_screening(search, candidates)
    if found is None:
        m = settings.m_candidates
        state.draft_order, state.widen_order = names[:m], names[m:]
        return
    state.draft_order, state.screened = list(found.drafts), found.nodes
    worked = [r.name for r in found.results if r.score is not None or r.status == Status.SKIPPED]
    state.widen_order = [n for n in worked if n not in found.drafts]
    search.ctx = replace(search.ctx, screening=found.results)
    if not search.journal.has(Screened):
        note = split_note(search)
        rows = [asdict(r) for r in found.results]
        search.journal.record(Screened(split=note, results=rows, drafts=list(found.drafts)))


def _began_unscreened(search: Search) -> bool:
    """A run from before screening existed (its draft stage began before any screening) is
    resumed the way it began."""
    began = [e.stage for e in search.journal.find(StageStarted)]
    if Stage.DRAFT not in began:
        return False
    return Stage.SCREEN not in began or began.index(Stage.DRAFT) < began.index(Stage.SCREEN)


def run_screening(search: Search, candidates: list[Candidate]) -> Screening | None:
    """Screen the candidates; None when there is nothing to choose (no more candidates than drafts,
    no screening split, or too few scripts left under --max-nodes)."""
    m = search.settings.m_candidates
    n = how_many(search, len(candidates))
    if len(candidates) <= m or n <= m or search.harness.folds_screen is None:
        return None
    chosen_before = search.memo.values.get("screen-choice") is not None
    box = time_box(search)
    order = screening_order(candidates, FAMILY_GAP)[:n]
    warm_up = reads_row_files(search.ctx.profile)
    futures = []
    for slot, i in enumerate(order):
        cand = candidates[i]
        first_alone = warm_up and slot == 0
        att = Attempt(
            id=f"screen-{slot}",
            stage=Stage.SCREEN,
            role="screen",
            plan=f"{cand.name}: screening its first script",
            meta={"candidate": cand.name, "family": cand.family or cand.name, "prior": i},
            split="screen",
            time_box=None if first_alone else box,
        )
        futures.append(search.attempts.pool.submit(_screen_one, search, att, cand, chosen_before))
        if first_alone:  # its features of the task's files fill the run's cache for all the others
            futures[-1].result()
            # Journaled: a resumed run lays the stages out as the interrupted one did.
            search.budget.start_schedule_after(search.memo("schedule-start", search.budget.elapsed))
    nodes = {candidates[i].name: f.result() for i, f in zip(order, futures, strict=True)}
    found = {name: node for name, node in nodes.items() if node is not None}
    results = [result_of(candidates[i], i, found.get(candidates[i].name)) for i in sorted(order)]
    lower = search.ctx.spec.lower_is_better
    drafts = search.memo("screen-choice", lambda: choose(results, m, lower))
    ranked = [replace(r, chosen=r.name in drafts) for r in ranked_results(results, lower)]
    return Screening(tuple(ranked), tuple(drafts), found)


def _screen_one(search: Search, att: Attempt, cand: Candidate, chosen_before: bool) -> Node | None:
    """One candidate's screening attempt, or None when it did not run. Admission is decided as the
    job starts, not when it was queued, so a slow screening cannot overrun its share of the budget;
    once the choice is journaled (a resumed run), nothing more is screened."""
    done = search.journal.get(att.id)
    if done is not None or chosen_before:
        return done
    if not search.budget.may_start(Stage.SCREEN):
        return None
    node = search.attempts.step(att, partial(search.engineer.draft, search.ctx, cand), debug=False)
    return None if node.status == Status.SKIPPED else node


def split_note(search: Search) -> str:
    """How the screening split was made, for the table's title."""
    folds = search.harness.folds_screen
    if folds is None:
        return ""
    used = folds[folds >= 0]
    note = f"{len(used)} rows in {len(set(used.tolist()))} folds, at most {time_box(search):.0f} s per script"
    return note + (
        " (the first alone and unboxed: it computes the files' features)"
        if reads_row_files(search.ctx.profile)
        else ""
    )
