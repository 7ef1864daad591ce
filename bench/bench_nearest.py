"""Answers by nearest rows on a generated task: out-of-fold and test scores of each nearest
candidate against the most frequent training answer (the `popular` baseline), on the shapes task
of tests/test_nearest.py (a square, a cross or a bar drawn; the answer the shape's identifier with
a random tail). Prints a table; nothing is asserted.

    PYTHONPATH=$PWD python bench/bench_nearest.py [--train 120] [--test 30]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from mlestar.engineers.builtin.engineer import BuiltinEngineer
from mlestar.execution.local import LocalExecutor
from mlestar.metrics import get_metric
from tests.test_nearest import _prepared, _run, shapes_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=120)
    parser.add_argument("--test", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ctx, data = _prepared(shapes_task(root / "task", args.train, args.test), root)
        metric = get_metric(ctx.spec.metric)
        y = np.load(data / "target.npy", allow_pickle=False).reshape(-1, 1)
        truth = pd.read_csv(root / "answers.csv")[["InChI"]].to_numpy().astype(str)
        popular = pd.Series(y[:, 0]).mode().iloc[0]
        print(f"| answer | out of fold | test |  ({metric.title}, lower is better: {metric.lower_is_better})")
        print("|---|---|---|")
        print(f"| popular | {metric.score(y, np.full_like(y, popular)):.3f} | "
              f"{metric.score(truth, np.full_like(truth, popular)):.3f} |")  # fmt: skip
        engineer = BuiltinEngineer()
        with LocalExecutor() as executor:
            for candidate in engineer.retrieve(ctx, 5):
                script = engineer.draft(ctx, candidate)
                oof, test = _run(ctx, data, script, root / candidate.name, executor)
                print(f"| {candidate.name} | {metric.score(y, oof):.3f} | {metric.score(truth, test):.3f} |")


if __name__ == "__main__":
    main()
