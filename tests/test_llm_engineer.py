"""The LLM engineer role by role, through the real openai SDK against a local scripted server:
good replies, re-asks on unusable ones, contract breaches fed back, retries, fallbacks, budget,
per-role models, recording without keys, and replay without network."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from mlestar import blocks
from mlestar.config import RunConfig
from mlestar.engineers.base import AblationResult, Candidate, EnsembleMember, PlanOutcome, Variant
from mlestar.engineers.llm import LLMEngineer, build_engineer
from mlestar.errors import ConfigError
from mlestar.llm.settings import LLMSettings
from tests.llm_server import Canned, LLMServer, chat_reply, rate_limited, server_error, slow
from tests.llm_support import (
    FAKE_KEY,
    FEATURES_V2,
    SCRIPT,
    RecordingFallback,
    context,
    fenced,
    role_of,
)

pytestmark = pytest.mark.usefixtures("loopback_only")

CARD = Candidate("ridge", "a linear model", "Ridge(alpha=1.0)")
PICK = '{"block": "features", "plan": "Add squared terms of every numeric column."}'
LEAK = '{"leakage": true, "findings": ["target mean computed on all rows"], "block": "features"}\n' + fenced(
    FEATURES_V2
)
VARIANT = "VARIANT: no-features\nBLOCK: features\nWHAT: only the first column\n" + fenced(
    'cols = [c for c in test.columns if c != "id"][:1]\nX, X_test = train[cols].to_numpy(float), test[cols].to_numpy(float)'
)


def _engineer(
    server: LLMServer,
    tmp: Path,
    *,
    spec: str = "openai:scripted-model",
    role_specs: tuple[tuple[str, str], ...] = (),
    env: dict[str, str] | None = None,
    **config: object,
) -> tuple[LLMEngineer, RecordingFallback]:
    environ = {
        "OPENAI_BASE_URL": server.base_url,
        "OPENAI_API_KEY": FAKE_KEY,
        "MLESTAR_LLM_TIMEOUT": "1",
        **(env or {}),
    }
    settings = LLMSettings.from_env(environ, spec, role_specs)
    run_config = RunConfig(task_dir=tmp, run_dir=tmp / "run", **config)  # type: ignore[arg-type]
    fallback = RecordingFallback()
    engineer = build_engineer(run_config, settings, fallback, tmp / "run" / "llm", sleep=lambda s: None)
    assert isinstance(engineer, LLMEngineer)
    return engineer, fallback


def _request_roles(server: LLMServer) -> list[str]:
    return [role_of(r.body["messages"]) for r in server.posts()]


def test_every_role_through_the_real_sdk(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    merged = SCRIPT.replace("alpha=1.0", "alpha=2.0")
    with LLMServer() as server:
        server.push(
            *[
                chat_reply(t)
                for t in (
                    '["lightgbm", "ridge"]',  # retrieve: a choice among the fallback's cards
                    fenced(SCRIPT),  # draft
                    fenced(merged),  # merge
                    "ALL DATA USED",  # check_data_usage
                    LEAK,  # check_leakage
                    VARIANT,  # ablate
                    "Features matter most.",  # summarize_ablation
                    PICK,  # pick_block
                    "Try cubic terms as well.",  # plan_next
                    fenced(FEATURES_V2),  # implement
                    '{"kind": "greedy", "members": ["a", "b"], "plan": "weights"}',  # plan_ensemble
                    "```python\n# %% block: train\n" + blocks.get_block(SCRIPT, "train") + "```",  # debug
                )
            ]
        )
        eng, fallback = _engineer(server, tmp_path)
        assert [c.name for c in eng.retrieve(ctx, 2)] == ["lightgbm", "ridge"]
        assert eng.draft(ctx, CARD) == SCRIPT
        assert eng.merge(ctx, SCRIPT, SCRIPT, CARD) == merged
        assert eng.check_data_usage(ctx, SCRIPT) is None
        leak = eng.check_leakage(ctx, SCRIPT)
        assert leak.leaks == ("target mean computed on all rows",) and "X**2" in (leak.fixed_code or "")
        variants = eng.ablate(ctx, SCRIPT, [])
        assert [(v.name, v.block) for v in variants] == [("no-features", "features")]
        results = [AblationResult(variants[0], 1.2, 1.0, True)]
        assert eng.summarize_ablation(ctx, results) == "Features matter most."
        assert eng.pick_block(ctx, SCRIPT, "s", []).block == "features"
        assert (
            eng.plan_next(ctx, SCRIPT, "features", [PlanOutcome("squares", 0.9, 1.0)])
            == "Try cubic terms as well."
        )
        assert eng.implement(ctx, SCRIPT, "features", "squares").strip() == FEATURES_V2.strip()
        members = [EnsembleMember("a", "p", 1.0), EnsembleMember("b", "q", 1.1)]
        assert eng.plan_ensemble(ctx, members, []).kind == "greedy"
        broken = SCRIPT.replace("Ridge(alpha=1.0)", "Ridge(alpha=1.0, bogus=3)")
        assert eng.debug(ctx, broken, "TypeError: unexpected keyword 'bogus'") == SCRIPT
    assert fallback.calls == ["retrieve"]  # only the card menu came from the fallback
    assert _request_roles(server) == [
        "retrieve", "draft", "merge", "check_data_usage", "check_leakage", "ablate", "summarize_ablation",
        "pick_block", "plan_next", "implement", "plan_ensemble", "debug",
    ]  # fmt: skip
    usage = eng.take_usage()
    assert usage.calls == 12 and usage.input_tokens == 1200 and usage.output_tokens == 600
    assert usage.by_role["draft"]["calls"] == 1 and usage.by_role["draft"]["fallbacks"] == 0
    assert eng.take_usage().calls == 0  # taken: reset


@pytest.mark.parametrize(
    ("role", "bad", "reason"),
    [
        ("draft", "```python\ndef f(:\n```", "does not parse"),
        (
            "draft",
            fenced(SCRIPT.replace("folds = np.load", "import sys\nsys.exit(0)\nfolds = np.load")),
            "sys.exit",
        ),
        ("draft", fenced(SCRIPT.replace("input/folds.npy", "/data/private/folds.npy")), "outside ./input/"),
        ("draft", fenced("import numpy as np\nx = 1"), "no named blocks"),
        ("pick_block", '{"block": features, plan: squares', "not valid JSON"),
        ("pick_block", '{"block": "preprocess", "plan": "p"}', "exactly one of"),
        ("implement", fenced("x = (1"), "does not parse"),
    ],
)
def test_unusable_reply_is_reasked_with_its_reason(tmp_path: Path, role: str, bad: str, reason: str) -> None:
    ctx = context(tmp_path)
    good = {"draft": fenced(SCRIPT), "pick_block": PICK, "implement": fenced(FEATURES_V2)}[role]
    with LLMServer() as server:
        server.push(chat_reply(bad), chat_reply(good))
        eng, fallback = _engineer(server, tmp_path)
        ask = {
            "draft": lambda: eng.draft(ctx, CARD),
            "pick_block": lambda: eng.pick_block(ctx, SCRIPT, "summary", []),
            "implement": lambda: eng.implement(ctx, SCRIPT, "features", "squares"),
        }[role]
        result = ask()
    assert result is not None and fallback.calls == []
    first, second = server.posts()
    messages = second.body["messages"]
    assert messages[: len(first.body["messages"])] == first.body["messages"]
    assert messages[-2] == {"role": "assistant", "content": bad}
    assert reason in messages[-1]["content"] and "could not be used" in messages[-1]["content"]


def test_a_reply_cut_off_at_the_output_limit_is_reasked_shorter(tmp_path: Path) -> None:
    with LLMServer() as server:
        server.push(
            chat_reply("```python\n# %% block: load\nx = (", finish_reason="length"),
            chat_reply(fenced(SCRIPT)),
        )
        eng, _ = _engineer(server, tmp_path)
        assert eng.draft(context(tmp_path), CARD) == SCRIPT
    assert "cut off at the output-token limit" in server.posts()[1].body["messages"][-1]["content"]


def test_a_second_reask_can_still_save_the_step(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    with LLMServer() as server:
        server.push(chat_reply("not json"), chat_reply('{"block": "nowhere", "plan": "p"}'), chat_reply(PICK))
        eng, fallback = _engineer(server, tmp_path)
        assert eng.pick_block(ctx, SCRIPT, "s", []).block == "features"
    last = server.posts()[2].body["messages"]
    assert (
        "exactly one of" in last[-1]["content"] and last[-2]["content"] == '{"block": "nowhere", "plan": "p"}'
    )
    assert fallback.calls == [] and eng.take_usage().by_role["pick_block"]["calls"] == 3


def test_a_role_that_keeps_failing_falls_back_for_that_step(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    with LLMServer() as server:
        bad = [chat_reply("not json"), chat_reply("still { not json"), chat_reply("[no]")]
        server.push(*bad, chat_reply(PICK))
        eng, fallback = _engineer(server, tmp_path)
        assert eng.pick_block(ctx, SCRIPT, "s", []).plan == "fallback plan"
        assert eng.pick_block(ctx, SCRIPT, "s", []).plan.startswith(
            "Add squared terms"
        )  # next step: asked again
    assert fallback.calls == ["pick_block"]
    usage = eng.take_usage()
    assert usage.by_role["pick_block"]["fallbacks"] == 1 and usage.by_role["pick_block"]["calls"] == 4
    assert "unusable reply after 2 re-asks" in eng.fallback_log[0][1]


def test_timeouts_429_and_5xx_are_retried_within_the_role(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    with LLMServer() as server:
        server.push(slow(fenced(SCRIPT), 2.5), rate_limited(1), server_error(500), chat_reply(fenced(SCRIPT)))
        eng, fallback = _engineer(server, tmp_path, env={"MLESTAR_LLM_TIMEOUT": "0.5"})
        assert eng.draft(ctx, CARD) == SCRIPT
    assert fallback.calls == [] and len(server.posts()) == 4


def test_a_provider_down_beyond_its_retries_hands_the_step_to_the_fallback(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    with LLMServer() as server:
        server.push(*[server_error(503)] * 4)
        eng, fallback = _engineer(server, tmp_path)
        assert eng.debug(ctx, SCRIPT, "boom") == SCRIPT
        rejected = Canned(401, {"error": {"message": "invalid key"}})
        server.push(rejected)
        assert eng.plan_next(ctx, SCRIPT, "features", []) == "fallback next plan"
    assert fallback.calls == ["debug", "plan_next"] and len(server.posts()) == 5


def test_a_spent_budget_stops_model_use_and_the_fallback_covers_the_rest(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    with LLMServer() as server:
        server.push(chat_reply(fenced(SCRIPT), prompt_tokens=700, completion_tokens=400), chat_reply(PICK))
        eng, fallback = _engineer(server, tmp_path, max_tokens=1000)
        assert eng.draft(ctx, CARD) == SCRIPT  # 1100 tokens: over the budget now
        assert eng.pick_block(ctx, SCRIPT, "s", []).plan == "fallback plan"
        assert eng.implement(ctx, SCRIPT, "features", "p") == FEATURES_V2
    assert len(server.posts()) == 1 and server.pending == 1  # nothing was sent after the budget ran out
    assert fallback.calls == ["pick_block", "implement"]
    assert eng.budget is not None and eng.budget.exhausted
    assert "BudgetExhausted" in eng.fallback_log[0][1]


def test_max_cost_needs_known_prices_and_a_local_server_costs_nothing(tmp_path: Path) -> None:
    hosted = {"OPENAI_BASE_URL": "https://llm.example.com/v1"}  # never contacted: nothing is asked
    with LLMServer() as server:
        with pytest.raises(ConfigError, match="MLESTAR_LLM_PRICE_IN.*--llm-models"):
            _engineer(server, tmp_path, max_cost_usd=1.0, env=hosted)
        priced = {**hosted, "MLESTAR_LLM_PRICE_IN": "1", "MLESTAR_LLM_PRICE_OUT": "1"}
        eng, _ = _engineer(server, tmp_path, max_cost_usd=1.0, env=priced)
        assert eng.budget is not None and eng.budget.max_cost_usd == 1.0
        local, _ = _engineer(server, tmp_path, max_cost_usd=1.0)  # openai: on 127.0.0.1
        assert local.budget is not None and local.budget.max_cost_usd == 1.0


def test_cheaper_model_per_role(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    with LLMServer() as main, LLMServer() as cheap:
        main.push(chat_reply(fenced(SCRIPT)))
        cheap.push(chat_reply("Only the features matter."))
        env = {"OPENROUTER_API_KEY": FAKE_KEY, "OPENROUTER_BASE_URL": cheap.base_url}
        eng, _ = _engineer(
            main, tmp_path, role_specs=(("summarize_ablation", "openrouter:small-model"),), env=env
        )
        eng.draft(ctx, CARD)
        variant = Variant("v", "d", "features", SCRIPT)
        eng.summarize_ablation(ctx, [AblationResult(variant, 1.0, 1.0, True)])
    assert [r.body["model"] for r in main.posts()] == ["scripted-model"]
    assert [r.body["model"] for r in cheap.posts()] == ["small-model"]
    calls = [json.loads(line) for line in (tmp_path / "run" / "llm" / "calls.jsonl").read_text().splitlines()]
    assert [c["client"] for c in calls] == ["openai:scripted-model", "openrouter:small-model"]


def test_recording_holds_no_key_and_replay_makes_the_same_decisions(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    with LLMServer() as server:
        server.push(
            chat_reply("```python\ndef f(:\n```"),
            chat_reply(fenced(SCRIPT)),
            chat_reply(PICK),
            server_error(400),
        )
        eng, _ = _engineer(server, tmp_path / "first")
        first = (
            eng.draft(ctx, CARD),
            eng.pick_block(ctx, SCRIPT, "s", []),
            eng.plan_next(ctx, SCRIPT, "features", []),
        )
    record = tmp_path / "first" / "run"
    for path in record.rglob("*"):
        if path.is_file():
            assert FAKE_KEY not in path.read_text(errors="replace"), path
    assert first[2] == "fallback next plan"  # the 400 was recorded as a failure

    settings = LLMSettings.from_env({}, f"replay:{record}")
    config = RunConfig(task_dir=tmp_path, run_dir=tmp_path / "second")
    fallback = RecordingFallback()
    replayed = build_engineer(config, settings, fallback, tmp_path / "second" / "llm")
    again = (
        replayed.draft(ctx, CARD),
        replayed.pick_block(ctx, SCRIPT, "s", []),
        replayed.plan_next(ctx, SCRIPT, "features", []),
    )
    assert again == first and fallback.calls == ["plan_next"]
    assert replayed.take_usage().calls == 3  # the bad draft, its re-ask, the block choice


def test_a_replay_that_meets_a_new_request_falls_back(tmp_path: Path) -> None:
    (tmp_path / "rec" / "llm").mkdir(parents=True)
    (tmp_path / "rec" / "llm" / "calls.jsonl").write_text("")
    settings = LLMSettings.from_env({}, f"replay:{tmp_path / 'rec'}")
    fallback = RecordingFallback()
    eng = build_engineer(
        RunConfig(task_dir=tmp_path, run_dir=tmp_path / "r"), settings, fallback, tmp_path / "r" / "llm"
    )
    assert eng.draft(context(tmp_path), CARD) == SCRIPT and fallback.calls == ["draft"]


def test_leakage_hints_reach_the_model_on_a_script_that_reads_the_answers(tmp_path: Path) -> None:
    """The real checks (mlestar.checks.leakage), static and on the run's data, in the request sent."""
    import numpy as np
    import pandas as pd

    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=90)
    pd.DataFrame({"x1": rng.normal(size=90), "copy": np.where(y == 1, "yes", "no")}).to_parquet(
        data / "train.parquet"
    )
    np.save(data / "target.npy", y)
    np.save(data / "folds.npy", np.arange(90) % 3)
    profile = {"features": ["x1", "copy"], "train_only": ["y"], "columns": {}}
    ctx = replace(context(tmp_path), profile=profile)
    reads = SCRIPT.replace('cols = [c for c in test.columns if c != "id"]', 'cols = ["x1", "y"]')
    with LLMServer() as server:
        server.push(chat_reply('{"leakage": false, "findings": []}'))
        eng, _ = _engineer(server, tmp_path)
        assert eng.check_leakage(ctx, reads).leaks == ()
    sent = server.posts()[0].text
    assert "A static check flagged:" in sent
    assert "uses the train-only column 'y'" in sent  # the answers used as a feature
    assert "column 'copy' alone predicts the answer almost perfectly" in sent  # found in the data
