"""How often `mlestar monitor` flags drift on data from the training distribution, and how often
it finds a real shift: one table, seeded.

    python bench/drift_false_positives.py [--trials 200]

The reference is 2,000 rows of five columns (normal, small integers, a category, text lengths,
exponential); each trial draws a new window from the same distribution (false positives) or a
shifted one (detections) and runs the monitor's drift tests with their defaults (alpha 0.05
family-wise with Bonferroni, PSI >= 0.1).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlestar.monitoring.drift import drift_of  # noqa: E402
from mlestar.monitoring.schema import describe_column  # noqa: E402


def window(rng: np.random.Generator, n: int, shift: float) -> pd.DataFrame:
    mix = np.array([0.5, 0.3, 0.2]) * (1 - shift) + np.array([0.2, 0.3, 0.5]) * shift
    return pd.DataFrame(
        {
            "normal": rng.normal(shift, 1.0, n),
            "small_int": rng.integers(0, 5, n),
            "category": rng.choice(["a", "b", "c"], n, p=mix),
            "text": [" ".join(["w"] * int(k)) for k in rng.poisson(8, n)],
            "exponential": rng.exponential(1.0 + shift, n),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    ref = window(rng, 2000, 0.0)
    schema = {c: describe_column(c, ref[c]) for c in ref.columns}
    print(f"{'rows':>6} {'false alarms':>13} {'detected (shift 0.5)':>21} {'detected (shift 1)':>19}")
    for n in (50, 200, 1000, 5000):
        rates = []
        for shift in (0.0, 0.5, 1.0):
            hits = 0
            for _ in range(args.trials):
                new = window(rng, n, shift)
                hits += any(d.drifted for d in drift_of([(schema[c], new[c]) for c in new.columns]))
            rates.append(hits / args.trials)
        print(f"{n:>6} {rates[0]:>13.1%} {rates[1]:>21.1%} {rates[2]:>19.1%}")


if __name__ == "__main__":
    main()
