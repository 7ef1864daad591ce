"""The tracker against real local SQLite MLflow stores, on a fabricated finished run.

One run is tracked live (the tracker follows the journal as the factory writes it); one is
tracked to a store that is down and then re-sent with sync_run. Creating a fresh MLflow database
costs seconds (migrations), so every store starts as a copy of one migrated empty database.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from mlestar.config import RunConfig
from mlestar.journal import Journal, Node
from mlestar.run_layout import RunLayout
from mlestar.tracking import MlflowTracker, TrackingReport, final_model, read_tree, sync_run
from mlestar.tracking.backend import connect, load_mlflow
from mlestar.tracking.sink import Backoff
from tests.builders import build_node
from tests.run_factory import FabricatedRun, fabricate_run

FAKE_KEY = "sk-test-FAKEKEYFORTRACKING0123456789"
EXPERIMENT = "toy-binary"


class TinyPredictor:
    """What a solution script would cloudpickle: a fitted model plus its column choice."""

    def __init__(self, train: pd.DataFrame, target: np.ndarray) -> None:
        self.columns = ["x1", "x2"]
        self.model = LogisticRegression().fit(train[self.columns], target)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(frame[self.columns])[:, 1:]


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "mlflow.db"
    connect(f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture(scope="module")
def secret_env() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENAI_API_KEY", FAKE_KEY)
        yield


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, template_db: Path, secret_env: None) -> dict[str, Any]:
    """A run tracked live to the run folder's own store (tracking URI None)."""
    root = tmp_path_factory.mktemp("live")
    run_dir = root / "run"
    run_dir.mkdir()
    shutil.copy(template_db, run_dir / "mlflow.db")
    trackers: list[MlflowTracker] = []

    def attach(journal: Journal) -> None:
        assert os.environ["OPENAI_API_KEY"] == FAKE_KEY  # the tracker learns the secret from here
        config = RunConfig(task_dir=root / "task", run_dir=run_dir, tracking_uri=None)  # the run's own store
        trackers.append(MlflowTracker.attach(config, RunLayout(run_dir), journal))

    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # nothing may land in the working folder (mlflow's default ./mlflow.db)
        fab = fabricate_run(run_dir, fit_predictor=TinyPredictor, secret=FAKE_KEY, on_journal=attach)
        report = trackers[0].close(timeout_s=300)
    return {"fab": fab, "report": report, "uri": f"sqlite:///{run_dir.resolve()}/mlflow.db", "root": root}


def _runs(uri: str) -> list[Any]:
    client = connect(uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    return list(client.search_runs([experiment.experiment_id], max_results=1000))


def test_live_report_says_everything_was_logged(live: dict[str, Any]) -> None:
    report: TrackingReport = live["report"]
    fab: FabricatedRun = live["fab"]
    assert report.complete, report.summary()
    assert sorted(report.logged) == sorted(fab.node_ids) and report.skipped == ()
    assert report.model_uri == f"models:/{EXPERIMENT}/1"
    assert sorted(p.name for p in live["root"].iterdir()) == ["run"]
    assert (fab.run_dir / "mlartifacts").is_dir()


def test_nested_runs_carry_each_nodes_fields(live: dict[str, Any]) -> None:
    fab: FabricatedRun = live["fab"]
    runs = _runs(live["uri"])
    parent = next(r for r in runs if r.data.tags.get("mlestar.kind") == "run")
    by_node = {r.data.tags["mlestar.node_id"]: r for r in runs if "mlestar.node_id" in r.data.tags}
    assert sorted(by_node) == sorted(fab.node_ids)
    client = connect(live["uri"])
    for node in fab.nodes:
        run = by_node[node.id]
        tags, metrics = run.data.tags, run.data.metrics
        assert tags["mlflow.parentRunId"] == parent.info.run_id
        assert (tags["mlestar.stage"], tags["mlestar.role"], tags["mlestar.status"]) == (
            node.stage,
            node.role,
            node.status,
        )
        assert tags.get("mlestar.parent_node") == node.parent
        if node.parent:
            assert tags["mlestar.parent_node_run_id"] == by_node[node.parent].info.run_id
        assert tags["mlflow.note.content"] == node.plan.replace(FAKE_KEY, "***")
        assert metrics.get("score") == node.score
        assert metrics["duration_s"] == pytest.approx(node.ended - node.started)
        assert run.info.status == ("FINISHED" if node.status == "ok" else "FAILED")
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"plan.md", "node.json", "stdout_tail.txt"} <= artifacts
        assert ("solution.py" in artifacts) == (node.code_path is not None)
        if node.result:
            assert metrics["peak_memory_mb"] == node.result["peak_memory_mb"]
        for key, value in node.usage.items():
            assert metrics[f"usage.{key}"] == value
    ensemble = by_node["ensemble-1"].data.params
    assert ensemble["meta.members"] == "merge-1,debug-draft-2-1"
    assert "traceback.txt" in {a.path for a in client.list_artifacts(by_node["draft-2"].info.run_id)}


def test_parent_run_describes_the_whole_run(live: dict[str, Any]) -> None:
    runs = _runs(live["uri"])
    parent = next(r for r in runs if r.data.tags.get("mlestar.kind") == "run")
    params, tags = parent.data.params, parent.data.tags
    assert params["task"] == EXPERIMENT and params["engineer"] == "builtin" and params["model"] == "builtin"
    assert params["budget_s"] == "300.0" and params["seed"] == "42" and params["metric"] == "roc_auc"
    assert params["version.numpy"] == np.__version__
    assert tags["mlestar.final_node"] == "ensemble-1" and tags["mlestar.status"] == "ok"
    assert tags["mlestar.final_kind"] == "ensemble"
    assert parent.info.status == "FINISHED"
    client = connect(live["uri"])
    best = [
        m.value
        for m in sorted(client.get_metric_history(parent.info.run_id, "best_score"), key=lambda m: m.step)
    ]
    assert best == [0.81, 0.81, 0.81, 0.84, 0.84, 0.86]  # the running best, higher is better
    names = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"submission.csv", "solution.py", "events.jsonl"} <= names


def test_tree_reads_back_from_mlflow_alone(live: dict[str, Any]) -> None:
    fab: FabricatedRun = live["fab"]
    tree = read_tree(live["uri"], EXPERIMENT)
    assert [n["node_id"] for n in tree] == fab.node_ids
    run_ids = {n["node_id"]: n["run_id"] for n in tree}
    for node, read in zip(fab.nodes, tree, strict=True):
        assert read["parent"] == node.parent and read["score"] == node.score
        assert read["stage"] == node.stage and read["status"] == node.status
        assert read["parent_run_id"] == (run_ids[node.parent] if node.parent else None)


def test_every_run_names_the_data_it_saw_by_digest(live: dict[str, Any]) -> None:
    fab: FabricatedRun = live["fab"]
    for run in _runs(live["uri"]):
        inputs = {d.dataset.name: d.dataset for d in run.inputs.dataset_inputs}
        assert set(inputs) == {"train", "test", "target", "folds", "folds_full"}
        for name, dataset in inputs.items():
            sha = fab.data_sha256[next(f for f in fab.data_sha256 if f.split(".")[0] == name)]
            assert dataset.digest == sha[:32]
            assert json.loads(dataset.profile)["sha256"] == sha
    train = next(d.dataset for d in _runs(live["uri"])[0].inputs.dataset_inputs if d.dataset.name == "train")
    assert [c["name"] for c in json.loads(train.schema)["mlflow_colspec"]] == list(fab.train.columns)
    source = load_mlflow().data.get_source(train)  # MLflow itself resolves where the data lives
    assert Path(source.uri) == (fab.run_dir / "data" / "train.parquet").resolve()


def test_resending_adds_no_duplicates(live: dict[str, Any]) -> None:
    fab: FabricatedRun = live["fab"]
    before = _runs(live["uri"])
    report = sync_run(fab.run_dir)
    assert report.complete, report.summary()
    assert report.logged == () and sorted(report.skipped) == sorted(fab.node_ids)
    assert len(_runs(live["uri"])) == len(before) == len(fab.nodes) + 1
    client = connect(live["uri"])
    assert [str(v.version) for v in client.search_model_versions(f"name = '{EXPERIMENT}'")] == ["1"]
    parent = next(r for r in before if r.data.tags.get("mlestar.kind") == "run")
    assert len(client.get_metric_history(parent.info.run_id, "best_score")) == len(fab.nodes)
    assert (
        len(client.get_run(parent.info.run_id).inputs.dataset_inputs) == len(fab.data_sha256) - 1
    )  # no task.json


def test_registered_model_predicts_the_submission(live: dict[str, Any]) -> None:
    fab: FabricatedRun = live["fab"]
    mlflow = load_mlflow()
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(live["uri"])
    try:
        model = mlflow.pyfunc.load_model(f"models:/{EXPERIMENT}/1")
    finally:
        mlflow.set_tracking_uri(previous)
    predicted = model.predict(fab.test)
    assert list(predicted.columns) == ["label"]
    assert predicted["label"].tolist() == fab.submission["label"].tolist()
    assert set(predicted["label"]) == {"no", "yes"}  # both classes occur: the check can fail
    assert model.metadata.get_input_schema().input_names() == list(fab.test.columns)
    assert model.metadata.get_output_schema().input_names() == ["label"]


def test_logged_model_loads_without_mlestar(live: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    fab: FabricatedRun = live["fab"]
    folder = next((fab.run_dir / "mlartifacts" / "models").glob("m-*/artifacts"))
    assert (folder / "input_example.json").is_file()
    requirements = (folder / "requirements.txt").read_text()
    assert "scikit-learn==" in requirements and "mlestar" not in requirements
    blob = (folder / "python_model.pkl").read_bytes()
    for name in [m for m in sys.modules if m == "mlestar" or m.startswith("mlestar.")]:
        monkeypatch.setitem(sys.modules, name, None)  # any import of mlestar now fails
    wrapper = cloudpickle.loads(blob)
    wrapper.predictor = cloudpickle.loads(next(folder.glob("artifacts/*.pkl")).read_bytes())
    assert wrapper.predict(None, fab.test)["label"].tolist() == fab.submission["label"].tolist()


def test_the_logged_model_links_the_run_s_model_file(live: dict[str, Any]) -> None:
    # The store is the run folder's own: a model of hundreds of MB is linked there, not copied twice.
    fab: FabricatedRun = live["fab"]
    folder = next((fab.run_dir / "mlartifacts" / "models").glob("m-*/artifacts"))
    assert (folder / "artifacts" / "model.pkl").samefile(fab.run_dir / "model" / "model.pkl")
    mlmodel = load_mlflow().models.Model.load(str(folder / "MLmodel"))
    assert mlmodel.model_size_bytes > (fab.run_dir / "model" / "model.pkl").stat().st_size


def test_the_model_is_logged_from_its_journaled_answers_without_loading_it(
    tmp_path: Path, template_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hand-over journals what the model answers the first test rows; only a run whose journal
    lacks them (an older one) has its model loaded, and both get the same signature."""
    fab = fabricate_run(tmp_path / "run", fit_predictor=TinyPredictor)
    shutil.copy(template_db, fab.run_dir / "mlflow.db")
    loaded: list[Path] = []
    load = final_model._load_predictor
    monkeypatch.setattr(final_model, "_load_predictor", lambda path: loaded.append(path) or load(path))
    assert sync_run(fab.run_dir).model_uri is not None and loaded == []
    client = connect(f"sqlite:///{fab.run_dir / 'mlflow.db'}")
    experiment = client.create_experiment("older", artifact_location=str(tmp_path / "older"))
    older = final_model.log_final_model(
        client,
        experiment_id=experiment,
        parent_run_id=client.create_run(experiment).info.run_id,
        run_dir=fab.run_dir,
        name="older",
        run_key="older",
    )
    assert loaded == [fab.run_dir / "model" / "model.pkl"]
    journaled, from_model = (
        load_mlflow().models.Model.load(folder).signature.to_dict()
        for folder in (
            str(next((fab.run_dir / "mlartifacts" / "models").glob("m-*/artifacts"))),
            client.get_logged_model(older.model_id).artifact_location,
        )
    )
    assert journaled == from_model and '"label"' in journaled["outputs"]


def test_no_secret_reaches_the_store(live: dict[str, Any]) -> None:
    fab: FabricatedRun = live["fab"]
    secret = FAKE_KEY.encode()
    assert secret in (fab.run_dir / "journal.jsonl").read_bytes()  # it was there to leak
    assert secret in (fab.run_dir / "attempts" / "draft-2" / "stdout.txt").read_bytes()
    store_files = [
        fab.run_dir / "mlflow.db",
        *(p for p in (fab.run_dir / "mlartifacts").rglob("*") if p.is_file()),
    ]
    assert len(store_files) > 20
    leaks = [str(p) for p in store_files if secret in p.read_bytes()]
    assert leaks == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_store_down_during_the_run_then_resent(tmp_path: Path, template_db: Path) -> None:
    load_mlflow()  # already imported: the sender reaches the store at once and meets the refusal
    down = f"http://127.0.0.1:{_closed_port()}"
    tracker = MlflowTracker(down, tmp_path / "run", EXPERIMENT, backoff=Backoff(first_s=0.2, max_s=1.0))
    durations: list[float] = []

    def timed(kind: str, record: dict[str, Any]) -> None:
        start = time.perf_counter()
        tracker.on_record(kind, record)
        durations.append(time.perf_counter() - start)

    def attach(journal: Journal) -> None:
        journal.subscribe(timed)
        tracker.start()

    fab = fabricate_run(tmp_path / "run", fit_predictor=TinyPredictor, on_journal=attach)
    waited = time.monotonic()
    while not tracker.store_down and time.monotonic() - waited < 60:
        time.sleep(0.1)
    assert tracker.store_down
    started = time.monotonic()
    report = tracker.close(timeout_s=120.0, timeout_when_down_s=1.0)  # a dead store: the short deadline
    assert time.monotonic() - started < 8.0
    assert len(durations) >= len(fab.nodes) and max(durations) < 0.05
    assert not report.complete and report.logged == ()
    unlogged = [u.item for u in report.not_logged]
    assert all(f"node {n}" in unlogged for n in fab.node_ids) and "event run_finished" in unlogged
    assert any("Connection" in u.reason for u in report.not_logged), report.summary()
    assert down in report.summary()

    working = f"sqlite:///{tmp_path / 'team.db'}"
    shutil.copy(template_db, tmp_path / "team.db")
    resent = sync_run(fab.run_dir, working)
    assert resent.complete, resent.summary()
    assert sorted(resent.logged) == sorted(fab.node_ids)
    assert resent.model_uri == f"models:/{EXPERIMENT}/1"
    assert [n["node_id"] for n in read_tree(working, EXPERIMENT)] == fab.node_ids
    assert (tmp_path / "mlartifacts").is_dir()  # artifacts beside the team database
    again = sync_run(fab.run_dir, working)
    assert again.logged == () and len(again.skipped) == len(fab.nodes)


def test_a_resumed_run_replays_its_journal_without_duplicates(live: dict[str, Any]) -> None:
    fab: FabricatedRun = live["fab"]
    before = len(_runs(live["uri"]))
    tracker = MlflowTracker(None, fab.run_dir, EXPERIMENT)
    tracker.follow(Journal(fab.run_dir))  # what a resumed session does: replay, then follow
    report = tracker.close(timeout_s=120)
    assert report.complete, report.summary()
    assert report.logged == () and sorted(report.skipped) == sorted(fab.node_ids)
    assert len(_runs(live["uri"])) == before
    assert report.model_uri == f"models:/{EXPERIMENT}/1"


def test_an_unfinished_run_is_marked_and_picked_up_again(tmp_path: Path, template_db: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copy(template_db, run_dir / "mlflow.db")
    uri = f"sqlite:///{run_dir / 'mlflow.db'}"
    journal = Journal(run_dir)
    first = MlflowTracker(None, run_dir, "unfinished")
    first.follow(journal)
    journal.event(
        "run_started", config={"seed": 1}, task={"name": "unfinished"}, engineer="builtin", versions={}
    )
    journal.add(_node("draft-1", 0.5, 10.0, 11.0))
    assert first.close(timeout_s=120).complete
    parent = next(r for r in _runs_of(uri, "unfinished") if r.data.tags.get("mlestar.kind") == "run")
    assert parent.info.status == "KILLED" and parent.data.tags["mlestar.status"] == "unfinished"

    second = MlflowTracker(None, run_dir, "unfinished")  # the resumed session
    resumed = Journal(run_dir)
    second.follow(resumed)
    resumed.add(_node("draft-2", 0.7, 12.0, 13.0))
    resumed.event("run_finished", status="ok", best="draft-2", score=0.7, model=None)
    report = second.close(timeout_s=120)
    assert report.logged == ("draft-2",) and report.skipped == ("draft-1",)
    runs = _runs_of(uri, "unfinished")
    parent = next(r for r in runs if r.data.tags.get("mlestar.kind") == "run")
    assert parent.info.status == "FINISHED" and len(runs) == 3
    assert [n["score"] for n in read_tree(uri, "unfinished")] == [0.5, 0.7]


def _runs_of(uri: str, experiment: str) -> list[Any]:
    client = connect(uri)
    return list(client.search_runs([client.get_experiment_by_name(experiment).experiment_id]))


def test_a_model_that_cannot_be_logged_is_reported_and_the_rest_is_sent(
    tmp_path: Path, template_db: Path
) -> None:
    fab = fabricate_run(tmp_path / "run", fit_predictor=TinyPredictor)
    (fab.run_dir / "model" / "model.pkl").write_bytes(b"not a pickle")
    shutil.copy(template_db, fab.run_dir / "mlflow.db")
    report = sync_run(fab.run_dir)
    assert [u.item for u in report.not_logged] == ["final model"]
    assert "UnpicklingError" in report.not_logged[0].reason or "pickle" in report.not_logged[0].reason.lower()
    assert sorted(report.logged) == sorted(fab.node_ids) and report.model_uri is None
    runs = _runs_of(f"sqlite:///{fab.run_dir / 'mlflow.db'}", EXPERIMENT)
    parent = next(r for r in runs if r.data.tags.get("mlestar.kind") == "run")
    assert parent.info.status == "FINISHED"


def _node(node_id: str, score: float, started: float, ended: float) -> Node:
    return build_node(node_id, plan="plan", score=score, started=started, ended=ended)


def test_the_sender_maps_installed_packages_before_any_model_is_logged(
    tmp_path: Path, template_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mlflow's requirements check maps every installed distribution (seconds): the tracker has it
    done when it starts sending, beside the scripts, not when the model is logged at the close."""
    from mlflow.utils import requirements_utils

    monkeypatch.setattr(requirements_utils, "_MODULES_TO_PACKAGES", None)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copy(template_db, run_dir / "mlflow.db")
    journal = Journal(run_dir)
    tracker = MlflowTracker(None, run_dir, EXPERIMENT)
    tracker.follow(journal)
    journal.add(build_node("draft-0"))  # a script's node: sending starts
    report = tracker.close(timeout_s=120)
    assert report.logged == ("draft-0",) and report.model_uri is None
    assert requirements_utils._MODULES_TO_PACKAGES is not None
    assert "sklearn" in requirements_utils._MODULES_TO_PACKAGES
