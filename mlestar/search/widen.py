"""Widening: what the search does with the time left once refinement has run out of ideas.

A run that stops early wastes its budget. Before the ensemble stage, the search widens instead:
  - more drafts: candidates that screened well but were not among the M drafted, best first;
  - more seeds: the best scripts again with other seeds (the contract's SEED constant), whose
    average is a cheap, reliable gain for models with randomness in them; a batch takes each
    script's next seed in rank order, so the best ones are seeded first and the others only with
    time left after them (a run that ran out of ideas early seeds every script it has);
so the ensemble stage has more, and more varied, members. Each round runs one batch and stops at
the stage's deadline; attempt ids name what they are, so a resumed run takes the same path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import partial
from itertools import zip_longest
from typing import TYPE_CHECKING

from mlestar.journal import SCRIPT_STAGES, SEED_OF, Node, Stage, Status
from mlestar.search.attempts import Job, ScriptMaker
from mlestar.search.harness import Attempt
from mlestar.search.ranking import ranked

if TYPE_CHECKING:
    from mlestar.search.stages import Search

_SEED_LINE = re.compile(r"^SEED\s*=.*$", re.MULTILINE)


def seed_variant(script: str, seed: int) -> str | None:
    """The script with its SEED constant set to `seed` (a literal, so the final fit and solution.py
    use it too); None when the script has no top-level SEED line to change."""
    found = _SEED_LINE.search(script)
    if found is None:
        return None
    line = f"SEED = {seed}  # a seed variant: the same solution with other random draws"
    return script[: found.start()] + line + script[found.end() :]


def widen(search: Search) -> None:
    while True:
        jobs = next_jobs(search, fits=partial(_fits, search))
        if not jobs:
            return
        nodes = search.attempts.run_batch(jobs, stage=Stage.WIDEN)
        if all(n.status == Status.SKIPPED for n in nodes):
            return


def next_jobs(search: Search, fits: Callable[[Attempt], bool] = lambda att: True) -> list[Job]:
    """The next batch: new drafts and seed variants taken in turn, as many as run at once, and no
    more than --max-nodes leaves (so which job gets the last script never depends on timing).
    A job that does not `fit` the time left is passed over, not waited for: a slow draft must not
    keep the cheaper ones behind it (a seed variant, a faster family) from the time."""
    left = search.budget.nodes_left()
    jobs = search.attempts.jobs
    size = jobs if left is None else min(jobs, left)
    batch: list[Job] = []
    for pair in zip_longest(_more_drafts(search), _more_seeds(search)):
        batch.extend(job for job in pair if job is not None and fits(job[0]))
        if len(batch) >= size:
            break
    return batch[:size]


def _fits(search: Search, att: Attempt) -> bool:
    return search.budget.may_start(Stage.WIDEN, _expected_s(search, att))


def _more_drafts(search: Search) -> Iterator[Job]:
    for j, name in enumerate(search.state.widen_order):
        att_id = f"wide-draft-{j}"
        if search.journal.get(att_id) is not None:
            continue
        cand = search.state.candidates[name]
        screened = search.state.screened.get(name)
        make: ScriptMaker = (
            partial(search.harness.script_of, screened)
            if screened is not None and screened.code_path
            else partial(search.engineer.draft, search.ctx, cand)
        )
        plan = f"{cand.name}: {cand.summary}"
        att = Attempt(id=att_id, stage=Stage.WIDEN, role="draft", plan=plan, meta={"candidate": cand.name})
        yield att, make


def _more_seeds(search: Search) -> Iterator[Job]:
    for base in _seed_targets(search):
        script = search.harness.script_of(base)
        for s in range(1, search.settings.widen_seeds + 1):
            att_id = f"wide-seed{s}-{base.id}"
            done = search.journal.get(att_id)
            if done is not None:
                if not done.ok or done.score == base.score:
                    break  # a model without randomness: other seeds give the same predictions
                continue
            seed = search.ctx.seed + s
            variant = seed_variant(script, seed)
            if variant is None:
                break
            meta = {SEED_OF: base.id, "seed": seed}
            plan = f"{base.id} with seed {seed}, for seed averaging"
            att = Attempt(id=att_id, parent=base.id, stage=Stage.WIDEN, role="seed", plan=plan, meta=meta)
            yield att, partial(str, variant)
            break  # one seed of a script per batch: the first one tells whether seeds matter


def _seed_targets(search: Search) -> list[Node]:
    """Every working script that is not itself a variant or a repeat, best first."""
    nodes = [
        n
        for n in search.journal.nodes.values()
        if n.ok and n.code_path and n.stage in SCRIPT_STAGES and n.seed_of is None and n.repeat_of is None
    ]
    return ranked(nodes, search.ctx.spec.lower_is_better)


def _expected_s(search: Search, att: Attempt) -> float:
    """A seed variant takes what its script took; a screened draft, its screening time scaled by
    how much more fitting the search's folds ask (rows times folds, and splits); else the median draft."""
    base = search.journal.get(att.parent) if att.parent else None
    if base is not None:
        return base.duration_s
    screened = search.state.screened.get(str((att.meta or {}).get("candidate")))
    if screened is not None and screened.ok:
        return screened.duration_s * search.harness.screen_cost_ratio()
    drafts = sorted(n.duration_s for n in search.journal.nodes.values() if n.ok and n.stage == Stage.DRAFT)
    return drafts[len(drafts) // 2] if drafts else 0.0
