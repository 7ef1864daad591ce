"""The stacker's meta-model fits with one BLAS thread: its products are tiny, and BLAS threads
woken for each of them spin against the machine's other work (33 s against 0.8 s measured)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_info

from mlestar.search import combine


def test_the_stacker_fits_its_meta_model_on_one_blas_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    fit = LogisticRegression.fit

    def spy(self: LogisticRegression, x: np.ndarray, y: np.ndarray) -> LogisticRegression:
        seen.extend(info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas")
        return fit(self, x, y)

    monkeypatch.setattr(LogisticRegression, "fit", spy)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 60)
    oofs = [rng.dirichlet(np.ones(3), 60) for _ in range(2)]
    tests = [rng.dirichlet(np.ones(3), 10) for _ in range(2)]
    used = np.ones(60, dtype=bool)
    _, test = combine.stack(oofs, tests, y, used, used, classification=True, multiclass=True)
    assert test.shape == (10, 3)
    assert seen and set(seen) == {1}
