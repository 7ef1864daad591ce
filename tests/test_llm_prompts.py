"""Every role's prompt carries the harness contract, what its role needs, and stays under the limit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from mlestar import blocks
from mlestar.engineers.base import (
    AblationResult,
    Candidate,
    EnsembleMember,
    PlanOutcome,
    TaskContext,
    Variant,
)
from mlestar.engineers.llm import prompts
from mlestar.llm.client import Message
from tests.llm_support import SCRIPT, context

CONTRACT_CLAUSES = (
    "./input/",  # where the data is
    "folds.npy",  # the harness's folds
    "use exactly the harness's folds",
    "oof.npy",  # prediction files
    "test.npy",
    "seed everything",
    "fit nothing (scalers, encoders, target statistics) on validation or test rows",
    "no exit()",
    "no package installs",
)


def _huge_script() -> str:
    """A 60-block script of about 45k characters."""
    parts = [SCRIPT.split("# %% block: load")[0]]
    for i in range(60):
        lines = "\n".join(
            f"v{i}_{j} = np.arange({j}) * {i}  # some long comment text here" for j in range(12)
        )
        parts.append(f"# %% block: step{i}\n{lines}\n\n")
    return "".join(parts)


def _big_ctx(tmp: Path) -> TaskContext:
    ctx = context(tmp, description="Long description. " * 1500)
    profile = {"columns": {f"col{i}": {"kind": "numeric", "missing": 0.1} for i in range(600)}}
    return replace(ctx, profile=profile)


def _builders(tmp: Path) -> dict[str, Callable[[], list[Message]]]:
    ctx, script = _big_ctx(tmp), _huge_script()
    card = Candidate("lightgbm", "boosted trees " * 200, "import lightgbm\n" * 400)
    variant = Variant("no-step3", "drop step 3 " * 50, "step3", script)
    results = [AblationResult(variant, 1.0 + i, 0.5, True) for i in range(12)]
    history = [PlanOutcome("try something long " * 60, 0.4 + i / 100, 0.5) for i in range(30)]
    members = [EnsembleMember(f"node-{i}", "plan text " * 80, 0.5) for i in range(12)]
    error = "Traceback (most recent call last):\n" + '  File "x.py", line 1\n' * 3000 + "KeyError: 'x9'"
    cards = [Candidate(f"card{i}", "summary " * 60) for i in range(12)]
    return {
        "retrieve": lambda: prompts.retrieve_web(ctx, 4),
        "retrieve_results": lambda: prompts.retrieve_from_results(ctx, 4, ["result " * 400] * 20),
        "retrieve_cards": lambda: prompts.retrieve_from_cards(ctx, 4, cards),
        "draft": lambda: prompts.draft(ctx, card),
        "merge": lambda: prompts.merge(ctx, script, script, card),
        "check_data_usage": lambda: prompts.check_data_usage(ctx, script),
        "check_leakage": lambda: prompts.check_leakage(ctx, script, ["finding " * 20] * 5),
        "ablate": lambda: prompts.ablate(ctx, script, ["summary " * 300] * 8, "2 or 3"),
        "summarize_ablation": lambda: prompts.summarize_ablation(ctx, results),
        "pick_block": lambda: prompts.pick_block(
            ctx, script, "summary " * 2000, [f"step{i}" for i in range(50)]
        ),
        "plan_next": lambda: prompts.plan_next(ctx, script, "step7", history),
        "implement": lambda: prompts.implement(ctx, script, "step7", "plan " * 1000),
        "plan_ensemble": lambda: prompts.plan_ensemble(ctx, members, history),
        "debug": lambda: prompts.debug(ctx, script, error),
    }


ROLES = list(_builders(Path("/tmp")))


def _text(messages: list[Message]) -> str:
    return "\n".join(m.content for m in messages)


@pytest.mark.parametrize("role", ROLES)
def test_every_prompt_carries_the_contract_and_stays_under_the_limit(role: str, tmp_path: Path) -> None:
    messages = _builders(tmp_path)[role]()
    text = _text(messages)
    for clause in CONTRACT_CLAUSES:
        assert clause in text, f"{role} prompt lacks {clause!r}"
    assert len(text) <= prompts.PROMPT_LIMIT, f"{role} prompt is {len(text)} characters"
    assert messages[0].role == "system" and messages[-1].role == "user"
    assert f"Your role: {role.split('_results')[0].split('_cards')[0]}." in messages[0].content


def test_code_prompts_show_the_house_style_and_the_task(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    text = _text(prompts.draft(ctx, Candidate("ridge", "a linear model", "Ridge(alpha=1.0)")))
    for piece in (
        "# %% block: ",
        "MLESTAR_SEED",
        "Ridge(alpha=1.0)",
        "rmse (lower is better)",
        "toy-regression",
    ):
        assert piece in text
    assert "HOUSE STYLE" not in _text(prompts.plan_next(ctx, SCRIPT, "train", []))


def test_implement_shows_the_target_block_whole_even_in_a_huge_script(tmp_path: Path) -> None:
    script = _huge_script()
    text = _text(prompts.implement(_big_ctx(tmp_path), script, "step7", "plan"))
    assert blocks.get_block(script, "step7").strip() in text
    assert "lines not shown" in text  # other blocks were shortened


def test_debug_keeps_the_end_of_a_long_traceback(tmp_path: Path) -> None:
    error = "Traceback (most recent call last):\n" + '  File "x.py", line 1\n' * 3000 + "KeyError: 'x9'"
    text = _text(prompts.debug(context(tmp_path), SCRIPT, error))
    assert "KeyError: 'x9'" in text and "characters cut" in text
    assert SCRIPT.strip() in text  # a short script is shown whole


def test_plan_next_lists_previous_plans_with_their_scores(tmp_path: Path) -> None:
    history = [PlanOutcome("use squares", 0.41, 0.5), PlanOutcome("use logs", None, 0.5)]
    text = _text(prompts.plan_next(context(tmp_path), SCRIPT, "features", history))
    assert "use squares" in text and "0.41" in text and "failed" in text
    assert blocks.get_block(SCRIPT, "features").strip() in text


def test_first_ablation_asks_for_fewer_variants_and_later_ones_see_earlier_summaries(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    first = _text(prompts.ablate(ctx, SCRIPT, [], "1 or 2"))
    later = _text(prompts.ablate(ctx, SCRIPT, ["features matter most"], "2 or 3"))
    assert "Propose 1 or 2 variants" in first and "features matter most" not in first
    assert "Propose 2 or 3 variants" in later and "features matter most" in later


def test_pick_block_names_the_refined_blocks(tmp_path: Path) -> None:
    text = _text(prompts.pick_block(context(tmp_path), SCRIPT, "s", ["features"]))
    assert "Blocks refined in earlier rounds: features" in text


def test_reask_carries_the_reason_and_the_format() -> None:
    message = prompts.reask("the code does not parse: invalid syntax at line 3", "Reply with X.")
    assert message.role == "user" and "line 3" in message.content and "Reply with X." in message.content


def test_debug_errors_lose_machine_specific_paths(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    run_root = ctx.data_dir.parent
    error = (
        f'  File "{run_root}/attempts/draft-2/solution.py", line 19, in <module>\n'
        '  File "/opt/venv/lib/python3.11/site-packages/pandas/core/frame.py", line 4336\n'
        '  File "/usr/lib/python3.11/json/decoder.py", line 355\n'
        f"FileNotFoundError: {run_root}/data/extra.csv"
    )
    text = prompts.debug(ctx, SCRIPT, error)[-1].content
    assert 'File "solution.py", line 19' in text
    assert 'File "site-packages/pandas/core/frame.py"' in text and 'File "python3.11/json/decoder.py"' in text
    assert "RUN_DIR/data/extra.csv" in text and str(run_root) not in text


def test_many_plans_show_the_best_and_the_latest(tmp_path: Path) -> None:
    history = [
        PlanOutcome(f"plan number {i}", 1.0 - (0.5 if i == 3 else 0.0) + i / 1000, 1.0) for i in range(20)
    ]
    text = _text(prompts.plan_next(context(tmp_path), SCRIPT, "features", history))
    assert "4. plan number 3\n" in text and "20. plan number 19\n" in text  # the best, the latest
    assert ". plan number 10\n" not in text


def test_leakage_hints_from_the_real_checks_reach_the_leakage_prompt(tmp_path: Path) -> None:
    from mlestar.engineers.llm.gate import leakage_hints

    ctx = replace(context(tmp_path), profile={"features": ["x1", "x2"], "train_only": ["y"]})
    reads_answers = SCRIPT.replace(
        'cols = [c for c in test.columns if c != "id"]', 'cols = ["x1", "x2", "y"]'
    ).replace('y = np.load("input/target.npy")', 'y = pd.read_csv("input/files/answers.csv")["y"].to_numpy()')
    hints = leakage_hints(reads_answers, ctx)
    assert any("answers.csv" in h for h in hints) and any("train-only column 'y'" in h for h in hints)
    assert leakage_hints(SCRIPT, ctx) == []
    text = _text(prompts.check_leakage(ctx, reads_answers, hints))
    assert "A static check flagged:\n- line " in text and "train-only column 'y'" in text


def test_the_screening_table_reaches_the_task_brief(tmp_path: Path) -> None:
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Row:
        name: str
        family: str
        score: float | None
        seconds: float
        status: str
        chosen: bool = False

    @dataclass(frozen=True)
    class Screened(TaskContext):
        screening: tuple[Row, ...] = ()

    base = context(tmp_path)
    rows = (
        Row("lightgbm", "boosted trees", 0.412, 3.2, "ok", True),
        Row("knn", "neighbours", None, 30.0, "timeout"),
    )
    ctx = Screened(
        base.spec, base.profile, base.seed, base.threads, base.script_budget_s, base.data_dir, rows
    )
    text = _text(prompts.draft(ctx, Candidate("lightgbm", "trees")))
    assert "SCREENING on this task's data (cheap runs of each candidate, rmse, lower is better):" in text
    assert (
        "- lightgbm (boosted trees): 0.412 in 3.2 s, ok, drafted\n- knn (neighbours): - in 30.0 s, timeout"
        in text
    )
    assert "SCREENING" not in _text(prompts.draft(base, Candidate("lightgbm", "trees")))


CODE_ROLES = ("retrieve", "draft", "merge", "ablate", "plan_next", "implement", "debug")


@pytest.mark.parametrize("role", CODE_ROLES)
def test_the_hardware_line_reaches_every_role_that_writes_or_plans_code(role: str, tmp_path: Path) -> None:
    from mlestar.hardware import Gpu, Hardware

    a10 = Hardware(cores=8, memory_mb=61440, gpus=(Gpu(0, "NVIDIA A10", "GPU-1"),))
    gpu_ctx = replace(context(tmp_path), hardware=a10, device="cuda")
    text = _text(_role_prompt(role, gpu_ctx))
    assert "Hardware: 8 CPU cores, 60 GB memory, 1 GPU (NVIDIA A10): $MLESTAR_DEVICE is cuda" in text


def _role_prompt(role: str, ctx: TaskContext) -> list[Message]:
    card = Candidate("lightgbm", "boosted trees", "import lightgbm")
    return {
        "retrieve": lambda: prompts.retrieve_web(ctx, 4),
        "draft": lambda: prompts.draft(ctx, card),
        "merge": lambda: prompts.merge(ctx, SCRIPT, SCRIPT, card),
        "ablate": lambda: prompts.ablate(ctx, SCRIPT, [], "2 or 3"),
        "plan_next": lambda: prompts.plan_next(ctx, SCRIPT, "train", []),
        "implement": lambda: prompts.implement(ctx, SCRIPT, "train", "a plan"),
        "debug": lambda: prompts.debug(ctx, SCRIPT, "KeyError: 'x'"),
    }[role]()


def test_the_hardware_line_says_cpu_when_there_is_no_gpu_or_it_is_not_given(tmp_path: Path) -> None:
    from mlestar.hardware import Gpu, Hardware

    plain = replace(context(tmp_path), hardware=Hardware(cores=2, memory_mb=24576))
    text = _text(prompts.draft(plain, Candidate("ridge", "a linear model")))
    assert "Hardware: 2 CPU cores, 24 GB memory, no GPU: train on the CPU." in text
    withheld = replace(plain, hardware=Hardware(cores=2, gpus=(Gpu(0, "NVIDIA T4"),)), device="cpu")
    text = _text(prompts.draft(withheld, Candidate("ridge", "a linear model")))
    assert "1 GPU (NVIDIA T4), not given to scripts: $MLESTAR_DEVICE is cpu; train on the CPU." in text
    assert "is cuda" not in text
