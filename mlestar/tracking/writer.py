"""Writes one mlestar run's journal records into an MLflow store, idempotently.

Shared by the live tracker (records arrive one by one from the journal) and by sync_run (the
whole journal replayed afterwards). absorb() learns from a record and never fails; send() talks
to the store and may fail, in which case it can be called again with the same record.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlestar.tracking.backend import artifact_root, connect, is_transient, short_error
from mlestar.tracking.datasets import DataFile, data_files, dataset_inputs
from mlestar.tracking.final_model import FinalModel, log_final_model, registered_name
from mlestar.tracking.records import (
    KIND_RUN,
    MLFLOW_PARENT,
    TAG_COMPLETE,
    TAG_KIND,
    TAG_NODE_ID,
    TAG_PARENT_NODE_RUN,
    TAG_RUN_ID,
    millis,
    node_fields,
)
from mlestar.tracking.report import Unlogged
from mlestar.tracking.run_facts import RunFacts, events_jsonl, parent_params, parent_tags
from mlestar.tracking.scrub import Scrubber

if TYPE_CHECKING:
    from mlflow import MlflowClient

_BATCH = 100
"""MLflow takes at most 100 params or tags per log_batch call."""


class StoreWriter:
    def __init__(
        self,
        client: MlflowClient | None,
        tracking_uri: str,
        run_dir: Path,
        experiment: str,
        key: str,
        scrub: Scrubber,
        model_name: str | None = None,
    ) -> None:
        self._client = client
        self.tracking_uri = tracking_uri
        self.run_dir = run_dir
        self.experiment = experiment
        self.key = key
        self.scrub = scrub
        self.model_name = registered_name(model_name or experiment)
        self.facts = RunFacts(run_dir, key)
        self.experiment_id: str | None = None
        self.parent_id: str | None = None
        self.nodes: dict[str, tuple[str, bool]] = {}
        """Node id -> (MLflow run id, complete) for every node already in the store."""
        self.steps: dict[str, tuple[int, float | None]] = {}
        self.logged: list[str] = []
        self.skipped: list[str] = []
        self.finished = False
        self.final_model: FinalModel | None = None
        self.problems: list[Unlogged] = []
        """Parts that could not be logged while the record carrying them was (the final model)."""
        self._data: list[DataFile] | None = None

    @property
    def client(self) -> MlflowClient:
        """Connected on first use, in the sending thread (importing mlflow takes seconds)."""
        if self._client is None:
            self._client = connect(self.tracking_uri)
        return self._client

    # -- learning (never fails) ------------------------------------------------------------
    def absorb(self, kind: str, record: dict[str, Any]) -> None:
        if kind == "event":
            self.facts.absorb_event(record)
        elif kind == "node":
            self.steps[str(record["id"])] = self.facts.absorb_node(record)

    # -- sending (may fail; safe to repeat) --------------------------------------------------
    def open(self, first_time: float | None, live: bool) -> None:
        """Find or create the experiment and this run's parent run; learn which nodes exist."""
        if self.parent_id is not None:
            return
        self.experiment_id = self._experiment_id()
        found = self.client.search_runs(
            [self.experiment_id],
            filter_string=f"tags.`{TAG_RUN_ID}` = '{self.key}' and tags.`{TAG_KIND}` = '{KIND_RUN}'",
            max_results=1,
        )
        if found:
            self.parent_id = found[0].info.run_id
            if live and found[0].info.status != "RUNNING":
                self.client.update_run(self.parent_id, status="RUNNING")
        else:
            run = self.client.create_run(
                self.experiment_id,
                start_time=millis(self.facts.started or first_time),
                tags={TAG_RUN_ID: self.key, TAG_KIND: KIND_RUN},
                run_name=self.run_dir.name,
            )
            self.parent_id = run.info.run_id
        self.nodes = self._existing_nodes()

    def send(self, kind: str, record: dict[str, Any]) -> None:
        if kind == "node":
            self._send_node(record)
        elif kind == "event":
            self._send_event(record)

    def finish(self) -> None:
        """Store the event log; a run that never finished is marked KILLED ("unfinished")."""
        if self.parent_id is None:
            raise RuntimeError("the run was never opened in the store")
        self._log_texts(self.parent_id, {"events.jsonl": events_jsonl(self.facts, self.scrub)})
        if not self.finished:
            self.client.set_tag(self.parent_id, "mlestar.status", "unfinished")
            self.client.set_terminated(self.parent_id, status="KILLED")

    def _experiment_id(self) -> str:
        found = self.client.get_experiment_by_name(self.experiment)
        if found is None:
            location = artifact_root(self.tracking_uri, self.run_dir)
            return str(self.client.create_experiment(self.experiment, artifact_location=location))
        if found.lifecycle_stage == "deleted":
            self.client.restore_experiment(found.experiment_id)
        return str(found.experiment_id)

    def _existing_nodes(self) -> dict[str, tuple[str, bool]]:
        nodes: dict[str, tuple[str, bool]] = {}
        token = None
        while True:
            page = self.client.search_runs(
                [self.experiment_id],  # type: ignore[list-item]
                filter_string=f"tags.`{MLFLOW_PARENT}` = '{self.parent_id}'",
                max_results=1000,
                page_token=token,
            )
            for run in page:
                node_id = run.data.tags.get(TAG_NODE_ID)
                if node_id:
                    nodes[node_id] = (run.info.run_id, run.data.tags.get(TAG_COMPLETE) == "true")
            token = page.token
            if not token:
                return nodes

    def _send_node(self, record: dict[str, Any]) -> None:
        fields = node_fields(record, self.run_dir, self.key, self.scrub)
        run_id, complete = self.nodes.get(fields.node_id, (None, False))
        if complete:
            self.skipped.append(fields.node_id)
            return
        tags = {**fields.tags, MLFLOW_PARENT: str(self.parent_id)}
        if fields.parent_node in self.nodes:
            tags[TAG_PARENT_NODE_RUN] = self.nodes[fields.parent_node][0]
        if run_id is None:
            run = self.client.create_run(
                str(self.experiment_id), start_time=fields.start_ms, tags=tags, run_name=fields.node_id
            )
            run_id = run.info.run_id
            self.nodes[fields.node_id] = (run_id, False)
        self._log_batch(run_id, fields.params, tags, fields.metrics, fields.end_ms)
        self.client.log_inputs(run_id, datasets=dataset_inputs(self._data_files()))
        self._log_texts(run_id, fields.texts)
        step, best = self.steps.get(fields.node_id, (0, None))
        if best is not None:
            self._log_batch(str(self.parent_id), {}, {}, {"best_score": best}, fields.end_ms, step)
        self.client.set_terminated(run_id, status=fields.status, end_time=fields.end_ms)
        self.client.set_tag(run_id, TAG_COMPLETE, "true")
        self.nodes[fields.node_id] = (run_id, True)
        self.logged.append(fields.node_id)

    def _send_event(self, record: dict[str, Any]) -> None:
        name = record.get("name")
        parent = str(self.parent_id)
        if name == "run_started":
            known = self.client.get_run(parent).data.params
            params = {k: v for k, v in parent_params(self.facts, self.scrub).items() if k not in known}
            self._log_batch(parent, params, parent_tags(self.facts, self.scrub), {}, None)
        elif name == "inputs_hashed":
            self.client.log_inputs(parent, datasets=dataset_inputs(self._data_files()))
        elif name == "final":
            tags = {
                "mlestar.final_node": str(record.get("node")),
                "mlestar.final_kind": str(record.get("solution_kind") or record.get("kind")),
            }
            score = record.get("score")
            metrics = {"final_score": float(score)} if isinstance(score, int | float) else {}
            self._log_batch(parent, {}, tags, metrics, millis(record.get("time")))
        elif name == "run_finished":
            self._send_finished(record)
        elif name == "report_written" and (self.run_dir / str(record.get("path"))).is_file():
            self.client.log_artifact(parent, str(self.run_dir / str(record["path"])))

    def _send_finished(self, record: dict[str, Any]) -> None:
        parent = str(self.parent_id)
        tags = {"mlestar.status": str(record.get("status")), "mlestar.best_node": str(record.get("best"))}
        self._log_batch(parent, {}, tags, {}, None)
        self._log_outputs_of_run(parent)
        if record.get("model") and (self.run_dir / str(record["model"])).is_file():
            self._log_model(parent, record.get("example_predictions"), record.get("model_libraries"))
        self._log_texts(parent, {"events.jsonl": events_jsonl(self.facts, self.scrub)})
        self.client.set_terminated(parent, status="FINISHED", end_time=millis(record.get("time")))
        self.finished = True

    def _log_model(
        self, parent: str, example_predictions: list[list[float]] | None, libraries: list[str] | None
    ) -> None:
        """A model that cannot be logged (its file is not a pickle, say) is reported, and the
        rest of the run's end is still sent; a store failure is raised to be retried."""
        try:
            self.final_model = log_final_model(
                self.client,
                experiment_id=str(self.experiment_id),
                parent_run_id=parent,
                run_dir=self.run_dir,
                name=self.model_name,
                run_key=self.key,
                example_predictions=example_predictions,
                libraries=libraries,
            )
        except Exception as exc:
            if is_transient(exc):
                raise
            self.problems.append(Unlogged("final model", short_error(exc)))

    def _log_outputs_of_run(self, parent: str) -> None:
        """submission.csv as it is; the final script(s) scrubbed."""
        texts: dict[str, str] = {}
        for script in [self.run_dir / "solution.py", *sorted((self.run_dir / "solution_parts").glob("*.py"))]:
            if script.is_file():
                prefix = "" if script.parent == self.run_dir else "solution_parts/"
                texts[prefix + script.name] = self.scrub.text(
                    script.read_text(encoding="utf-8", errors="replace")
                )
        self._log_texts(parent, texts)
        submission = self.run_dir / "submission.csv"
        if submission.is_file():
            self.client.log_artifact(parent, str(submission))

    def _data_files(self) -> list[DataFile]:
        if self._data is None:
            self._data = data_files(self.run_dir / "data", self.facts.data_digests)
        return self._data

    def _log_batch(
        self,
        run_id: str,
        params: dict[str, str],
        tags: dict[str, str],
        metrics: dict[str, float],
        timestamp_ms: int | None,
        step: int = 0,
    ) -> None:
        from mlflow.entities import Metric, Param, RunTag

        stamp = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
        metric_list = [Metric(k, v, stamp, step) for k, v in metrics.items()]
        param_list = [Param(k, v) for k, v in params.items()]
        tag_list = [RunTag(k, v) for k, v in tags.items()]
        self.client.log_batch(run_id, metrics=metric_list, params=param_list[:_BATCH], tags=tag_list[:_BATCH])
        for i in range(_BATCH, max(len(param_list), len(tag_list)), _BATCH):
            self.client.log_batch(run_id, params=param_list[i : i + _BATCH], tags=tag_list[i : i + _BATCH])

    def _log_texts(self, run_id: str, texts: dict[str, str]) -> None:
        if not texts:
            return
        with tempfile.TemporaryDirectory() as tmp:
            for name, text in texts.items():
                path = Path(tmp) / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
            self.client.log_artifacts(run_id, tmp)
