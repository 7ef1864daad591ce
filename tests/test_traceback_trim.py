"""Finding the exception that ended a script in its stderr, and trimming its traceback."""

from __future__ import annotations

import traceback

import pytest

from mlestar.execution.traceback_trim import exception_name, is_library_path, parse_traceback, trim_traceback

SITE = "/venv/lib/python3.11/site-packages"

SIMPLE = """\
Traceback (most recent call last):
  File "/run/attempts/3/solution.py", line 12, in <module>
    y = train["target"]
        ~~~~~^^^^^^^^^^
KeyError: 'target'
"""

PANDAS_CHAIN = f"""\
loading data
Traceback (most recent call last):
  File "{SITE}/pandas/core/indexes/base.py", line 3805, in get_loc
    return self._engine.get_loc(casted_key)
  File "index.pyx", line 167, in pandas._libs.index.IndexEngine.get_loc
KeyError: 'price'

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/run/solution.py", line 30, in <module>
    main()
  File "/run/solution.py", line 22, in main
    y = df["price"]
  File "{SITE}/pandas/core/frame.py", line 4102, in __getitem__
    indexer = self.columns.get_loc(key)
  File "{SITE}/pandas/core/indexes/base.py", line 3812, in get_loc
    raise KeyError(key) from err
KeyError: 'price'
"""

HEADERLESS_SYNTAX = """\
  File "/run/solution.py", line 4
    x = (1,
        ^
SyntaxError: '(' was never closed
"""

QUALIFIED = f"""\
Traceback (most recent call last):
  File "/run/solution.py", line 3, in <module>
    pd.read_csv("input/train.csv")
  File "{SITE}/pandas/io/parsers/readers.py", line 1026, in read_csv
    return _read(filepath_or_buffer, kwds)
pandas.errors.ParserError: Error tokenizing data. C error: Expected 3 fields in line 5, saw 4
"""

MULTILINE_MESSAGE = """\
Traceback (most recent call last):
  File "/run/solution.py", line 3, in <module>
    check(x)
ValueError: shapes do not match:
  left (10, 3)
  right (10, 4)
"""

RECURSION = """\
Traceback (most recent call last):
  File "/run/solution.py", line 4, in <module>
    f(0)
  File "/run/solution.py", line 2, in f
    return f(n + 1)
           ^^^^^^^^
  [Previous line repeated 996 more times]
RecursionError: maximum recursion depth exceeded
"""

GROUP = """\
  + Exception Group Traceback (most recent call last):
  |   File "/run/solution.py", line 1, in <module>
  |     raise ExceptionGroup("many", [ValueError("a")])
  | ExceptionGroup: many (1 sub-exception)
  +-+---------------- 1 ----------------
    | ValueError: a
    +------------------------------------
"""

NO_MESSAGE = """\
Traceback (most recent call last):
  File "/run/solution.py", line 2, in <module>
    next(iter([]))
StopIteration
"""


@pytest.mark.parametrize(
    ("text", "name"),
    [
        (SIMPLE, "KeyError"),
        (PANDAS_CHAIN, "KeyError"),
        (HEADERLESS_SYNTAX, "SyntaxError"),
        (QUALIFIED, "ParserError"),
        (MULTILINE_MESSAGE, "ValueError"),
        (RECURSION, "RecursionError"),
        (GROUP, "ExceptionGroup"),
        (NO_MESSAGE, "StopIteration"),
        ("epoch 1 loss 0.3\nepoch 2 loss 0.2\nDone\n", None),
        ("", None),
        ("Warning: something\n" + SIMPLE.replace("KeyError", "ModuleNotFoundError"), "ModuleNotFoundError"),
        (SIMPLE + "Exception ignored in atexit callback\n", "KeyError"),
    ],
)
def test_exception_name(text: str, name: str | None) -> None:
    assert exception_name(text) == name


@pytest.mark.parametrize(
    ("path", "library"),
    [
        (f"{SITE}/pandas/core/frame.py", True),
        ("/usr/lib/python3/dist-packages/numpy/core.py", True),
        ("/root/.pyenv/versions/3.11.7/lib/python3.11/json/decoder.py", True),
        ("<frozen runpy>", True),
        ("/run/attempts/3/solution.py", False),
        ("/home/me/project/lib/helpers.py", False),
    ],
)
def test_is_library_path(path: str, library: bool) -> None:
    assert is_library_path(path) is library


def test_short_traceback_is_kept_whole() -> None:
    assert trim_traceback(SIMPLE) == SIMPLE.rstrip("\n")


def test_chain_keeps_the_final_traceback_and_names_the_earlier_error() -> None:
    trimmed = trim_traceback(PANDAS_CHAIN)
    assert trimmed is not None
    assert trimmed.startswith("[earlier in the chain: KeyError: 'price']\nTraceback (most recent call last):")
    assert "loading data" not in trimmed and "index.pyx" not in trimmed
    assert 'solution.py", line 22, in main' in trimmed
    assert trimmed.endswith("raise KeyError(key) from err\nKeyError: 'price'")


def test_library_frames_in_the_middle_are_folded() -> None:
    library = [f'  File "{SITE}/lib{i}/core.py", line {i}, in call{i}\n    step{i}()' for i in range(20)]
    script = '  File "/run/solution.py", line 9, in <module>\n    model.fit(X, y)'
    text = "\n".join(["Traceback (most recent call last):", script, *library, "ValueError: bad input"])
    trimmed = trim_traceback(text)
    assert trimmed is not None
    assert script in trimmed
    assert "  ... 17 library frames omitted ..." in trimmed
    for i in (17, 18, 19):  # the frames nearest the error stay
        assert f"in call{i}" in trimmed
    assert "in call0\n" not in trimmed and "in call16\n" not in trimmed
    assert trimmed.endswith("ValueError: bad input")


def test_script_frames_between_library_frames_are_kept() -> None:
    lib = f'  File "{SITE}/sklearn/base.py", line 1, in fit\n    self._fit()'
    own = '  File "/run/solution.py", line 40, in score\n    return metric(y, p)'
    frames = [own, lib, lib, own, lib, lib, lib, lib, lib]
    text = "\n".join(["Traceback (most recent call last):", *frames, "TypeError: x"])
    trimmed = trim_traceback(text)
    assert trimmed is not None
    assert trimmed.count("line 40, in score") == 2
    assert trimmed.count("  ... 2 library frames omitted ...") == 2
    assert trimmed.count("in fit") == 3


def test_a_lone_library_frame_is_not_folded() -> None:
    lib = f'  File "{SITE}/sklearn/base.py", line 1, in fit\n    self._fit()'
    own = '  File "/run/solution.py", line 40, in score\n    return metric(y, p)'
    text = "\n".join(["Traceback (most recent call last):", own, lib, own, lib, lib, lib, "TypeError: x"])
    assert trim_traceback(text) == text


def test_long_traceback_fits_and_keeps_the_last_frames() -> None:
    frames = [f'  File "/run/solution.py", line {i}, in f{i}\n    f{i + 1}()' for i in range(500)]
    text = "\n".join(["Traceback (most recent call last):", *frames, "RuntimeError: deep"])
    trimmed = trim_traceback(text, max_chars=3000)
    assert trimmed is not None
    assert len(trimmed) <= 3000
    assert trimmed.startswith("Traceback (most recent call last):\n  ... ")
    assert "older entries omitted" in trimmed
    assert "in f499\n" in trimmed and trimmed.endswith("RuntimeError: deep")


def test_huge_message_is_capped() -> None:
    text = SIMPLE.replace("KeyError: 'target'", "ValueError: " + "v" * 10_000)
    trimmed = trim_traceback(text, max_chars=3000)
    assert trimmed is not None and len(trimmed) <= 3000


def test_headerless_syntax_error_is_kept_as_printed() -> None:
    assert trim_traceback(HEADERLESS_SYNTAX) == HEADERLESS_SYNTAX.rstrip("\n")


def test_no_traceback_gives_none() -> None:
    assert trim_traceback("all good\n") is None
    assert parse_traceback("") is None


def test_a_real_python_traceback_round_trips() -> None:
    def inner() -> None:
        table: dict[str, int] = {}
        table["missing"]

    try:
        inner()
    except KeyError as exc:
        text = "".join(traceback.format_exception(exc))
    parsed = parse_traceback(text)
    assert parsed is not None and parsed.exception == "KeyError"
    assert [frame.library for frame in parsed.frames] == [False, False]
    assert parsed.message == ("KeyError: 'missing'",)
