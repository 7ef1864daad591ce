"""The final solution.py handed to the user: it reproduces submission.csv with no mlestar import.

A single-script solution is the script itself plus a "submission" block that imports the run's own
code for writing submissions (solution_parts/submission.py, see shipped.py); the script's entry point
runs its main and then writes the submission, so the file has one `if __name__ == "__main__":`. An
ensemble becomes a small driver that runs each member script (kept in solution_parts/) in its own
folder and combines their predictions with solution_parts/combine.py, the code the run combined
them with (search/combine.py). A member the run did not refit on every row (SearchedRows) runs on
the folds it was searched on; a single script in that case is run by a one-member driver too.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass, field

from mlestar import syntax
from mlestar.contract import (
    BLOCK_MARKER,
    FOLDS_FILE,
    INPUT_DIR,
    OOF_FILE,
    OUTPUT_DIR,
    TARGET_FILE,
    TEST_PRED_FILE,
)
from mlestar.handover import shipped
from mlestar.task.spec import ProblemType, TaskSpec

_SUBMISSION = f"""{BLOCK_MARKER}submission
from solution_parts.submission import write_submission  # the run's own code: output/test.npy -> submission.csv
"""
_MAIN_GUARD = 'if __name__ == "__main__":'


def standalone_script(script: str) -> str:
    """The script with the submission block before its entry point, which also writes the
    submission: one `if __name__ == "__main__":` for the whole file. A script without such a
    guard (its work at the top level) gets one that only writes the submission."""
    block = _SUBMISSION
    span = _last_main_guard(script)
    if span is None:
        return f"{script.rstrip()}\n\n\n{block}\n\n{_MAIN_GUARD}\n    write_submission()\n"
    first, last, indent = span
    lines = script.splitlines(keepends=True)
    first = _block_opening(lines, first)
    head, guard = "".join(lines[:first]).rstrip(), "".join(lines[first : last + 1]).rstrip()
    return f"{head}\n\n\n{block}\n\n{guard}\n{indent}write_submission()\n"


def _block_opening(lines: list[str], guard: int) -> int:
    """Where the submission block goes: before the marker of the block the entry point opens (its
    work under the guard itself, at most imports before it), so that block stays whole; else just
    before the guard (a main function above it stays in its block, the guard joins the submission)."""
    for i in range(guard - 1, -1, -1):
        if lines[i].startswith(BLOCK_MARKER):
            return i
        if lines[i][:1].strip() and not lines[i].startswith(("import ", "from ", "#")):
            return guard
    return guard


def _last_main_guard(script: str) -> tuple[int, int, str] | None:
    """(first line, last line, body indentation) of the script's entry point when it is its last
    top-level statement, has no else branch and is the only one."""
    tree = syntax.parse(script)
    guards = [s for s in tree.body if isinstance(s, ast.If) and _is_main_test(s.test)]
    if len(guards) != 1 or guards[0] is not tree.body[-1] or guards[0].orelse:
        return None
    guard = guards[0]
    body_line = script.splitlines()[guard.body[0].lineno - 1]
    indent = body_line[: len(body_line) - len(body_line.lstrip())]
    return guard.lineno - 1, (guard.end_lineno or guard.lineno) - 1, indent


def _is_main_test(test: ast.expr) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )


@dataclass(frozen=True)
class SearchedRows:
    """Members that kept the predictions of their search run, which used a subsample of the rows:
    solution.py runs each on the folds it was searched on, so it computes exactly those."""

    folds: dict[str, str] = field(default_factory=dict)
    """Member -> the file of ./input holding its search's folds (rows.SEARCH_FOLDS_FILE)."""
    reasons: dict[str, str] = field(default_factory=dict)
    """Member -> why it was not refit on every row."""

    def docstring(self) -> str:
        """What solution.py's docstring says about them (empty when there are none)."""
        if not self.folds:
            return ""
        lines = [
            f"{m} runs on the rows it was searched on, ./{INPUT_DIR}/{f} as its {FOLDS_FILE} (rows "
            f"marked -1 are left out): the run kept its search predictions ({_quiet(self.reasons.get(m))}), "
            "and this computes exactly those."
            for m, f in self.folds.items()
        ]
        return "\n" + "\n".join(textwrap.fill(line, 98) for line in lines) + "\n"


def _quiet(reason: str | None) -> str:
    """A reason as docstring text: an error quoted in it must not end the docstring."""
    return (reason or "not refit").replace("\\", "/").replace('"""', "'")


_HEADER = '''"""{title}
{searched}
Written by mlestar.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
{imports}
INPUT = Path("{input}")
OUTPUT = Path("{output}")
SEARCH_FOLDS = {search_folds!r}
"""Members run on the folds they were searched on (a file of ./{input}); the others on {folds}."""
'''

_RUN_MEMBER = '''

{marker}members
def member_input(name: str, work: Path) -> None:
    """The member's ./{input}: the solution's own, or for a member in SEARCH_FOLDS a folder of
    links to it with {folds} replaced by the folds the member was searched on."""
    link = work / "{input}"
    if name not in SEARCH_FOLDS:
        if not link.exists():
            link.symlink_to(INPUT.resolve())
        return
    if link.is_symlink():
        link.unlink()
    link.mkdir(exist_ok=True)
    for entry in INPUT.iterdir():
        source = INPUT / SEARCH_FOLDS[name] if entry.name == "{folds}" else entry
        target = link / entry.name
        if target.is_symlink():
            target.unlink()
        target.symlink_to(source.resolve())


def run_member(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Run one member script in its own folder; its out-of-fold and test predictions."""
    work = Path("parts") / name
    work.mkdir(parents=True, exist_ok=True)
    member_input(name, work)
    script = Path("solution_parts") / f"{{name}}.py"
    subprocess.run([sys.executable, str(script.resolve())], cwd=work, check=True, env=os.environ.copy())
    return np.load(work / "{output}" / "{oof}"), np.load(work / "{output}" / "{test_pred}")
'''

_ENSEMBLE_MAIN = """
MEMBERS = {members!r}
KIND = {kind!r}
WEIGHTS = {weights!r}  # one per member; "stacking" fits a linear meta-model instead
CLASSIFICATION = {classification!r}
MULTICLASS = {multiclass!r}
{run_member}

{marker}main
def main() -> None:
    results = [run_member(name) for name in MEMBERS]
    oofs, tests = [r[0] for r in results], [r[1] for r in results]
    y = np.load(INPUT / "{target}")
    OUTPUT.mkdir(exist_ok=True)
    np.save(OUTPUT / "{test_pred}", combine(KIND, oofs, tests, y, WEIGHTS, CLASSIFICATION, MULTICLASS))


if __name__ == "__main__":
    main()
"""

_MEMBER_MAIN = """
MEMBER = {member!r}
{run_member}

{marker}main
def main() -> None:
    oof, test = run_member(MEMBER)
    OUTPUT.mkdir(exist_ok=True)
    np.save(OUTPUT / "{oof}", oof)
    np.save(OUTPUT / "{test_pred}", test)


if __name__ == "__main__":
    main()
"""


def _names(searched: SearchedRows) -> dict[str, object]:
    return {
        "input": INPUT_DIR,
        "output": OUTPUT_DIR,
        "oof": OOF_FILE,
        "test_pred": TEST_PRED_FILE,
        "target": TARGET_FILE,
        "folds": FOLDS_FILE,
        "marker": BLOCK_MARKER,
        "search_folds": searched.folds,
        "searched": searched.docstring(),
    }


def ensemble_script(
    spec: TaskSpec,
    members: list[str],
    kind: str,
    weights: list[float],
    searched: SearchedRows | None = None,
) -> str:
    names = _names(searched or SearchedRows())
    title = (
        f"Final solution: an ensemble of {len(members)} solution scripts, combined by {kind}.\n\n"
        f"Each member script in solution_parts/ runs in its own folder under parts/, reading ./{INPUT_DIR}\n"
        f"like any solution; their predictions are combined by solution_parts/{shipped.COMBINE_MODULE}, the\n"
        "code the run combined them with."
    )
    imports = "\nfrom solution_parts.combine import combine\n"
    head = _HEADER.format(title=title, imports=imports, **names)
    body = _ENSEMBLE_MAIN.format(
        members=members,
        kind=kind,
        weights=weights,
        classification=spec.problem_type.is_classification,
        multiclass=spec.problem_type is ProblemType.MULTICLASS,
        run_member=_RUN_MEMBER.format(**names),
        **names,
    )
    return standalone_script(head + body)


def member_script(member: str, searched: SearchedRows) -> str:
    """solution.py for a single script the run did not refit on every row: it runs the script
    (in solution_parts/) on the folds it was searched on and writes the submission from it."""
    names = _names(searched)
    title = (
        f"Final solution: the script solution_parts/{member}.py, run in its own folder under parts/.\n\n"
        "Its predictions are written as the submission, as the run wrote them."
    )
    head = _HEADER.format(title=title, imports="", **names)
    body = _MEMBER_MAIN.format(member=member, run_member=_RUN_MEMBER.format(**names), **names)
    return standalone_script(head + body)


_TRIVIAL = '''"""Fallback solution: no solution script worked, so this predicts the training answers' prior.

Class frequencies for classification, the mean for regression: correctly shaped, and a floor that
any real model should beat. Written by mlestar.
"""

from pathlib import Path

import numpy as np
import pandas as pd

INPUT = Path("{input}")
OUTPUT = Path("{output}")


{marker}predict
def main() -> None:
    y = np.load(INPUT / "target.npy")
    n_test = len(pd.read_parquet(INPUT / "test.parquet"))
    if {binary!r}:
        row = np.array([y.mean()])
    elif {multiclass!r}:
        row = np.bincount(y.astype(int), minlength={n_outputs}) / len(y)
    else:
        row = y.reshape(len(y), -1).mean(axis=0)
    OUTPUT.mkdir(exist_ok=True)
    np.save(OUTPUT / "test.npy", np.tile(row, (n_test, 1)))


if __name__ == "__main__":
    main()
'''


def trivial_script(spec: TaskSpec) -> str:
    """The prior as solution.py (it writes the submission too)."""
    return standalone_script(trivial_body(spec))


def trivial_body(spec: TaskSpec) -> str:
    """The prior as a solution script the harness runs: predictions only."""
    return _TRIVIAL.format(
        input=INPUT_DIR,
        output=OUTPUT_DIR,
        marker=BLOCK_MARKER,
        binary=spec.problem_type is ProblemType.BINARY,
        multiclass=spec.problem_type is ProblemType.MULTICLASS,
        n_outputs=spec.n_outputs,
    )
