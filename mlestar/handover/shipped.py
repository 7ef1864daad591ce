"""The code solution.py ships in solution_parts/: the run's own code, not a second copy of it.

submission.py  the functions of handover/submission.py that turn test predictions into the
               submission file (to_submission_frame and every name it uses, found by reading the
               module), with this task's layout written in as literals
combine.py     search/combine.py as it is, for an ensemble's driver

So a change to how the run writes submissions or combines members reaches solution.py by itself,
and the harness and solution.py always agree byte for byte.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import shutil
from pathlib import Path
from typing import Any

from mlestar import syntax
from mlestar.contract import FILES_LINK, INPUT_DIR, OUTPUT_DIR, TEST_FILE, TEST_PRED_FILE
from mlestar.handover import submission
from mlestar.search import combine
from mlestar.task.spec import ProblemType, TaskSpec

SUBMISSION_MODULE = "submission.py"
COMBINE_MODULE = "combine.py"
ENTRY = "to_submission_frame"
WRITER = "write_csv"

_MODULE = '''"""How the run wrote its submission, for solution.py: mlestar's own code (the functions of
mlestar/handover/submission.py that map test predictions to the submission file), with this
task's layout as the run inferred it. Written by mlestar.
"""

from __future__ import annotations

import csv
import io
from enum import StrEnum
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

SUBMISSION_FILE = "submission.csv"
SAMPLE_SUBMISSION = {sample!r}  # in the task folder, seen through ./{input}/{files}


{problem_type}


TaskSpec = SimpleNamespace
"""The code below reads these fields of the run's TaskSpec."""
TASK = TaskSpec(
{task}
)
"""The task's layout, as the run inferred it."""


{code}


def read_sample(name: str) -> pd.DataFrame:
    path = "{input}/{files}/" + name
    if name.endswith(".parquet"):
        return pd.read_parquet(path)
    if name.endswith((".json", ".jsonl")):
        return pd.read_json(path, lines=name.endswith(".jsonl"), dtype=False)
    sep = "\\t" if ".tsv" in name else ","
    try:
        return pd.read_csv(path, sep=sep, encoding="utf-8-sig", low_memory=False)
    except UnicodeDecodeError:
        return pd.read_csv(path, sep=sep, encoding="latin-1", low_memory=False)


def write_submission() -> None:
    """./{output}/{test_pred} as the submission file, shaped exactly like the sample submission."""
    test = pd.read_parquet("{input}/{test_file}")
    sample = read_sample(SAMPLE_SUBMISSION) if SAMPLE_SUBMISSION else None
    frame = {entry}(TASK, np.load("{output}/{test_pred}"), test, sample)
    {writer}(frame, SUBMISSION_FILE)
'''


def submission_module(spec: TaskSpec) -> str:
    code, read = mapping_code()
    sample = None
    if spec.sample_submission_path is not None:
        sample = str(spec.sample_submission_path.relative_to(spec.task_dir))
    return _MODULE.format(
        sample=sample,
        problem_type=inspect.getsource(ProblemType).rstrip(),
        task=_task_fields(spec, read),
        code=code,
        entry=ENTRY,
        writer=WRITER,
        input=INPUT_DIR,
        output=OUTPUT_DIR,
        files=FILES_LINK,
        test_file=TEST_FILE,
        test_pred=TEST_PRED_FILE,
    )


@functools.cache
def mapping_code() -> tuple[str, frozenset[str]]:
    """(the source of to_submission_frame and every top-level name of submission.py it uses, in
    the module's order; the attributes of `spec` that code reads). Computed once per process: the
    module's source does not change, and segmenting it costs about 0.1 s of CPU (ast.get_source_segment
    splits the whole 20 kB source again for each of the ~20 statements)."""
    source = inspect.getsource(submission)
    tree = syntax.parse(source)
    named = {name: s for s in tree.body for name in _defined(s)}
    needed: set[str] = set()
    todo = [ENTRY, WRITER]
    while todo:
        name = todo.pop()
        if name in needed or name not in named:
            continue
        needed.add(name)
        todo += [n.id for n in ast.walk(named[name]) if isinstance(n, ast.Name)]
    chosen = [s for s in tree.body if set(_defined(s)) & needed]
    read = frozenset(
        n.attr
        for s in chosen
        for n in ast.walk(s)
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "spec"
    )
    segments = [ast.get_source_segment(source, s) or "" for s in chosen]
    return "\n\n\n".join(segments), read


def _defined(statement: ast.stmt) -> list[str]:
    if isinstance(statement, ast.FunctionDef | ast.ClassDef):
        return [statement.name]
    if isinstance(statement, ast.Assign):
        return [t.id for t in statement.targets if isinstance(t, ast.Name)]
    return []


def _task_fields(spec: TaskSpec, read: frozenset[str]) -> str:
    lines = []
    for name in sorted(read):
        value = getattr(spec, name)
        if name == "submission":
            layout = "".join(f"        {k}={_literal(v)},\n" for k, v in dataclasses.asdict(value).items())
            lines.append(f"    submission=SimpleNamespace(\n{layout}    ),")
        else:
            lines.append(f"    {name}={_literal(value)},")
    return "\n".join(lines)


def _literal(value: Any) -> str:
    if isinstance(value, ProblemType):
        return f"ProblemType({value.value!r})"
    if isinstance(value, list):
        return repr(tuple(value))
    return repr(value)


def write_parts(parts_dir: Path, spec: TaskSpec, members: dict[str, str], with_combine: bool = True) -> None:
    """solution_parts/: the members' scripts (an ensemble's, or a script solution.py runs in its
    own folder), and the code solution.py ships (combine.py for an ensemble, unless `with_combine` is off).
    The folder is emptied first: a resumed run's hand-over must not ship an earlier one's members."""
    shutil.rmtree(parts_dir, ignore_errors=True)
    parts_dir.mkdir(parents=True)
    for name, code in members.items():
        (parts_dir / f"{name}.py").write_text(code)
    if members and with_combine:
        (parts_dir / COMBINE_MODULE).write_text(Path(combine.__file__).read_text())
    (parts_dir / SUBMISSION_MODULE).write_text(submission_module(spec))
