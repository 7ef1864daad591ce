"""Score: a metric's value that carries its direction, so nothing compares scores by hand.

In the spirit of AIDE's MetricValue: `a.beats(b)` asks "is a strictly better?" whatever the
metric's direction, and `key` sorts best first. A missing (None) or NaN score is the worst.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Score:
    value: float | None
    lower_is_better: bool

    @property
    def missing(self) -> bool:
        return self.value is None or math.isnan(self.value)

    def beats(self, other: Score | float | None) -> bool:
        """Strictly better than `other` (a Score, or a bare value of the same metric)."""
        if self.missing:
            return False
        theirs = other.value if isinstance(other, Score) else other
        if theirs is None or math.isnan(theirs):
            return True
        assert self.value is not None
        return self.value < theirs if self.lower_is_better else self.value > theirs

    @property
    def key(self) -> float:
        """Sorting by it puts the best first, missing scores last."""
        if self.missing:
            return math.inf
        assert self.value is not None
        return self.value if self.lower_is_better else -self.value


def best_first(items: Iterable[T], score: Callable[[T], Score], tie: Callable[[T], object]) -> list[T]:
    """Items sorted best score first; equal scores in the order of `tie`."""
    return sorted(items, key=lambda item: (score(item).key, tie(item)))
