"""Frozen settings: the static rule (checks/frozen.py), the text function that freezes a script,
and the search step that freezes a working attempt (search/freeze.py)."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from mlestar import contract
from mlestar.checks.frozen import clock_findings
from mlestar.engineers.base import Candidate, TaskContext
from mlestar.journal import Journal, Node, Stage
from mlestar.run_layout import RunLayout
from mlestar.search.freeze import (
    EXPLORED_SCRIPT,
    FROZEN_NOTE,
    FreezeError,
    freeze_and_journal,
    freeze_script,
    frozen_literal,
    unfrozen_span,
)
from tests.builders import build_node
from tests.scripted_engineer import ScriptedEngineer
from tests.search_support import config, regression_task

GUARDED_TUNING = """
import json
import os
import time

import optuna

FROZEN = None
SETTINGS = {"depth": 3}


def tune(settings):
    study = optuna.create_study()
    study.optimize(lambda t: t.suggest_int("depth", 2, 8), n_trials=20, timeout=30)
    return {**settings, **study.best_params}


def main():
    start = time.time()
    settings = dict(FROZEN or SETTINGS)
    if FROZEN is None and os.environ.get("MLESTAR_MODE") == "explore":
        settings = tune(settings)
        with open("output/frozen.json", "w") as f:
            json.dump(settings, f)
    print(f"done in {time.time() - start:.1f}s")


if __name__ == "__main__":
    main()
"""


def _findings(script: str) -> list[str]:
    return [str(f) for f in clock_findings(textwrap.dedent(script))]


def test_the_contract_names_the_guard_the_check_accepts() -> None:
    assert contract.EXPLORE_GUARD in contract.CONTRACT and contract.FROZEN_UNSET in contract.CONTRACT
    assert _findings(GUARDED_TUNING) == []


def test_docs_contract_md_is_the_contract_text() -> None:
    docs = Path(__file__).resolve().parents[1] / "docs" / "contract.md"
    assert docs.read_text() == contract.contract_markdown()


@pytest.mark.parametrize(
    ("script", "line", "words"),
    [
        # a time box outside the guard: the call itself, or a function the script calls unguarded
        (
            GUARDED_TUNING.replace("        settings = tune(settings)\n", "").replace(
                "    settings = dict(FROZEN or SETTINGS)\n", "    settings = tune(dict(FROZEN or SETTINGS))\n"
            ),
            14,
            "timeout=",
        ),
        ("import optuna\nstudy = optuna.create_study()\nstudy.optimize(f, timeout=60)\n", 3, "timeout="),
        # wall-clock early stopping
        ("import time\nstart = time.time()\nwhile time.time() - start < 30:\n    step()\n", 3, "clock"),
        (
            "import time\ndeadline = time.time() + 30\nfor i in range(100):\n    if time.time() > deadline:\n        break\n",
            4,
            "clock",
        ),
        (
            "from time import perf_counter as now\nt0 = now()\nfor i in range(9):\n    if now() - t0 > 5:\n        break\n",
            4,
            "clock",
        ),
        (
            "import datetime\nstop = datetime.datetime.now()\nif datetime.datetime.now() > stop:\n    halt()\n",
            3,
            "clock",
        ),
        # the budget the harness hands out, sizing the work
        (
            'import os\nBUDGET = float(os.environ.get("MLESTAR_TIME_BUDGET", "60"))\nn = int(BUDGET * 10)\nfit(n_estimators=n)\n',
            4,
            "clock",
        ),
        # a method that stops on the clock, called by a library rather than by name
        (
            "import time\nclass Timed:\n    def fit(self, x):\n        t0 = time.time()\n        while time.time() - t0 < 9:\n            pass\n",
            5,
            "clock",
        ),
        # a guard that is negated does not guard its body
        (
            "import os, time\nFROZEN = None\nif not (FROZEN is None and os.environ.get('MLESTAR_MODE') == 'explore'):\n    f(timeout=9)\n",
            4,
            "timeout=",
        ),
    ],
)
def test_time_dependent_work_outside_the_guard_is_found(script: str, line: int, words: str) -> None:
    found = clock_findings(textwrap.dedent(script))
    assert any(f.line == line and words in f.what for f in found), [str(f) for f in found]
    assert all("explore guard" in f.what for f in found if f.line == line)


@pytest.mark.parametrize(
    "script",
    [
        # durations printed or logged
        "import time\nstart = time.time()\nfit()\nprint(f'took {time.time() - start:.1f}s')\n",
        "import time, logging\nlog = logging.getLogger()\nt = time.perf_counter()\nlog.info('took %s', time.perf_counter() - t)\n",
        # a name reused for something else is not a clock value
        "import time\nstart = time.time()\nfor start in range(0, 100, 10):\n    use(x[start : start + 10])\n",
        # a top-level name assigned the guard
        GUARDED_TUNING.replace(
            'if FROZEN is None and os.environ.get("MLESTAR_MODE") == "explore":', "if EXPLORE:"
        ).replace(
            'SETTINGS = {"depth": 3}',
            'SETTINGS = {"depth": 3}\nEXPLORE = FROZEN is None and os.environ.get("MLESTAR_MODE") == "explore"',
        ),
        # the guarded side of a conditional expression, and the else of a negated guard
        'import os, json\nFROZEN = None\nEXPLORE = FROZEN is None and os.environ.get("MLESTAR_MODE") == "explore"\n'
        's = search(timeout=9) if EXPLORE else FROZEN\njson.dump(s, open("output/frozen.json", "w"))\n',
        'import os, json\nFROZEN = None\nEXPLORE = FROZEN is None and os.environ.get("MLESTAR_MODE") == "explore"\n'
        'if not EXPLORE:\n    s = FROZEN\nelse:\n    s = search(timeout=9)\n    json.dump(s, open("output/frozen.json", "w"))\n',
        # timeout=None boxes nothing; a tuning function nobody calls does nothing
        "study.optimize(f, n_trials=20, timeout=None)\n",
        "def tune():\n    study.optimize(f, timeout=60)\n",
    ],
)
def test_scripts_that_follow_the_rule_pass(script: str) -> None:
    assert _findings(script) == []


def test_a_guard_needs_the_frozen_line_and_the_frozen_file() -> None:
    script = GUARDED_TUNING.replace("FROZEN = None\n", "").replace("output/frozen.json", "output/found.json")
    found = _findings(script)
    assert any('expected a top-level line "FROZEN = None"' in f for f in found)
    assert any("expected the explore guard to write what it found to output/frozen.json" in f for f in found)


def test_a_script_that_does_not_parse_is_one_finding() -> None:
    assert _findings("def f(:\n") == ["line 1: the script does not parse: invalid syntax"]


# -- freezing -------------------------------------------------------------------------------------


def test_freeze_script_replaces_the_line_with_a_literal_the_script_reads_back() -> None:
    settings = {"depth": 5, "rate": 0.1 + 0.2, "name": "gbdt", "flags": [True, None], "nested": {"a": 1e-300}}
    frozen = freeze_script(GUARDED_TUNING, settings)
    assert "FROZEN = None" not in frozen and unfrozen_span(frozen) is None
    literal = frozen_literal(settings)
    assert (
        frozen.replace(f"{literal}  {FROZEN_NOTE}", "FROZEN = None") == GUARDED_TUNING
    )  # nothing else changed
    namespace: dict[str, object] = {}
    exec(compile(frozen.split("def tune")[0].replace("import optuna", ""), "s", "exec"), namespace)
    assert namespace["FROZEN"] == settings  # floats round-trip exactly
    assert clock_findings(frozen) == ()


def test_long_settings_are_written_one_key_per_line() -> None:
    settings = {f"parameter_{i}": i / 7 for i in range(6)}
    frozen = freeze_script("FROZEN = None\nx = 1\n", settings)
    assert frozen.count("\n") == 2 + len(settings) + 1
    namespace: dict[str, object] = {}
    exec(frozen, namespace)
    assert namespace["FROZEN"] == settings


@pytest.mark.parametrize(
    ("script", "settings", "message"),
    [
        ("x = 1\n", {"a": 1}, 'expected one top-level line "FROZEN = None"'),
        ("def f():\n    FROZEN = None\n", {"a": 1}, "found none"),  # not at the top level
        ("FROZEN = None\n", [1, 2], "expected frozen.json to hold a JSON object, found list"),
        ("FROZEN = None\n", {"a": float("nan")}, "found NaN or infinity in ['a']"),
    ],
)
def test_freeze_script_refuses(script: str, settings: object, message: str) -> None:
    with pytest.raises(FreezeError, match=message.replace("(", r"\(").replace("[", r"\[")):
        freeze_script(script, settings)  # type: ignore[arg-type]


def _attempt(tmp_path: Path, script: str, found: object | None) -> tuple[RunLayout, Journal, Node]:
    layout = RunLayout(tmp_path)
    work = layout.attempt("t0-k1")
    (work / "output").mkdir(parents=True)
    (work / "solution.py").write_text(script)
    if found is not None:
        (work / "output" / "frozen.json").write_text(json.dumps(found))
    tuned = build_node(
        "t0-k1", stage=Stage.REFINE, role="implement", plan="tune", code_path="attempts/t0-k1/solution.py"
    )
    return layout, Journal(tmp_path), tuned


def test_a_working_attempt_is_frozen_in_place_and_journaled(tmp_path: Path) -> None:
    layout, journal, node = _attempt(tmp_path, GUARDED_TUNING, {"depth": 7})
    done = freeze_and_journal(layout, journal, node)
    assert done is not None and done.settings == {"depth": 7} and done.problem is None
    work = layout.attempt("t0-k1")
    assert (work / EXPLORED_SCRIPT).read_text() == GUARDED_TUNING
    assert "FROZEN = {'depth': 7}" in (work / "solution.py").read_text()
    assert [e["settings"] for e in journal.events if e["name"] == "settings_frozen"] == [{"depth": 7}]
    assert freeze_and_journal(layout, journal, node) is None  # already frozen: nothing more to do
    assert len([e for e in journal.events if e["name"] == "settings_frozen"]) == 1


def test_nothing_to_freeze_without_a_search_and_a_problem_when_the_file_is_bad(tmp_path: Path) -> None:
    layout, journal, node = _attempt(tmp_path / "a", GUARDED_TUNING, None)
    assert freeze_and_journal(layout, journal, node) is None
    layout, journal, node = _attempt(tmp_path / "b", GUARDED_TUNING, ["not", "an", "object"])
    done = freeze_and_journal(layout, journal, node)
    assert done is not None and done.settings is None and "cannot be frozen" in (done.problem or "")
    assert (layout.attempt("t0-k1") / "solution.py").read_text() == GUARDED_TUNING


# -- a whole run: a search that depends on the clock, frozen, handed over exactly ----------------------

CLOCK_SEARCH = """FROZEN = None
NOISE = {noise}
if FROZEN is None and os.environ.get("MLESTAR_MODE") == "explore":
    NOISE = NOISE * (1 + (time.time_ns() % 1000) / 1e4)  # what it finds depends on when it runs
    Path("output").mkdir(exist_ok=True)
    Path("output/frozen.json").write_text(json.dumps({{"noise": NOISE}}))
else:
    NOISE = FROZEN["noise"] if FROZEN else NOISE
"""


class _ClockSearchEngineer(ScriptedEngineer):
    """Drafts whose model block searches its noise with the clock, under the explore guard; test
    predictions that follow the noise, so a search repeated at hand-over would change the file."""

    def draft(self, ctx: TaskContext, candidate: Candidate) -> str:
        code = super().draft(ctx, candidate)
        noise = re.search(r"NOISE = ([0-9.]+)\n", code).group(1)  # type: ignore[union-attr]
        code = code.replace(f"NOISE = {noise}\n", CLOCK_SEARCH.format(noise=noise))
        code = code.replace("import time\n", "import json\nimport os\nimport time\n")
        return code.replace(
            "test = np.full((n_test, y.shape[1]), float(np.nanmean(y)))",
            "test = np.nanmean(y) + rng.normal(0.0, NOISE, (n_test, y.shape[1]))",
        )


def test_a_clock_driven_search_is_frozen_and_handed_over_exactly(tmp_path: Path) -> None:
    from tests.test_handover import _rebuild, _start

    engineer = _ClockSearchEngineer(drafts={"a": 0.5, "b": 0.6}, merge_gain=2.0)
    task = regression_task(tmp_path / "task")
    cfg = config(task, tmp_path / "run", t_outer=0, r_ensemble=0)
    _start(cfg, engineer)
    journal = Journal(cfg.run_dir)
    draft = journal.nodes["draft-0"]
    explored = (cfg.run_dir / "attempts" / "draft-0" / EXPLORED_SCRIPT).read_text()
    assert clock_findings(explored) == ()  # the rule holds: the clock is read inside the guard only
    frozen = [e for e in journal.events if e["name"] == "settings_frozen"]
    assert {e["node"] for e in frozen} == {"draft-0", "draft-1"}
    found = next(e["settings"] for e in frozen if e["node"] == "draft-0")
    assert (
        found["noise"] != 0.5
        and f"FROZEN = {{'noise': {found['noise']!r}}}" in (cfg.run_dir / draft.code_path).read_text()
    )
    final = journal.nodes["final-draft-0"]
    assert final.ok and final.score == draft.score  # the final fit did not search again
    assert "FROZEN = {'noise'" in (cfg.run_dir / "solution.py").read_text()
    assert _rebuild(cfg.run_dir, tmp_path / "rebuild") == (cfg.run_dir / "submission.csv").read_bytes()


class _ClockOutsideEngineer(ScriptedEngineer):
    """Its drafts read the clock in a test outside the guard (harmless here, but a break of the rule)."""

    def draft(self, ctx: TaskContext, candidate: Candidate) -> str:
        code = super().draft(ctx, candidate)
        return code.replace(
            "    time.sleep(SLEEP)\n", "    time.sleep(SLEEP)\n    if time.time() < 0:\n        return None\n"
        )


def test_a_handed_over_script_that_breaks_the_rule_is_not_called_exact(tmp_path: Path) -> None:
    from mlestar.versioning.finished_run import read_finished_run
    from tests.test_handover import _start

    task = regression_task(tmp_path / "task")
    cfg = config(task, tmp_path / "run", t_outer=0, r_ensemble=0, m_candidates=1)
    _start(cfg, _ClockOutsideEngineer(drafts={"a": 0.5}))
    journal = Journal(cfg.run_dir)
    member = next(e for e in journal.events if e["name"] == "final_member")
    assert member["refit"] and not member["exact"] and "time.time() < 0" in member["clock"][0]
    assert not next(e for e in journal.events if e["name"] == "run_finished")["exact"]
    reasons = read_finished_run(cfg.run_dir).inexact
    assert len(reasons) == 1 and reasons[0].startswith(
        "draft-0 depends on the clock outside the explore guard"
    )


def test_an_attempt_repeated_on_several_splits_searches_on_the_first_only(tmp_path: Path) -> None:
    """The other splits run the script with what the first found frozen in: every split scores the
    settings the attempt keeps, and no time box the machine's speed shortens decides a repeat."""
    from tests.test_handover import _start

    task = regression_task(tmp_path / "task")
    cfg = config(task, tmp_path / "run", t_outer=0, r_ensemble=0, m_candidates=1, repeats=3)
    _start(cfg, _ClockSearchEngineer(drafts={"a": 0.5}))
    journal = Journal(cfg.run_dir)
    assert journal.nodes["draft-0"].meta["repeats"] == 3
    work = cfg.run_dir / "attempts" / "draft-0"
    kept = (work / "solution.py").read_text()
    assert "FROZEN = {'noise'" in kept and (work / "output" / contract.FROZEN_FILE).exists()
    for r in (1, 2):
        repeat = work / f"repeat-{r}"
        assert (repeat / "solution.py").read_text() == kept  # frozen with the first split's findings
        assert not (repeat / "output" / contract.FROZEN_FILE).exists()  # so it searched nothing
