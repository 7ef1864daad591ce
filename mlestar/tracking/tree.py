"""The search tree read back from MLflow alone (no journal, no run folder)."""

from __future__ import annotations

from typing import Any

from mlestar.tracking.backend import connect
from mlestar.tracking.records import (
    KIND_RUN,
    MLFLOW_NOTE,
    TAG_KIND,
    TAG_NODE_ID,
    TAG_PARENT_NODE,
    TAG_PARENT_NODE_RUN,
    TAG_RUN_ID,
)


def read_tree(tracking_uri: str, experiment: str, run_key: str | None = None) -> list[dict[str, Any]]:
    """One dict per attempt of an mlestar run, in start order.

    run_key picks the mlestar run (tag mlestar.run_id); None takes the latest one in the
    experiment. Keys: node_id, parent (node id or None), parent_run_id, run_id, stage, role,
    status, score, plan, metrics (all of them), params, start_time, end_time (ms).
    """
    client = connect(tracking_uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    eid = found.experiment_id
    kind = f"tags.`{TAG_KIND}` = '{KIND_RUN}'"
    where = f"{kind} and tags.`{TAG_RUN_ID}` = '{run_key}'" if run_key else kind
    parents = client.search_runs(
        [eid], filter_string=where, order_by=["attributes.start_time DESC"], max_results=1
    )
    if not parents:
        return []
    parent_id = parents[0].info.run_id
    runs: list[Any] = []
    token = None
    while True:
        page = client.search_runs(
            [eid],
            filter_string=f"tags.`mlflow.parentRunId` = '{parent_id}'",
            max_results=1000,
            page_token=token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            break
    nodes = [_node(run) for run in runs if run.data.tags.get(TAG_NODE_ID)]
    return sorted(nodes, key=lambda n: (n["start_time"] or 0, n["node_id"]))


def _node(run: Any) -> dict[str, Any]:
    tags, metrics = run.data.tags, run.data.metrics
    return {
        "node_id": tags[TAG_NODE_ID],
        "parent": tags.get(TAG_PARENT_NODE),
        "parent_run_id": tags.get(TAG_PARENT_NODE_RUN),
        "run_id": run.info.run_id,
        "stage": tags.get("mlestar.stage"),
        "role": tags.get("mlestar.role"),
        "status": tags.get("mlestar.status"),
        "score": metrics.get("score"),
        "plan": tags.get(MLFLOW_NOTE, ""),
        "error": tags.get("mlestar.error"),
        "metrics": dict(metrics),
        "params": dict(run.data.params),
        "start_time": run.info.start_time,
        "end_time": run.info.end_time,
        "mlflow_status": run.info.status,
    }
