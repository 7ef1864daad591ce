"""The built-in engineer driving the whole search on the bundled example: the README's main job."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from mlestar.app import start_run
from mlestar.config import RunConfig, SearchSettings
from mlestar.journal import Journal
from mlestar.status import summarize
from tests.search_support import assert_same_path

EXAMPLE = Path(__file__).parent.parent / "examples" / "breast-cancer"


MAX_NODES = 3
"""One draft and one refinement round of two plans: draft, refine and hand-over, each once (a second
draft would add a merge and a seed variant of the best, minutes of the suite that other tests cover:
merges and seeds with the scripted engineer in test_search.py and test_search_screening.py)."""


def _config(run: Path, max_nodes: int) -> RunConfig:
    # Bound by nodes more than by time, so that two runs take the same path.
    return RunConfig(
        task_dir=EXAMPLE.resolve(),
        run_dir=run,
        budget_s=90.0,
        max_nodes=max_nodes,
        jobs=2,
        seed=7,
        search=SearchSettings(m_candidates=1, t_outer=1, k_inner=2, r_ensemble=3),
        tracking=False,
        live=False,
    )


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("example") / "run"
    outcome = start_run(_config(run, max_nodes=MAX_NODES))
    assert outcome.status == "ok"
    return run


def test_the_example_is_solved_end_to_end(example_run: Path) -> None:
    journal = Journal(example_run)
    stages = {n.stage for n in journal.nodes.values()}
    assert {"draft", "refine"} <= stages
    # Every member handed over has its final model: refit, or saved by a search run on every row.
    members = [e for e in journal.events if e["name"] == "final_member"]
    assert members and all(e["refit"] or e["reused"] for e in members)
    sub = pd.read_csv(example_run / "submission.csv")
    sample = pd.read_csv(EXAMPLE / "sample_submission.csv")
    assert list(sub.columns) == list(sample.columns) and sub["id"].tolist() == sample["id"].tolist()
    assert sub["malignant"].between(0, 1).all()
    best = journal.best(lower_is_better=False, stages=("draft", "merge", "check", "refine", "ensemble"))
    assert best is not None and best.score is not None and best.score > 0.95  # a sound model, not a prior
    assert (example_run / "solution.py").exists() and (example_run / "model" / "model.pkl").exists()
    assert "best" in summarize(example_run)


def test_the_saved_model_predicts_like_the_submission(example_run: Path) -> None:
    import cloudpickle

    model = cloudpickle.loads((example_run / "model" / "model.pkl").read_bytes())
    test = pd.read_parquet(example_run / "data" / "test.parquet")
    pred = model.predict(test).reshape(-1)
    sub = pd.read_csv(example_run / "submission.csv")
    # The submission is the final predictions in the sample's row order; compare as rankings.
    by_id = pd.Series(pred, index=test["id"].to_numpy()).loc[sub["id"]].to_numpy()
    assert roc_auc_score(sub["malignant"] > sub["malignant"].median(), by_id) > 0.99


@pytest.mark.slow
def test_same_seed_same_decisions_and_submission(example_run: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    start_run(_config(again, max_nodes=MAX_NODES))
    first, second = Journal(example_run), Journal(again)
    assert_same_path(second, first)
    assert (example_run / "submission.csv").read_text() == (again / "submission.csv").read_text()
