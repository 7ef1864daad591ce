"""The last stage: a checked submission first, then the final fit, the model and solution.py.

While the search runs, submission.csv follows its best so far (best_so_far.py). The submission is
written from the best stored predictions as soon as the search ends, unless it holds them already,
beside the final fit (a file of millions of rows takes seconds, and a refit on the search's threads
leaves a core to it), so a run that hits its budget during the final fit still leaves a valid file. A
handed-over script whose search run already was its final fit (once, on every training row, its
settings now frozen to what that run chose) is reused: its stored predictions and saved model are
final (saved_models.py). The final fit reruns the others (settings frozen, MLESTAR_MODE=handover)
on every training row, with the threads the search gave each script, and the submission is written
again from what they predicted, combined by the code solution.py ships: `python solution.py`
computes the same file. A script's final fit the search ran ahead, on a lane it left idle
(Search.final_fit_ahead), is found under its id and not run again; the best so far's file then holds
its answers already.

An ensemble hands over only its members with a weight; they are refitted in parallel, the most
weighted first. A member with no time left (or whose refit fails) keeps its stored predictions, and
the run says so (a final_member event). Those are what its script computes on the folds it was
searched on: when the search used a subsample of the rows, solution.py runs that member on the
search's folds (rows.py), so the hand-over stays exact.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from mlestar import contract
from mlestar.checks.frozen import clock_findings
from mlestar.handover import rows, shipped, standalone
from mlestar.handover.best_so_far import BestSoFar
from mlestar.handover.libraries import libraries_in
from mlestar.handover.plan import HandoverPlan, MemberFit, plan_of, schedule
from mlestar.handover.submission import (
    baseline_predictions,
    check_submission,
    to_submission_frame,
    trivial_predictions,
    write_submission,
)
from mlestar.journal import Node, Stage
from mlestar.journal.events import EXAMPLE_ROWS, FinalChosen, FinalMember, RunFinished, SubmissionWritten
from mlestar.search.budget import Budget
from mlestar.search.combine import combine
from mlestar.search.final_fit import done_final_fit, final_fits, run_final_fit
from mlestar.search.freeze import freeze_and_journal, unfrozen_span
from mlestar.search.harness import Attempt, Harness
from mlestar.search.progress import Progress
from mlestar.search.saved_models import delete_unused, model_path, saved_model
from mlestar.task.files import read_table
from mlestar.task.spec import ProblemType, TaskSpec


def _numeric_prior_fits(spec: TaskSpec) -> bool:
    """The prior script answers numeric layouts only; text, label lists and top-k use baselines."""
    textual = spec.submission.value_kind in ("labels", "ranked", "text")
    return spec.problem_type is not ProblemType.TEXT and not textual


@dataclass(frozen=True)
class Outcome:
    status: str
    """"ok", or "fallback" when no solution worked and the prior was submitted."""
    best: str | None
    score: float | None
    model: str | None


class Finisher:
    def __init__(
        self, harness: Harness, budget: Budget, progress: Progress, threads: int, lanes: int = 1
    ) -> None:
        """`threads`: what each final script may use (the search's, so stored predictions and refits
        agree); `lanes`: how many refits run at once."""
        self.h = harness
        self.layout = harness.layout
        self.spec = harness.spec
        self.budget = budget
        self.progress = progress
        self.threads = threads
        self.lanes = max(1, lanes)
        self.same_rows = bool(np.array_equal(harness.folds, harness.folds_full))
        """The search used every row: a member's stored predictions are what its refit computes."""
        self.inexact: list[str] = []
        """Members whose predictions in the submission are not what solution.py computes."""
        self.submitted: np.ndarray | None = None
        """The predictions submission.csv holds now."""
        self.model_libraries: list[str] | None = None
        """The ML libraries the final model's pickle names, found while it was written."""
        self.search_folds: dict[str, str] = {}
        """Members kept stored from a subsample: the ./input folds file solution.py runs each on."""
        self._best_so_far: BestSoFar | None = None

    def follow_search(self) -> None:
        """Keep submission.csv at the search's best so far while it runs (before finish)."""
        self._best_so_far = BestSoFar(self.h.journal, self.spec.lower_is_better, self._submit_best)

    def _submit_best(self, node: Node) -> None:
        """The node's answers: its final fit's once that is done (a script fitted ahead: what the
        hand-over submits for it), else what its search run predicted."""
        fit = done_final_fit(self.h.journal, node.id) if node.code_path is not None else None
        if fit is not None:
            self.submit(self.h.predictions(fit.id).test, "final", fit.id)
        else:
            self.submit(self.h.predictions(node.id).test, "search", node.id)

    @cached_property
    def test(self) -> pd.DataFrame:
        return pd.read_parquet(self.layout.data / contract.TEST_FILE)

    @cached_property
    def test_ids(self) -> pd.DataFrame:
        """The test table's rows with only what a submission of predictions reads from them, its
        id column (a table of millions of pixel rows is read in a fraction of the time)."""
        path = self.layout.data / contract.TEST_FILE
        if "test" in self.__dict__ or self.spec.id_column is None:
            return self.test
        import pyarrow.parquet as pq

        if self.spec.id_column not in pq.read_schema(path).names:
            return self.test
        return pd.read_parquet(path, columns=[self.spec.id_column])

    @cached_property
    def sample(self) -> pd.DataFrame | None:
        path = self.spec.sample_submission_path
        return read_table(path, self.spec.id_column) if path is not None else None

    def finish(self, best: Node | None) -> Outcome:
        self.progress.set_stage("submit")
        if self._best_so_far is not None:
            self._best_so_far.close()  # the file of the best so far written first, then never again
        if best is None:
            return self._fallback()
        plan = plan_of(best)
        self.h.journal.record(
            FinalChosen(
                node=best.id,
                solution_kind="script" if plan.kind == "script" else "ensemble",
                score=best.score,
                members=list(plan.members),
                dropped=list(plan.dropped),
            )
        )
        for member in plan.members:  # idempotent: a run killed before freezing is frozen now
            freeze_and_journal(self.layout, self.h.journal, self.h.journal.nodes[member])
        with ThreadPoolExecutor(1, thread_name_prefix="submit") as writer:
            # The search's answers beside the refits, so the file holds the chosen solution while
            # they run; with every member fitted ahead, the final answers are ready: one write.
            fitted = all(done_final_fit(self.h.journal, m) is not None for m in plan.members)
            searched = None if fitted else writer.submit(self._submit_best, best)
            fits = self._final_fits(plan)
            model = self._model(plan, fits)  # beside the file too, when nothing was refit
            self._write_solution(plan, fits)
            if searched is not None:
                searched.result()
        self.submit(self._combined(plan, fits), "final")
        outcome = Outcome("ok", best.id, best.score, model)
        self._finished(outcome, fits)
        return outcome

    def submit(self, pred: np.ndarray, answers: str, node: str | None = None) -> None:
        if self.submitted is not None and _same(self.submitted, pred):
            return  # the file holds them already (the best so far, or a final fit that reproduced it)
        began = time.time()
        frame = to_submission_frame(self.spec, pred, self.test_ids, self.sample)
        check_submission(frame, self.spec, self.sample)
        write_submission(frame, self.layout.submission)
        self.submitted = pred
        self.h.journal.record(
            SubmissionWritten(answers=answers, rows=len(frame), seconds=time.time() - began, node=node)
        )

    # -- final fit -------------------------------------------------------------------------------
    def _final_fits(self, plan: HandoverPlan) -> dict[str, MemberFit]:
        """Reuse the members whose search run fitted the final model; refit the others that fit
        in the time left, in parallel (a member whose fit ahead failed once more); the rest keep
        their stored predictions, with the reason journaled."""
        nodes = {m: self.h.journal.nodes[m] for m in plan.members}
        tried = {m: final_fits(self.h.journal, m) for m in plan.members}  # fitted ahead, or resumed
        done = {m: done_final_fit(self.h.journal, m) for m in plan.members}
        reused = {m for m in plan.members if done[m] is None and self._reusable(nodes[m])}
        spent = {m for m in plan.members if done[m] is None and m not in reused and len(tried[m]) == 2}
        todo = [m for m in plan.members if done[m] is None and m not in spent | reused]
        admitted, refused = schedule(todo, plan.weights_by_member, nodes, self.lanes, self.budget.remaining())
        with ThreadPoolExecutor(self.lanes, thread_name_prefix="final") as pool:
            ran = dict(zip(admitted, pool.map(self._refit, [nodes[m] for m in admitted]), strict=True))
        fits = {}
        for member in plan.members:
            node = done[member] or ran.get(member) or (tried[member][-1] if member in spent else None)
            reason = refused.get(member) or (None if node is None or node.ok else _failed(node))
            ok = node if node is not None and node.ok else None
            fits[member] = MemberFit(member, ok, reason, reused=member in reused)
            self._journal_member(fits[member], plan.kind == "stacking")
        used = {f.model_id for f in fits.values() if f.model_id is not None}
        delete_unused(self.layout, self.h.journal.nodes.values(), used)
        return fits

    def _reusable(self, node: Node) -> bool:
        """Is the member's search run the computation its refit would be? It ran once (no repeats
        averaged in), on every row in the final folds, saved its model, and its script now uses
        what that run chose (its settings frozen, or it searched none): the frozen script in
        handover mode fits the same model."""
        return (
            saved_model(self.layout, node) is not None
            and _repeats(node) == 1
            and rows.search_folds_for(self.layout, node) is None
            and unfrozen_span(self._script(node.id)) is None
        )

    def _refit(self, node: Node) -> Node:
        return run_final_fit(self.h, self.budget, node, self.threads)

    def _journal_member(self, fit: MemberFit, stacking: bool) -> None:
        """The member's final_member event: is what the submission used what solution.py computes?"""
        node = self.h.journal.nodes[fit.member]
        clock = [str(f) for f in clock_findings(self._script(fit.member))]
        repeated = self._repeated(fit)
        folds = rows.search_folds_for(self.layout, node) if fit.model_id is None else None
        if folds is not None:
            self.search_folds[fit.member] = folds
        # Stored predictions are what the script computes on the folds it was searched on, which
        # solution.py gives it; their test predictions are its first split's, but a stacker also
        # reads the out-of-fold ones, which repeats average over several splits.
        stored_exact = not (stacking and _repeats(node) > 1)
        exact = (fit.refit is not None or stored_exact) and not clock and repeated is not False
        if not exact:
            self.inexact.append(fit.member)
        self.h.journal.record(
            FinalMember(
                member=fit.member,
                refit=fit.refit is not None,
                reused=fit.reused,
                reason=fit.reason,
                exact=exact,
                repeated=repeated,
                clock=clock,
                folds=folds,
            )
        )
        if clock:
            self.progress.note(
                f"{fit.member} depends on the clock outside the explore guard ({clock[0]}): solution.py "
                "searches again and may not rebuild the submission exactly"
            )
        if repeated is False:
            self.progress.note(
                f"{fit.member} predicted differently in its refit than in the search, on the same rows: "
                "its script is not repeatable, so solution.py may not rebuild the submission exactly"
            )
        if fit.model_id is None:
            self.progress.note(
                f"{fit.member} uses its stored predictions ({fit.reason}); {_consequence(exact, folds)}"
            )

    def _repeated(self, fit: MemberFit) -> bool | None:
        """Did the refit predict exactly what the search run did? (None: not comparable, as when
        the search used a subsample or there was no refit.) Out-of-fold predictions compare only
        when the search ran the script once: repeats average them over several splits."""
        if fit.refit is None or not self.same_rows:
            return None
        searched, refit = self.h.predictions(fit.member), self.h.predictions(fit.refit.id)
        if _repeats(self.h.journal.nodes[fit.member]) > 1:
            return _same(searched.test, refit.test)
        return _same(searched.test, refit.test) and _same(searched.oof, refit.oof)

    def _combined(self, plan: HandoverPlan, fits: dict[str, MemberFit]) -> np.ndarray:
        """The submission's predictions: each member's final ones (stored where it was not refit),
        combined as solution.py combines them."""
        preds = [self.h.predictions(fits[m].source_id) for m in plan.members]
        if plan.kind == "script":
            return preds[0].test
        problem = self.spec.problem_type
        # On the final fit's threads, as `python solution.py` runs it (a stacker's fit on more
        # threads than that is no faster beside other work, and may differ in its last digits).
        with threadpool_limits(limits=self.threads):
            return combine(
                plan.kind,
                [p.oof for p in preds],
                [p.test for p in preds],
                self.h.y,
                list(plan.weights),
                problem.is_classification,
                problem is ProblemType.MULTICLASS,
            )

    def _model(self, plan: HandoverPlan, fits: dict[str, MemberFit]) -> str | None:
        sources = [fits[m].model_id for m in plan.members]
        if any(s is None for s in sources):
            self.progress.note(
                "not every member was refit: no saved model for this run (the submission is unaffected)"
            )
            return None
        paths = [model_path(self.layout, s) for s in sources if s]
        if not all(p.exists() for p in paths):
            self.progress.note("the final script saved no model: serving is not available for this run")
            return None
        from mlestar.handover.predictor import copy_model, save_ensemble_model

        if plan.kind not in ("script", "average", "greedy"):
            self.progress.note("no servable model for this ensemble kind: the submission is unaffected")
            return None
        # The libraries the members' pickles name (the model's pip requirements) are searched for
        # while the model is written, which the disk does more than the interpreter.
        with ThreadPoolExecutor(1, thread_name_prefix="libraries") as search:
            libraries = search.submit(libraries_in, paths)
            if plan.kind == "script":
                copy_model(paths[0], self.layout.model)
            else:
                save_ensemble_model(paths, list(plan.weights), self.spec, self.layout.model)
            try:
                self.model_libraries = libraries.result()
            except OSError:  # unreadable now: the model's logging searches the model itself
                self.model_libraries = None
        return str(self.layout.model.relative_to(self.layout.root))

    # -- solution.py -------------------------------------------------------------------------------
    def _write_solution(self, plan: HandoverPlan, fits: dict[str, MemberFit]) -> None:
        """solution.py, and solution_parts/ with the code it ships (and an ensemble's members)."""
        reasons = {m: fits[m].reason or "not refit" for m in self.search_folds}
        searched = standalone.SearchedRows(dict(self.search_folds), reasons)
        members = {m: self._script(m) for m in plan.members}
        if plan.kind == "script" and plan.best in self.search_folds:
            code = standalone.member_script(plan.best, searched)
            shipped.write_parts(self.layout.solution_parts, self.spec, members, with_combine=False)
        elif plan.kind == "script":
            code = standalone.standalone_script(members[plan.best])
            shipped.write_parts(self.layout.solution_parts, self.spec, {})
        else:
            shipped.write_parts(self.layout.solution_parts, self.spec, members)
            code = standalone.ensemble_script(
                self.spec, list(plan.members), plan.kind, list(plan.weights), searched
            )
        self.layout.solution.write_text(code)

    def _script(self, node_id: str) -> str:
        return self.h.script_of(self.h.journal.nodes[node_id])

    def _fallback(self) -> Outcome:
        if self.spec.solver == "baseline" or not _numeric_prior_fits(self.spec):
            return self._baseline()
        self.progress.note(
            "no solution script worked: submitting the training prior, a valid but trivial answer"
        )
        att = Attempt(
            id="fallback",
            stage=Stage.FINAL,
            role="fallback",
            plan="predict the prior of the training answers",
        )
        script = standalone.trivial_body(self.spec)
        node = self.h.journal.get(att.id) or self.h.run(att, script, 60.0, 1)
        out = self.layout.attempt(att.id) / contract.OUTPUT_DIR / contract.TEST_PRED_FILE
        pred = np.load(out) if node.result and node.result.get("exit_code") == 0 and out.exists() else None
        if pred is None:
            pred = trivial_predictions(self.spec, self.h.y, self.h.n_test)
        self.submit(pred, "prior")
        self.layout.solution.write_text(standalone.trivial_script(self.spec))
        shipped.write_parts(self.layout.solution_parts, self.spec, {})
        outcome = Outcome("fallback", None, None, None)
        self._finished(outcome, {})
        return outcome

    def _baseline(self) -> Outcome:
        """The documented baseline of tasks no engineer answered (docs/conformance.md)."""
        base = self.spec.baseline
        self.progress.note(
            f"no engineer answered: submitting the baseline '{base}', a valid but plain answer"
        )
        self.submit(baseline_predictions(self.spec, self.h.y, self.test, self.sample), "baseline")
        self.layout.solution.write_text(
            f'"""No engineer answered this task: the baseline {base!r} was submitted."""\n'
        )
        outcome = Outcome("fallback", None, None, None)
        self._finished(outcome, {})
        return outcome

    def _example_predictions(self) -> list[list[float]] | None:
        """The submission's raw predictions of the first test rows: the final model's answers."""
        if self.submitted is None:
            return None
        head = np.asarray(self.submitted[:EXAMPLE_ROWS], dtype=float)
        return head.reshape(len(head), -1).tolist()

    def _finished(self, outcome: Outcome, fits: dict[str, MemberFit]) -> None:
        stored = [f.member for f in fits.values() if f.model_id is None]
        event = RunFinished(
            status=outcome.status,
            best=outcome.best,
            score=outcome.score,
            submission=self.layout.submission.name,
            solution=self.layout.solution.name,
            model=outcome.model,
            threads=self.threads,
            stored_members=stored,
            exact=not self.inexact,
            baseline=self.spec.baseline if outcome.status == "fallback" else None,
            finished=time.time(),
            example_predictions=self._example_predictions() if outcome.model else None,
            model_libraries=self.model_libraries if outcome.model else None,
        )
        self.h.journal.record(event)


def _consequence(exact: bool, folds: str | None) -> str:
    if not exact:
        return "solution.py will compute different ones"
    if folds is None:
        return "they are what its script computes on every row"
    return f"solution.py runs it on the rows it was searched on (./input/{folds}), which computes them"


def _failed(node: Node) -> str:
    first = (node.error or node.status).strip().splitlines()[0][:160]
    return f"its refit {node.status}: {first}"


def _repeats(node: Node) -> int:
    return int(node.meta.get("repeats", 1))


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f" and b.dtype.kind == "f"))
