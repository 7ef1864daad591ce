"""Where things live in a run folder. One place, so every module agrees.

RUN_DIR/
  config.json          the RunConfig of the run
  task.json            the inferred TaskSpec
  schema.json          the data schema of the model's inputs (mlestar/monitoring/schema.py)
  data/                parsed once at intake; what scripts see through ./input
    train.parquet  test.parquet  target.npy  task.json
    folds.npy          the search's folds (-1 on rows left out by the subsample)
    folds_full.npy     every row in a fold, for the final fit
    folds_screen.npy   the cheap split candidate models are screened on
    folds_repeat<r>.npy  small data only: the search's rows split again (see mlestar.splits)
  cache/               features computed from the task's files, shared by the attempts
  attempts/<node-id>/  one folder per attempt
    solution.py  input/ (links)  output/oof.npy  output/test.npy  stdout.txt  stderr.txt
    repeat-<r>/        on small data, the same script run on split r (its own input/ and output/,
                       and solution.py when the script searched: what split 1 found frozen in);
                       the attempt's output/oof.npy is then the average over the splits
  journal.jsonl        every attempt and decision, appended as it happens
  submission.csv       the checked submission
  solution.py          the final standalone script (reproduces submission.csv on its own)
  solution_parts/      the code solution.py ships: submission.py, and an ensemble's members and combine.py
  model/model.pkl      the final fitted model (a cloudpickled predictor)
  llm/                 recorded requests and replies of the LLM engineer
  mlflow.db  mlartifacts/   the local MLflow store, when tracking to the run folder
  monitoring/          request windows, monitor reports, cached reference predictions
  .lock                held by the process driving the run
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlestar.errors import RunFolderError


@dataclass(frozen=True)
class RunLayout:
    root: Path

    def refuse_existing(self) -> None:
        """A new run goes into a new or empty folder: a user's earlier run is never overwritten."""
        root = self.root
        if root.exists() and any(root.iterdir()):
            if self.journal.exists():
                raise RunFolderError(
                    f"expected a new or empty run folder; {root} holds a run: continue it with `mlestar resume {root}`"
                )
            raise RunFolderError(f"expected a new or empty run folder; {root} exists and is not empty")

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def task(self) -> Path:
        return self.root / "task.json"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def folds(self) -> Path:
        return self.data / "folds.npy"

    @property
    def folds_full(self) -> Path:
        return self.data / "folds_full.npy"

    @property
    def cache(self) -> Path:
        """Features computed from the task's files, shared by every attempt (feature_cache.py)."""
        return self.root / "cache"

    @property
    def folds_screen(self) -> Path:
        return self.data / "folds_screen.npy"

    def folds_repeat(self, r: int) -> Path:
        return self.data / f"folds_repeat{r}.npy"

    @property
    def attempts(self) -> Path:
        return self.root / "attempts"

    def attempt(self, node_id: str) -> Path:
        return self.attempts / node_id

    def repeat(self, node_id: str, r: int) -> Path:
        """Where an attempt runs on split r (r >= 1; split 0 runs in the attempt's own folder)."""
        return self.attempt(node_id) / f"repeat-{r}"

    @property
    def journal(self) -> Path:
        return self.root / "journal.jsonl"

    @property
    def submission(self) -> Path:
        return self.root / "submission.csv"

    @property
    def solution(self) -> Path:
        return self.root / "solution.py"

    @property
    def solution_parts(self) -> Path:
        return self.root / "solution_parts"

    @property
    def model(self) -> Path:
        return self.root / "model" / "model.pkl"

    @property
    def llm(self) -> Path:
        return self.root / "llm"

    @property
    def lock(self) -> Path:
        return self.root / ".lock"
