"""The built-in engineer's scripts are lean: only code that runs, defined before it is read, every
script read back as the recipe it was rendered from (no script runs here: see test_builtin_tasks)."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from mlestar import contract
from mlestar.blocks import get_block, parse_blocks, replace_block
from mlestar.checks.leakage import static_leaks
from mlestar.engineers.base import TaskContext
from mlestar.engineers.builtin import BuiltinEngineer
from mlestar.engineers.builtin.catalogue import catalogue
from mlestar.engineers.builtin.header import title_for
from mlestar.engineers.builtin.recipe import read_recipe, render_block, render_script

sys.path.insert(0, str(Path(__file__).parent))  # the shared tiny tasks live beside this file
from test_builtin_tasks import KINDS, Task, make_task  # noqa: E402

RUFF = Path(sys.executable).with_name("ruff")
ENTRY_POINTS = {"main", "SEED", "THREADS"}
"""Read by nothing else, on purpose: main runs the script, SEED and THREADS are the contract's knobs
(a script of linear models uses neither, a tree model both)."""


@pytest.fixture(scope="module")
def engineer() -> BuiltinEngineer:
    return BuiltinEngineer()


FROZEN_EXAMPLE = '\nFROZEN = {"MEMBER": {"learning_rate": 0.0123456789012345}}  # frozen by mlestar\n'
"""What the search writes over FROZEN = None (the member name is filled in per script)."""
RENDERED = (*KINDS, "hourly", "numbers", "pairs", "mixed", "multilabel")
"""Task kinds whose every script is checked (rendering only: nothing runs)."""


@pytest.fixture(scope="module")
def tasks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Task]:
    return {kind: make_task(tmp_path_factory.mktemp(kind), kind) for kind in RENDERED}


def pyflakes_findings(scripts: list[str], folder: Path) -> list[list[str]]:
    """Per script: unused imports and names, undefined names, redefinitions (ruff's pyflakes rules).
    One ruff run for all of them (a process per script costs more than the checks)."""
    for i, script in enumerate(scripts):
        (folder / f"s{i}.py").write_text(script)
    done = subprocess.run(
        [
            str(RUFF),
            "check",
            "--no-cache",
            "--isolated",
            "--select",
            "F",
            "--output-format",
            "concise",
            str(folder),
        ],
        capture_output=True,
        text=True,
    )
    found: list[list[str]] = [[] for _ in scripts]
    for line in done.stdout.splitlines():
        name = Path(line.split(":", 1)[0]).stem
        if name.startswith("s") and name[1:].isdigit():
            found[int(name[1:])].append(line.split(":", 1)[1])
    return found


def unused_definitions(script: str) -> list[str]:
    """Top-level functions, classes and constants nothing else in the script reads."""
    tree = ast.parse(script)
    defined: dict[str, int] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            defined[node.name] = node.lineno
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        defined[name.id] = node.lineno
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return [f"line {line}: {name}" for name, line in defined.items() if name not in read | ENTRY_POINTS]


def used_before_defined(script: str) -> list[str]:
    """Helpers a block reads although a later block defines them (within a block, order is free)."""
    tree = ast.parse(script)
    starts = [block.start for block in parse_blocks(script)]

    def block_of(line: int) -> int:
        offset = sum(len(text) + 1 for text in script.split("\n")[: line - 1])
        return sum(1 for start in starts if start <= offset)

    defined_in = {
        n.name: block_of(n.lineno) for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)
    }
    late = []
    for node in tree.body:
        here = block_of(node.lineno)
        for name in ast.walk(node):
            if isinstance(name, ast.Name) and defined_in.get(name.id, 0) > here:
                late.append(f"line {name.lineno}: {name.id}")
    return sorted(set(late))


def every_script(engineer: BuiltinEngineer, ctx: TaskContext) -> Iterator[tuple[str, str]]:
    """(what, script): each card's draft, the first merge, the data-usage revision and every plan
    of the catalogue applied to the merged script."""
    candidates = engineer.retrieve(ctx, 50)
    drafts = {c.name: engineer.draft(ctx, c) for c in candidates}
    yield from ((f"draft {name}", script) for name, script in drafts.items())
    merged = engineer.merge(ctx, drafts[candidates[0].name], drafts[candidates[1].name], candidates[1])
    merged = engineer.check_data_usage(ctx, merged) or merged
    yield "merge", merged
    c = engineer._context(ctx)  # the profile with the data facts, as the engineer's roles see it
    recipe = read_recipe(merged, engineer.cards)
    for entry in catalogue(c):
        if entry.applies(recipe, c):
            plan = f"[plan: {entry.block} +{entry.key}]"
            body = engineer.implement(ctx, merged, entry.block, plan)
            refined = engineer.settle(ctx, replace_block(merged, entry.block, body))  # as the search does
            yield plan, refined
            if entry.key == "tuned":  # as the search freezes it, then as the engineer writes it back
                member = read_recipe(merged, engineer.cards).model.members[0].name
                found = FROZEN_EXAMPLE.replace("MEMBER", member)
                frozen = refined.replace("\nFROZEN = None\n", found)
                yield "tuned, frozen by the search", frozen
                yield "tuned, frozen, settled after another block", engineer.settle(ctx, frozen)
                again = render_block(
                    "model", read_recipe(frozen, engineer.cards), engineer._profile(ctx), engineer.cards
                )
                yield "tuned, frozen, rewritten", engineer.settle(ctx, replace_block(frozen, "model", again))


@pytest.mark.parametrize("kind", RENDERED)
def test_every_script_is_lean_reads_back_and_leaks_nothing(
    engineer: BuiltinEngineer, tasks: dict[str, Task], kind: str, tmp_path: Path
) -> None:
    """Only code that runs, no helper read before its block; render(read(script)) == script (resume
    and every later role depend on reading a script back); the static leak check finds nothing."""
    ctx = tasks[kind].ctx
    profile = engineer._profile(ctx)  # with the data facts, as the engineer renders
    train_only, answers = list(ctx.profile.get("train_only", [])), list(ctx.spec.train_target_columns)
    scripts = dict(every_script(engineer, ctx))
    flakes = pyflakes_findings(list(scripts.values()), tmp_path)
    problems: dict[str, list[str]] = {}
    for (what, script), found in zip(scripts.items(), flakes, strict=True):
        found += unused_definitions(script) + used_before_defined(script)
        if what == "merge":  # every other script shares its blocks (and the check takes seconds a script)
            found += static_leaks(script, train_only, answers)
        recipe = read_recipe(script, engineer.cards)
        again = render_script(recipe, profile, engineer.cards, title_for(ctx), ctx.seed)
        if "frozen by the search" in what or "settled after" in what:  # read back with the frozen settings
            if not recipe.model.frozen:
                found.append("frozen settings not read back")
        elif recipe.views == recipe.views_needed(engineer.cards) and again != script:
            found.append("renders differently once read back")
        if found:
            problems[what] = found
    assert problems == {}


def test_the_harness_names_come_from_the_contract(engineer: BuiltinEngineer, tasks: dict[str, Task]) -> None:
    ctx = tasks["multi_target"].ctx
    script = engineer.check_data_usage(ctx, engineer.draft(ctx, engineer.retrieve(ctx, 1)[0]))
    assert script is not None
    for name in (
        contract.TRAIN_FILE,
        contract.TEST_FILE,
        contract.TARGET_FILE,
        contract.FOLDS_FILE,
        contract.OOF_FILE,
        contract.TEST_PRED_FILE,
        contract.MODEL_FILE,
        contract.FILES_LINK,
        contract.ENV_SEED,
        contract.ENV_THREADS,
        contract.ENV_SAVE_MODEL,
    ):
        assert f'"{name}"' in script, name
    assert "their files live where test's do" in get_block(script, "predict")  # rows with files


def test_a_table_of_numbers_gets_no_category_or_scaling_code(
    engineer: BuiltinEngineer, tmp_path: Path
) -> None:
    """Only what the recipe uses: one tree model on numbers has no views to encode or scale with, and
    no list of the thirty input columns (see the next test). 130 lines before EarlyStopped's fit
    returned the refitted model (no predict, no BaseEstimator), the watched rows took one line and the
    entry point's work went under `if __name__ == "__main__":` itself; 141 before the one-member main
    stopped timing its member (the harness times the script), docstrings that repeated the code went
    and the probe of early stopping took one statement to make and one to fit; 159 before the title
    became the whole docstring, EarlyStopped kept only what a classifier runs and fit_model went where
    nothing calls it; 174 before one member took the short form (no Combiner), 185 before EarlyStopped
    was written compactly, 383 before the unused views went."""
    ctx = make_task(tmp_path, "numbers").ctx
    script = engineer.draft(ctx, next(c for c in engineer.retrieve(ctx, 20) if c.name == "lightgbm"))
    for absent in (
        "OrdinalEncoder",
        "OneHotEncoder",
        "SimpleImputer",
        "StandardScaler",
        "native_view",
        "linear_view",
        "TfidfVectorizer",
        "NUMERIC",
        "STRINGS",
        "BOOLEAN",
        "FEATURES",
    ):
        assert absent not in script, absent
    assert len(script.splitlines()) <= 120  # 11 of them: the early stopping every boosted member uses
    assert "flavour" not in script  # one boosting library: EarlyStopped needs no argument naming it
    assert "import time" not in script and '"""' not in get_block(script, "predict")  # a table: no files


def test_catboost_reads_a_table_of_numbers_as_it_is(engineer: BuiltinEngineer, tmp_path: Path) -> None:
    """Like trees, CatBoost's native view of plain numbers is the feature table itself (no columns to
    pass through a transformer); it still names the category columns CatBoost asks for (none)."""
    task = make_task(tmp_path, "numbers")
    catboost = next(c for c in engineer.retrieve(task.ctx, 20) if c.name == "catboost")
    script = engineer.draft(task.ctx, catboost)
    preprocess = get_block(script, "preprocess")
    assert '{"native": FunctionTransformer()}' in preprocess and "def native_view(" not in preprocess
    assert read_recipe(script, engineer.cards).views == ("native",)
    names = definitions(script)
    table = names["FeatureMaker"]().fit(task.train, task.test).transform(task.train, "train")
    assert len(table.columns) > 1 and names["category_columns"](table) == []


def definitions(script: str) -> dict[str, Any]:
    """The script's top-level names, without running its main."""
    namespace: dict[str, Any] = {"__name__": "a_draft"}
    exec(compile(script, "a_draft.py", "exec"), namespace)
    return namespace


def test_a_table_of_numbers_names_its_inputs_by_rule(engineer: BuiltinEngineer, tmp_path: Path) -> None:
    """The draft keeps train's columns that test also has, but the id: exactly the profile's features.
    Where those differ (here: a profile without the first column, as a leak fix writes it) the header
    lists them again and the features block reads the list."""
    task = make_task(tmp_path, "numbers")
    ctx, features = task.ctx, list(task.ctx.profile["features"])
    lightgbm = next(c for c in engineer.retrieve(ctx, 20) if c.name == "lightgbm")
    maker = definitions(engineer.draft(ctx, lightgbm))["FeatureMaker"]().fit(task.train, task.test)
    assert list(maker.transform(task.test, "test").columns) == features
    slim = engineer.draft(replace(ctx, profile={**ctx.profile, "features": features[1:]}), lightgbm)
    assert "FEATURES = [" in slim
    maker = definitions(slim)["FeatureMaker"]().fit(task.train, task.test)
    assert list(maker.transform(task.test, "test").columns) == features[1:]


def test_views_follow_the_members(engineer: BuiltinEngineer, tasks: dict[str, Task]) -> None:
    ctx = tasks["binary"].ctx
    by_name = {c.name: c for c in engineer.retrieve(ctx, 20)}
    lightgbm = engineer.draft(ctx, by_name["lightgbm"])
    assert (
        "def trees_view(" in lightgbm
        and "def native_view(" not in lightgbm
        and "def linear_view(" not in lightgbm
    )
    merged = engineer.merge(ctx, lightgbm, engineer.draft(ctx, by_name["linear"]), by_name["linear"])
    preprocess = get_block(merged, "preprocess")
    assert (
        "def trees_view(" in preprocess
        and "def linear_view(" in preprocess
        and "def native_view(" not in preprocess
    )


def test_span_scripts_are_lean_too(engineer: BuiltinEngineer, tmp_path: Path) -> None:
    """The span-extraction scripts (not recipes: no refinement rewrites them) hold only code that runs."""
    ctx = make_task(tmp_path / "task", "spans").ctx
    scripts = [engineer.draft(ctx, candidate) for candidate in engineer.retrieve(ctx, 4)]
    assert len(scripts) == 2
    folder = tmp_path / "ruff"
    folder.mkdir()
    flakes = pyflakes_findings(scripts, folder)
    assert [
        found + unused_definitions(s) + used_before_defined(s)
        for s, found in zip(scripts, flakes, strict=True)
    ] == [[], []]


def test_one_member_averaged_takes_the_short_form_and_settles_back(
    engineer: BuiltinEngineer, tasks: dict[str, Task]
) -> None:
    """A single-member draft has no Combiner and no member loop; once the search splices a second
    member or a stacking train block in, settle gives train, predict and main their combining form,
    exactly as a whole render of the new recipe would."""
    ctx = tasks["binary"].ctx
    by_name = {c.name: c for c in engineer.retrieve(ctx, 20)}
    draft = engineer.draft(ctx, by_name["lightgbm"])
    recipe = read_recipe(draft, engineer.cards)
    assert recipe.single and recipe.combine == "average"
    assert "class Combiner" not in draft and "for name, (view, model)" not in get_block(draft, "main")
    assert engineer.settle(ctx, draft) == draft
    profile = engineer._profile(ctx)
    for block, plan, combine in (
        ("model", "[plan: model +add:xgboost]", "average"),
        ("train", "[plan: train +stack_boost]", "stack_boost"),
    ):
        spliced = replace_block(draft, block, engineer.implement(ctx, draft, block, plan))
        settled = engineer.settle(ctx, spliced)
        again = read_recipe(settled, engineer.cards)
        assert not again.single and again.combine == combine, plan
        assert "class Combiner" in settled and "for name, (view, model)" in get_block(settled, "main")
        assert "import time" in get_block(settled, "main")  # members compared: each one's time is printed
        assert settled == render_script(again, profile, engineer.cards, title_for(ctx), ctx.seed), plan


def test_fit_model_is_defined_only_for_the_code_that_calls_it(
    engineer: BuiltinEngineer, tasks: dict[str, Task], tmp_path: Path
) -> None:
    """One answer column: cross_fit fits a copy of the model itself, so a draft has no fit_model; tuning
    calls it, so settle adds it with the tuning code and keeps it while a frozen script still holds
    that code. One model per answer column always goes through it."""
    ctx = tasks["numbers"].ctx
    draft = engineer.draft(ctx, next(c for c in engineer.retrieve(ctx, 20) if c.name == "lightgbm"))
    assert "fit_model" not in draft and "copy.deepcopy(model).fit(" in get_block(draft, "train")
    body = engineer.implement(ctx, draft, "model", "[plan: model +tuned]")
    tuned = engineer.settle(ctx, replace_block(draft, "model", body))
    assert "def fit_model(" in get_block(tuned, "load") and "fit_model(" in get_block(tuned, "model")
    assert pyflakes_findings([tuned], tmp_path) == [[]] and unused_definitions(tuned) == []
    frozen = tuned.replace("\nFROZEN = None\n", FROZEN_EXAMPLE.replace("MEMBER", "lightgbm"))
    assert engineer.settle(ctx, frozen) == frozen
    ctx = tasks["multi_target"].ctx
    draft = engineer.draft(ctx, engineer.retrieve(ctx, 1)[0])
    assert "def fit_model(" in get_block(draft, "load") and "fit_model(" in get_block(draft, "train")


def test_settle_passes_other_scripts_as_they_are(engineer: BuiltinEngineer, tasks: dict[str, Task]) -> None:
    script = "# %% block: main\nprint('written by someone else')\n"
    assert engineer.settle(tasks["binary"].ctx, script) == script
