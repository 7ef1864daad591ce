"""Pure parts of the tracking package: no MLflow store involved."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from mlestar.journal import SEED_OF, Journal, Stage
from mlestar.journal.events import AttemptStarted, SessionStarted, StageStarted
from mlestar.tracking.backend import artifact_root, display_uri, is_transient, local_store_uri
from mlestar.tracking.records import TAG_NODE_ID, TAG_PARENT_NODE, node_fields, normalize, run_key, safe_key
from mlestar.tracking.report import TrackingReport, Unlogged
from mlestar.tracking.run_facts import RunFacts, engineer_model, parent_params
from mlestar.tracking.scrub import MASK, Scrubber, looks_secret, secret_values
from mlestar.tracking.sink import Backoff, Item, MlflowTracker
from tests.builders import build_node

FAKE = "sk-test-FAKEKEY0123456789abcdef"


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("OPENAI_API_KEY", True),
        ("hf_token", True),
        ("db_password", True),
        ("Authorization", True),
        ("AZURE_OPENAI_KEY", True),
        ("apiKey", True),
        ("max_tokens", False),
        ("prompt_tokens", False),
        ("sort_key", False),
        ("budget_s", False),
        ("monkey", False),
    ],
)
def test_looks_secret(name: str, secret: bool) -> None:
    assert looks_secret(name) is secret


def test_secret_values_take_only_key_looking_variables() -> None:
    env = {"OPENAI_API_KEY": FAKE, "HOME": "/root/somewhere", "GH_TOKEN": "1"}
    assert secret_values(env) == (FAKE,)  # too-short values are not secrets


def test_scrubber_masks_known_values_named_fields_shapes_and_url_passwords() -> None:
    scrub = Scrubber(["hunter2-long-secret"])
    data = {
        "plan": "call it with hunter2-long-secret please",
        "api_key": "anything at all",
        "role_models": [["OPENAI_API_KEY", "whatever-value"], ["draft", "openai:gpt-4o"]],
        "note": f"inline {FAKE} here",
        "uri": "https://bob:pa55word@mlflow.example/",
        "max_tokens": 1000,
    }
    out = scrub.value(data)
    text = json.dumps(out)
    for leak in ("hunter2-long-secret", "anything at all", "whatever-value", FAKE, "pa55word"):
        assert leak not in text
    assert out["api_key"] == MASK
    assert out["role_models"][1] == ["draft", "openai:gpt-4o"]
    assert out["max_tokens"] == 1000
    assert out["uri"] == "https://***@mlflow.example/"


def test_run_key_is_the_same_live_and_read_back(tmp_path: Path) -> None:
    seen: list[tuple[str, dict]] = []
    journal = Journal(tmp_path)
    journal.subscribe(lambda kind, record: seen.append((kind, record)))
    journal.event("run_started", config={}, task={}, engineer="builtin", versions={})
    first = next(Journal(tmp_path).records())
    assert run_key(seen[0][0], seen[0][1]) == run_key(first["kind"], first)
    (tmp_path / "other").mkdir()
    journal2 = Journal(tmp_path / "other")
    journal2.event("run_started", config={}, task={}, engineer="builtin", versions={})
    assert run_key("event", next(journal2.records())) != run_key(first["kind"], first)


def _record(tmp_path: Path) -> dict:
    attempt = tmp_path / "attempts" / "draft-2"
    attempt.mkdir(parents=True)
    (attempt / "solution.py").write_text(f"KEY = '{FAKE}'\n")
    (attempt / "stdout.txt").write_text("x" * 20000 + "END")
    node = build_node(
        "draft-2",
        parent="draft-1",
        role="debug",
        plan=f"use {FAKE}",
        code_path="attempts/draft-2/solution.py",
        status="failed",
        score=None,
        started=100.0,
        ended=112.5,
        result={
            "exit_code": 1,
            "peak_memory_mb": 210.0,
            "stdout_tail": "",
            "stderr_tail": "boom",
            "traceback": "Traceback...\nKeyError",
            "exception": "KeyError",
            "duration_s": 12.0,
        },
        error=f"KeyError with {FAKE}",
        usage={"prompt_tokens": 10, "cost_usd": 0.5},
        meta={"model": "lightgbm", "members": ["a", "b"], "api_key": FAKE},
    )
    from dataclasses import asdict

    return asdict(node)


def test_node_fields(tmp_path: Path) -> None:
    fields = node_fields(_record(tmp_path), tmp_path, "k1", Scrubber([FAKE]))
    assert fields.tags[TAG_NODE_ID] == "draft-2" and fields.tags[TAG_PARENT_NODE] == "draft-1"
    assert fields.tags["mlestar.exception"] == "KeyError"
    assert fields.status == "FAILED"
    assert fields.metrics == {
        "duration_s": 12.5,
        "run_duration_s": 12.0,
        "peak_memory_mb": 210.0,
        "exit_code": 1.0,
        "usage.prompt_tokens": 10.0,
        "usage.cost_usd": 0.5,
    }
    assert fields.params["meta.members"] == "a,b" and fields.params["meta.api_key"] == MASK
    assert set(fields.texts) == {
        "plan.md",
        "stdout_tail.txt",
        "stderr_tail.txt",
        "node.json",
        "traceback.txt",
        "solution.py",
    }
    assert fields.texts["stdout_tail.txt"].endswith("END") and len(fields.texts["stdout_tail.txt"]) <= 8000
    everything = json.dumps([fields.tags, fields.params, fields.texts])
    assert FAKE not in everything


def test_parent_params_headline_and_versions(tmp_path: Path) -> None:
    facts = RunFacts(tmp_path, "k1")
    facts.absorb_event(
        {
            "name": "run_started",
            "time": 5.0,
            "engineer": "openai:gpt-4o-mini",
            "config": {"budget_s": 300.0, "seed": 7, "search": {"k_inner": 2}, "api_key": FAKE},
            "task": {"name": "toy", "metric": "rmse", "lower_is_better": True},
            "versions": {"scikit-learn": "1.9.1"},
        }
    )
    params = parent_params(facts, Scrubber())
    assert params["task"] == "toy" and params["model"] == "gpt-4o-mini" and params["budget_s"] == "300.0"
    assert params["seed"] == "7" and params["config.search.k_inner"] == "2"
    assert params["version.scikit-learn"] == "1.9.1" and params["config.api_key"] == MASK
    assert engineer_model("builtin") == "builtin"


def test_running_best_follows_the_metric_direction(tmp_path: Path) -> None:
    facts = RunFacts(tmp_path, "k")
    facts.absorb_event({"name": "run_started", "task": {"lower_is_better": True}})
    steps = [
        facts.absorb_node(asdict(build_node(f"n{i}", status=s, score=v)))
        for i, (s, v) in enumerate([("ok", 3.0), ("failed", None), ("ok", 2.0), ("ok", 5.0)])
    ]
    assert steps == [(1, 3.0), (2, 3.0), (3, 2.0), (4, 2.0)]


def test_running_best_is_of_what_the_run_could_hand_over(tmp_path: Path) -> None:
    facts = RunFacts(tmp_path, "k")
    facts.absorb_event({"name": "run_started", "task": {"lower_is_better": False}})
    screened = build_node("screen-0", stage="screen", score=0.99, meta={"split": "screen"})
    variant = build_node("wide-seed1-draft-0", stage="widen", score=0.95, meta={SEED_OF: "draft-0"})
    records = [
        build_node("draft-0", score=0.8),
        screened,
        variant,
        build_node("ens-seeds-draft-0", stage="ensemble", score=0.9),
    ]
    steps = [facts.absorb_node(asdict(n)) for n in records]
    assert steps == [(1, 0.8), (2, 0.8), (3, 0.8), (4, 0.9)]


def test_store_locations(tmp_path: Path) -> None:
    assert local_store_uri(tmp_path) == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    assert artifact_root(local_store_uri(tmp_path), tmp_path) == (tmp_path / "mlartifacts").resolve().as_uri()
    assert (
        artifact_root(f"sqlite:///{tmp_path}/team/x.db", tmp_path)
        == (tmp_path / "team" / "mlartifacts").as_uri()
    )
    assert artifact_root("http://127.0.0.1:5000", tmp_path) is None
    assert display_uri("https://u:p@host:5000") == "https://***@host:5000"
    assert safe_key("usage.tokens (in)!") == "usage.tokens _in__"


def test_transient_errors_are_retried_and_rejections_are_not() -> None:
    class Rejected(Exception):
        def get_http_status_code(self) -> int:
            return 400

    class Down(Exception):
        def get_http_status_code(self) -> int:
            return 500

    assert is_transient(ConnectionRefusedError()) and is_transient(Down())
    assert not is_transient(Rejected()) and not is_transient(KeyError("x"))
    backoff = Backoff(first_s=0.5, factor=2.0, max_s=3.0)
    assert [backoff.delay(i) for i in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 3.0]


def test_report_summary_names_what_was_not_logged() -> None:
    report = TrackingReport("http://h", "toy", "k", "r1", ("a",), (), (Unlogged("node b", "refused"),))
    text = report.summary("runs/x")
    assert not report.complete
    assert "node b: refused" in text and "mlestar track runs/x --tracking-uri http://h" in text
    assert report.to_json()["complete"] is False


def test_importing_mlestar_tracking_does_not_import_mlflow() -> None:
    code = "import sys, mlestar.tracking; assert 'mlflow' not in sys.modules, 'mlflow imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_old_final_events_whose_kind_was_overwritten_are_still_events() -> None:
    old = {"kind": "ensemble", "name": "final", "time": 3.0, "node": "e-1", "score": 0.9}
    assert normalize("ensemble", old) == (
        "event",
        {"name": "final", "time": 3.0, "node": "e-1", "score": 0.9, "kind": "ensemble"},
    )
    assert normalize("node", {"kind": "node", "id": "a"}) == ("node", {"id": "a"})
    assert normalize("mystery", {"x": 1}) is None


class _RecordingTracker(MlflowTracker):
    """Sends nowhere: keeps what it would have sent, in order."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(None, run_dir, "toy", secrets=())
        self.sent: list[str] = []

    def _handle(self, item: Item) -> None:
        kind, record = item
        self.sent.append(record.get("name") or record.get("id") or kind)
        if kind == "finish":
            with self._cond:
                self._stopped = True


def test_sending_waits_for_the_first_script_then_sends_everything_in_order(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    tracker = _RecordingTracker(tmp_path)
    tracker.follow(journal)
    journal.record(SessionStarted(pid=1))
    journal.record(StageStarted(stage=Stage.SCREEN))
    assert not tracker.sending  # mlflow is not imported while the first script is being prepared
    journal.record(AttemptStarted(node="screen-0", timeout_s=5.0))
    assert tracker.sending
    journal.add(build_node("screen-0", stage="screen"))
    report = tracker.close(timeout_s=30.0)
    assert tracker.sent == ["session_started", "stage_started", "attempt_started", "screen-0", "finish"]
    assert report.not_logged == ()


def test_a_run_with_no_script_is_still_sent_at_close(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    tracker = _RecordingTracker(tmp_path)
    tracker.follow(journal)
    journal.record(SessionStarted(pid=1))
    assert not tracker.sending
    tracker.close(timeout_s=30.0)
    assert tracker.sent == ["session_started", "finish"]
