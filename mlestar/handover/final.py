"""The last stage: a checked submission first, then the final fit, the model and solution.py.

The submission is written from the best stored predictions as soon as the search ends, so a run
that hits its budget during the final fit still leaves a valid file. The final fit then reruns the
chosen solution on every training row (when the search used a subsample) and saves its model.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlestar import contract
from mlestar.handover import standalone
from mlestar.handover.submission import (
    baseline_predictions,
    check_submission,
    to_submission_frame,
    trivial_predictions,
    write_submission,
)
from mlestar.journal import Node, Stage
from mlestar.journal.events import FinalChosen, RunFinished
from mlestar.search.budget import Budget
from mlestar.search.harness import Attempt, Harness
from mlestar.search.progress import Progress
from mlestar.task.files import read_table


def _numeric_prior_fits(spec) -> bool:  # type: ignore[no-untyped-def]
    """The prior script answers numeric layouts only; text, label lists and top-k use baselines."""
    from mlestar.task.spec import ProblemType

    return spec.problem_type is not ProblemType.TEXT and spec.submission.value_kind not in ("labels", "ranked", "text")


@dataclass(frozen=True)
class Outcome:
    status: str
    """"ok", or "fallback" when no solution worked and the prior was submitted."""
    best: str | None
    score: float | None
    model: str | None


class Finisher:
    def __init__(self, harness: Harness, budget: Budget, progress: Progress, threads: int) -> None:
        self.h = harness
        self.layout = harness.layout
        self.spec = harness.spec
        self.budget = budget
        self.progress = progress
        self.threads = threads
        self.test = pd.read_parquet(self.layout.data / contract.TEST_FILE)
        path = self.spec.sample_submission_path
        self.sample = read_table(path) if path is not None else None

    def finish(self, best: Node | None) -> Outcome:
        self.progress.set_stage("submit")
        if best is None:
            return self._fallback()
        self.submit(self.h.predictions(best.id).test)
        kind = "ensemble" if best.stage == Stage.ENSEMBLE else "script"
        self.h.journal.record(FinalChosen(node=best.id, solution_kind=kind, score=best.score))
        members = list(best.meta.get("members", [])) if best.stage == "ensemble" else [best.id]
        model = self._final_fit(best, members)
        self._write_solution(best, members)
        outcome = Outcome("ok", best.id, best.score, model)
        self._finished(outcome)
        return outcome

    def submit(self, pred: np.ndarray) -> None:
        frame = to_submission_frame(self.spec, pred, self.test, self.sample)
        check_submission(frame, self.spec, self.sample)
        write_submission(frame, self.layout.submission)

    # -- final fit -------------------------------------------------------------------------------
    def _final_fit(self, best: Node, members: list[str]) -> str | None:
        """Refit on all rows with the model saved; keep the stored predictions if that fails."""
        fitted: dict[str, Node] = {}
        for member in members:
            node = self.h.journal.get(member)
            if node is None or node.code_path is None:
                return None
            done = self.h.journal.get(f"final-{member}")
            if done is None:
                # The final fit uses every core, so it is usually quicker than the search's run.
                if self.budget.remaining() < max(10.0, 1.0 * node.duration_s):
                    self.progress.note(f"no time left to refit {member}: the submission uses its stored predictions")
                    return None
                att = Attempt(
                    id=f"final-{member}",
                    parent=member,
                    stage=Stage.FINAL,
                    role="final_fit",
                    plan="refit on all training rows and save the model",
                )
                script = (self.layout.root / node.code_path).read_text()
                self.progress.started(att.id)
                done = self.h.run(att, script, max(10.0, self.budget.remaining() - 3.0), self.threads, final=True)
                self.progress.finished(done, best)
            if not done.ok:
                return None
            fitted[member] = done
        if best.stage != "ensemble":
            only = fitted[best.id]
            self.submit(self.h.predictions(only.id).test)
            return self._copy_model(only.id)
        return self._ensemble_model(best, fitted)

    def _copy_model(self, node_id: str) -> str | None:
        source = self.layout.attempt(node_id) / contract.OUTPUT_DIR / contract.MODEL_FILE
        if not source.exists():
            self.progress.note("the final script saved no model: serving is not available for this run")
            return None
        self.layout.model.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, self.layout.model)
        return str(self.layout.model.relative_to(self.layout.root))

    def _ensemble_model(self, best: Node, fitted: dict[str, Node]) -> str | None:
        # Member refits are exact when the search used every row; the ensemble's test predictions
        # stand. A servable ensemble model is built from the members' saved models where possible.
        from mlestar.handover.predictor import save_ensemble_model

        paths = [self.layout.attempt(n.id) / contract.OUTPUT_DIR / contract.MODEL_FILE for n in fitted.values()]
        if not all(p.exists() for p in paths) or best.meta.get("kind") not in ("average", "greedy"):
            self.progress.note("no servable model for this ensemble kind: the submission is unaffected")
            return None
        save_ensemble_model(paths, list(best.meta["weights"]), self.spec, self.layout.model)
        return str(self.layout.model.relative_to(self.layout.root))

    # -- solution.py -------------------------------------------------------------------------------
    def _write_solution(self, best: Node, members: list[str]) -> None:
        if best.stage != "ensemble":
            code = (self.layout.root / best.code_path).read_text()  # type: ignore[operator]
            self.layout.solution.write_text(standalone.standalone_script(code, self.spec))
            return
        scripts = {m: (self.layout.root / self.h.journal.nodes[m].code_path).read_text() for m in members}  # type: ignore[operator]
        standalone.write_parts(self.layout.solution_parts, scripts)
        weights = list(best.meta.get("weights", [1.0 / len(members)] * len(members)))
        kind = str(best.meta.get("kind", "average"))
        self.layout.solution.write_text(standalone.ensemble_script(self.spec, members, kind, weights))

    def _fallback(self) -> Outcome:
        if self.spec.solver == "baseline" or not _numeric_prior_fits(self.spec):
            return self._baseline()
        self.progress.note("no solution script worked: submitting the training prior, a valid but trivial answer")
        att = Attempt(id="fallback", stage=Stage.FINAL, role="fallback", plan="predict the prior of the training answers")
        script = standalone.trivial_script(self.spec)
        node = self.h.journal.get(att.id) or self.h.run(att, script, 60.0, 1)
        out = self.layout.attempt(att.id) / contract.OUTPUT_DIR / contract.TEST_PRED_FILE
        pred = np.load(out) if node.result and node.result.get("exit_code") == 0 and out.exists() else None
        if pred is None:
            pred = trivial_predictions(self.spec, self.h.y, self.h.n_test)
        self.submit(pred)
        self.layout.solution.write_text(script)
        outcome = Outcome("fallback", None, None, None)
        self._finished(outcome)
        return outcome

    def _baseline(self) -> Outcome:
        """The documented baseline of tasks no engineer answered (docs/conformance.md)."""
        base = self.spec.baseline
        self.progress.note(f"no engineer answered: submitting the baseline '{base}', a valid but plain answer")
        self.submit(baseline_predictions(self.spec, self.h.y, self.test, self.sample))
        self.layout.solution.write_text(f'"""No engineer answered this task: the baseline {base!r} was submitted."""\n')
        outcome = Outcome("fallback", None, None, None)
        self._finished(outcome)
        return outcome

    def _finished(self, outcome: Outcome) -> None:
        event = RunFinished(
            status=outcome.status,
            best=outcome.best,
            score=outcome.score,
            submission=self.layout.submission.name,
            solution=self.layout.solution.name,
            model=outcome.model,
            threads=self.threads,
            baseline=self.spec.baseline if outcome.status == "fallback" else None,
            finished=time.time(),
        )
        self.h.journal.record(event)
