"""The undefined-names check: catches a missing import, never refuses a sound script."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlestar.checks.names import undefined_names
from mlestar.engineers.llm.gate import script_findings

CASES = [
    ("import numpy as np\nx = pd.DataFrame()\n", [("pd", 2)]),
    ("def f(a: Any) -> None:\n    return a\n", [("Any", 1)]),
    ("from typing import Any\ndef f(a: Any) -> None:\n    return a\n", []),
    ("for i in range(3):\n    print(i)\n[j for j in range(2)]\n", []),
    ("try:\n    pass\nexcept ValueError as e:\n    print(e)\n", []),
    ("class A:\n    def m(self):\n        return A\n", []),
    ("def f():\n    global G\n    G = 1\nprint(G)\n", []),
    ("from os import *\nprint(getcwd())\n", []),  # a star import: not judged
    ("print(globals()['x'])\n", []),  # dynamic: not judged
    ("if __name__ == '__main__':\n    print(__file__)\n", []),
    ("x = (y := 3) + y\n", []),
    ("import os.path\nprint(os.sep)\n", []),
    ("def f(*args, **kw):\n    return args, kw\nlambda q: q\n", []),
    ("x = (\n", []),  # unparsable: left to the syntax check
]


@pytest.mark.parametrize(("script", "expected"), CASES)
def test_undefined_names(script: str, expected: list[tuple[str, int]]) -> None:
    assert undefined_names(script) == expected


def test_every_bundled_and_rendered_script_is_clean() -> None:
    """Real scripts of the project pass: the check must never refuse sound code."""
    sources = list((Path(__file__).parent.parent / "agents").rglob("*.py"))
    sources += list((Path(__file__).parent.parent / "mlestar" / "handover").rglob("*.py"))
    for source in sources:
        assert undefined_names(source.read_text()) == [], source


def test_the_gate_reports_a_missing_import_for_the_re_ask() -> None:
    findings = script_findings("x = pd.read_parquet('input/train.parquet')\n")
    assert any("'pd' is used but never defined" in f for f in findings)


def test_the_llm_gate_refuses_a_clock_driven_search_outside_the_explore_guard() -> None:
    from mlestar.engineers.llm.gate import script_findings

    timed = "import time\nstart = time.time()\nwhile time.time() - start < 5:\n    pass\n"
    findings = script_findings(timed)
    assert any("outside the explore guard" in f for f in findings)
    guarded = (
        "import os\nimport time\nFROZEN = None\n"
        'if FROZEN is None and os.environ.get("MLESTAR_MODE") == "explore":\n'
        "    start = time.time()\n"
        '    open("./output/frozen.json", "w").write("{}")\n'
    )
    assert not any("FROZEN rule" in f for f in script_findings(guarded))
