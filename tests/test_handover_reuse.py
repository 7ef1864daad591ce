"""The hand-over reuses a search run's saved model when that run was the final fit already (every
row, once, its settings frozen to what it chose), and refits when it was not (a subsample, repeats
averaged); either way model.pkl and solution.py give what the submission holds."""

from __future__ import annotations

import re
from pathlib import Path

import cloudpickle
import numpy as np
import pandas as pd
import pytest

from mlestar.engineers.base import Candidate, TaskContext
from mlestar.journal import Journal, Node, Stage
from mlestar.journal.events import EXAMPLE_ROWS, FinalMember
from mlestar.metrics import Score
from mlestar.run_layout import RunLayout
from mlestar.search.budget import Budget, refit_seconds, run_seconds
from mlestar.search.saved_models import MODEL_SAVED, keep_best, model_path
from tests.builders import build_node
from tests.search_support import config, handover_refits, regression_task
from tests.test_handover import _EnsemblingEngineer, _rebuild, _start
from tests.test_handover_frozen import CLOCK_SEARCH

SAVES_MODEL = '''class Lookup:
    """The fitted model: each test row's prediction, by id (what test.npy holds)."""

    def __init__(self, ids, values):
        self.index, self.values = {i: n for n, i in enumerate(ids)}, values

    def predict(self, frame):
        return self.values[[self.index[i] for i in frame["id"]]]


def main():'''
SAVE_CALL = """    np.save("output/test.npy", test)
    if os.environ.get("MLESTAR_SAVE_MODEL") == "1":
        with open("output/model.pkl", "wb") as handle:
            cloudpickle.dump(Lookup(pd.read_parquet("input/test.parquet")["id"].to_numpy(), test), handle)
"""


class _SavingEngineer(_EnsemblingEngineer):
    """Greedy ensembles of members that save their model when asked; with `clock`, each draft
    searches its noise with the clock under the explore guard (so only frozen settings repeat)."""

    clock: bool = True

    def draft(self, ctx: TaskContext, candidate: Candidate) -> str:
        code = super().draft(ctx, candidate)
        if self.clock:
            noise = re.search(r"\nNOISE = ([0-9.]+)\n", code).group(1)  # type: ignore[union-attr]
            code = code.replace(f"\nNOISE = {noise}\n", "\n" + CLOCK_SEARCH.format(noise=noise))
        return _saving(code)

    def merge(self, ctx: TaskContext, base: str, other: str, other_candidate: Candidate) -> str:
        return _saving(super().merge(ctx, base, other, other_candidate))


def _saving(code: str) -> str:
    saves = '    np.save("output/test.npy", test)\n'
    assert "def main():" in code and saves in code
    code = code.replace("def main():", SAVES_MODEL).replace(saves, SAVE_CALL)
    code = code.replace("import time\n", "import json\nimport os\nimport time\n", 1)
    return code.replace("import numpy as np\n", "import cloudpickle\nimport numpy as np\n", 1)


def _run(root: Path, clock: bool = True, **settings: object) -> tuple[Path, Journal]:
    engineer = _SavingEngineer(drafts={"a": 0.5, "b": 0.52, "c": 4.0}, merge_gain=3.0)
    engineer.clock = clock
    cfg = config(regression_task(root / "task"), root / "run", t_outer=0, r_ensemble=1, **settings)
    _start(cfg, engineer)
    return cfg.run_dir, Journal(cfg.run_dir)


def _events(journal: Journal, name: str) -> list[dict]:  # type: ignore[type-arg]
    return [e for e in journal.events if e["name"] == name]


def _model_predictions(run_dir: Path) -> np.ndarray:
    """model/model.pkl's predictions for the test rows, in the submission's row order."""
    model = cloudpickle.loads((run_dir / "model" / "model.pkl").read_bytes())
    submission = pd.read_csv(run_dir / "submission.csv")
    return np.asarray(model.predict(submission[["id"]]), dtype=float).reshape(-1)


@pytest.fixture(scope="module")
def reused(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Journal]:
    return _run(tmp_path_factory.mktemp("reuse"))


def test_members_fitted_on_every_row_are_reused_and_nothing_is_refit(reused) -> None:  # type: ignore[no-untyped-def]
    run_dir, journal = reused
    (final,) = _events(journal, "final")
    assert len(final["members"]) == 2 and not [n for n in journal.nodes.values() if n.stage == Stage.FINAL]
    members = _events(journal, "final_member")
    assert [(e["member"], e["reused"], e["refit"], e["exact"]) for e in members] == [
        (m, True, False, True) for m in final["members"]
    ]
    (finished,) = _events(journal, "run_finished")
    assert finished["model"] == "model/model.pkl" and finished["stored_members"] == [] and finished["exact"]
    # Each member searched its noise with the clock; what it chose was frozen into its script.
    assert set(final["members"]) <= {e["node"] for e in _events(journal, "settings_frozen")}


def test_the_reused_models_predict_the_submission_and_solution_py_rebuilds_it(reused, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run_dir, _ = reused
    submission = pd.read_csv(run_dir / "submission.csv")
    assert np.allclose(_model_predictions(run_dir), submission["y"].to_numpy(), rtol=0, atol=1e-9)
    # solution.py refits the frozen scripts in handover mode: the explore runs computed the same.
    assert _rebuild(run_dir, tmp_path / "rebuild") == (run_dir / "submission.csv").read_bytes()


def test_the_run_journals_what_its_model_answers_the_first_test_rows(reused) -> None:  # type: ignore[no-untyped-def]
    # The model's logging shows them as its output example instead of loading the model.
    run_dir, journal = reused
    (finished,) = _events(journal, "run_finished")
    model = cloudpickle.loads((run_dir / "model" / "model.pkl").read_bytes())
    head = pd.read_parquet(run_dir / "data" / "test.parquet").head(EXAMPLE_ROWS)
    expected = np.asarray(model.predict(head), dtype=float).reshape(len(head), -1)
    example = np.asarray(finished["example_predictions"])
    assert len(head) == EXAMPLE_ROWS and np.allclose(example, expected, rtol=0, atol=1e-9)


def test_the_run_journals_the_libraries_its_model_names(reused) -> None:  # type: ignore[no-untyped-def]
    # Found in the members' files while the model was written: its logging need not search it.
    from mlestar.handover.libraries import libraries_in

    run_dir, journal = reused
    (finished,) = _events(journal, "run_finished")
    assert finished["model_libraries"] is not None  # journaled, so the logging searches nothing
    assert finished["model_libraries"] == libraries_in([run_dir / "model" / "model.pkl"])


def test_a_final_fit_that_reproduces_the_search_does_not_write_the_submission_again(reused) -> None:  # type: ignore[no-untyped-def]
    # The file follows the search's best so far; once the search ended it holds the best's answers
    # already, and the final fits that reproduce them leave it be (each write of a task of millions
    # of rows costs seconds).
    run_dir, journal = reused
    written = _events(journal, "submission_written")
    (final,) = _events(journal, "final")
    assert {w["answers"] for w in written} == {"search"}
    assert written[-1]["node"] == final["node"]
    assert written[-1]["rows"] == len(pd.read_csv(run_dir / "submission.csv"))
    assert (run_dir / "submission.csv").stat().st_mtime <= float(written[-1]["time"])  # not touched after it
    assert len({w["node"] for w in written}) == len(written)  # each best written once
    assert float(written[0]["time"]) < float(final["time"])  # while the search ran


def test_only_the_handed_over_members_keep_a_saved_model(reused) -> None:  # type: ignore[no-untyped-def]
    run_dir, journal = reused
    (final,) = _events(journal, "final")
    saved = {n.id for n in journal.nodes.values() if n.meta.get(MODEL_SAVED)}
    assert set(final["members"]) < saved  # the dropped draft and the merge saved one too
    kept = {n for n in saved if model_path(RunLayout(run_dir), n).exists()}
    assert kept == set(final["members"])


def test_refitting_instead_computes_the_same_submission(tmp_path: Path) -> None:
    """Both ways on scripts that search nothing: the refits repeat the search runs exactly."""
    reuse_dir, reuse_journal = _run(tmp_path / "reuse", clock=False)
    refit_dir, refit_journal = _run(tmp_path / "refit", clock=False, refit_all=True)
    assert all(e["reused"] for e in _events(reuse_journal, "final_member"))
    members = _events(refit_journal, "final_member")
    assert members and all(e["refit"] and not e["reused"] and e["repeated"] for e in members)
    assert not [n for n in refit_journal.nodes.values() if n.meta.get(MODEL_SAVED)]
    assert (reuse_dir / "submission.csv").read_bytes() == (refit_dir / "submission.csv").read_bytes()
    assert np.array_equal(_model_predictions(reuse_dir), _model_predictions(refit_dir))


@pytest.mark.parametrize(
    "settings",
    [{"repeats": 3}, pytest.param({"subsample_rows": 60}, marks=pytest.mark.slow)],
    ids=["repeats averaged", "a subsample"],
)
def test_a_search_run_that_was_not_the_final_fit_is_refit(settings: dict, tmp_path: Path) -> None:  # type: ignore[type-arg]
    run_dir, journal = _run(tmp_path, **settings)
    assert not [n for n in journal.nodes.values() if n.meta.get(MODEL_SAVED)]  # nothing pickled in vain
    (final,) = _events(journal, "final")
    assert handover_refits(journal) <= {f"final-{m}" for m in final["members"]}
    assert all(journal.nodes[f"final-{m}"].ok for m in final["members"])
    assert all(e["refit"] and not e["reused"] for e in _events(journal, "final_member"))
    submission = pd.read_csv(run_dir / "submission.csv")
    assert np.allclose(_model_predictions(run_dir), submission["y"].to_numpy(), rtol=0, atol=1e-9)
    assert _rebuild(run_dir, tmp_path / "rebuild") == (run_dir / "submission.csv").read_bytes()


# -- units ------------------------------------------------------------------------------------------


def _saved(node_id: str, score: float, seconds: float = 40.0) -> Node:
    return build_node(node_id, score=score, ended=seconds, meta={MODEL_SAVED: True})


def test_the_final_fit_reserve_holds_no_time_for_members_whose_model_is_saved() -> None:
    saved, other = _saved("a", 0.5), build_node("b", ended=100.0)
    assert refit_seconds(saved) == 0.0 and run_seconds(saved) == 40.0 and refit_seconds(other) == 100.0
    budget = Budget.plan(600.0, 0.0, None, 0)
    budget.reserve_for_final_fit(refit_seconds(saved), refit_seconds(saved), lanes=1)
    assert budget.reserve_s == pytest.approx(budget.base_reserve_s)
    budget.reserve_for_final_fit(refit_seconds(saved), refit_seconds(other), lanes=1)
    assert budget.reserve_s == pytest.approx(1.3 * 100.0 + 3.0)


def test_only_the_best_saved_models_are_kept(tmp_path: Path) -> None:
    layout = RunLayout(tmp_path)
    nodes = [_saved("a", 0.3), _saved("b", 0.1), _saved("c", 0.2), build_node("d", score=0.0)]
    for node in nodes:
        model_path(layout, node.id).parent.mkdir(parents=True)
        model_path(layout, node.id).write_bytes(b"model")
    keep_best(layout, nodes, lambda n: Score(n.score, True), keep=2)  # lower is better
    assert [n.id for n in nodes if model_path(layout, n.id).exists()] == ["b", "c", "d"]
    keep_best(layout, nodes, lambda n: Score(n.score, False), keep=1)  # higher is better
    assert [n.id for n in nodes if model_path(layout, n.id).exists()] == ["c", "d"]  # a was gone already


def test_saved_models_are_kept_within_a_total_size_the_best_one_always(tmp_path: Path) -> None:
    layout = RunLayout(tmp_path)
    nodes = [_saved("a", 0.1), _saved("b", 0.2), _saved("c", 0.3)]
    for node, size in zip(nodes, (700, 200, 200), strict=True):
        model_path(layout, node.id).parent.mkdir(parents=True)
        model_path(layout, node.id).write_bytes(b"m" * size)
    keep_best(layout, nodes, lambda n: Score(n.score, True), keep=8, keep_bytes=1000)
    assert [n.id for n in nodes if model_path(layout, n.id).exists()] == ["a", "b"]
    keep_best(layout, nodes, lambda n: Score(n.score, True), keep=8, keep_bytes=500)
    assert [n.id for n in nodes if model_path(layout, n.id).exists()] == ["a"]  # over the size, yet the best


def test_a_final_member_of_an_older_journal_was_not_reused() -> None:
    record = {"member": "draft-0", "refit": True, "reason": None, "exact": True, "repeated": True}
    assert FinalMember.from_record(record).reused is False


@pytest.mark.slow
def test_the_builtin_engineer_s_models_are_reused_and_rebuilt_exactly(tmp_path: Path) -> None:
    """Real models (trees, tuned settings frozen): what the search fitted is what solution.py fits."""
    from mlestar.app import start_run
    from mlestar.config import RunConfig, SearchSettings

    example = Path(__file__).parent.parent / "examples" / "breast-cancer"
    cfg = RunConfig(
        task_dir=example.resolve(),
        run_dir=tmp_path / "run",
        budget_s=240.0,
        max_nodes=6,
        jobs=2,
        seed=7,
        search=SearchSettings(m_candidates=2, t_outer=1, k_inner=2, r_ensemble=3, repeats=1),
        tracking=False,
        live=False,
    )
    assert start_run(cfg).status == "ok"
    journal = Journal(cfg.run_dir)
    members = _events(journal, "final_member")
    assert members and all(e["reused"] and e["exact"] for e in members)
    assert not [n for n in journal.nodes.values() if n.stage == Stage.FINAL]
    assert _events(journal, "run_finished")[0]["model"] == "model/model.pkl"
    assert _rebuild(cfg.run_dir, tmp_path / "rebuild") == (cfg.run_dir / "submission.csv").read_bytes()
