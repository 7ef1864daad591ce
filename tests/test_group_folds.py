"""Rows grouped by a column keep whole groups in one fold, and numbering the groups as integers
(what prepare hands the splitter, fast on millions of rows) gives exactly the folds the groups'
spelled label keys give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlestar.prepare import group_codes, label_key
from mlestar.splits import make_folds
from mlestar.task.spec import ProblemType

_RNG = np.random.default_rng(0)
_GROUPS = {
    "text": pd.Series(_RNG.integers(0, 40, 3000)).astype(str),
    "floats": pd.Series(_RNG.integers(0, 40, 3000)).astype(float),
    "missing": pd.Series(np.where(_RNG.random(3000) < 0.1, None, _RNG.integers(0, 30, 3000).astype(str))),
    "one label spelled several ways": pd.Series(
        _RNG.choice(
            np.array(["a", "1", "1.0", 1.0, True, "True", "b", "c", 2.0, "2", "d", "e"], dtype=object), 3000
        )
    ),
}


@pytest.mark.parametrize("name", list(_GROUPS))
def test_integer_groups_make_the_folds_the_label_keys_make(name: str) -> None:
    values = _GROUPS[name]
    y = _RNG.random(len(values))
    by_key = make_folds(y, ProblemType.REGRESSION, 5, 7, values.map(label_key).to_numpy())
    by_code = make_folds(y, ProblemType.REGRESSION, 5, 7, group_codes(values))
    assert np.array_equal(by_key, by_code)
    keys = values.map(label_key)
    assert (pd.Series(by_code).groupby(keys.to_numpy()).nunique() == 1).all()  # a group never splits
