"""Memoised engineer decisions: asked once, journaled, and read back on resume.

Resume replays the search from the top: attempts already in the journal are not run again, and
decisions already in the journal (retrieved models, chosen blocks, plans) are not asked again, so a
resumed run takes exactly the path an uninterrupted one would.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from mlestar.engineers import base
from mlestar.journal import Journal
from mlestar.journal.events import Memoised

T = TypeVar("T")

_TYPES: dict[str, type] = {
    "Candidate": base.Candidate,
    "Variant": base.Variant,
    "BlockChoice": base.BlockChoice,
    "EnsemblePlan": base.EnsemblePlan,
    "LeakageReport": base.LeakageReport,
}


def encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"__type__": type(value).__name__, **fields}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    if isinstance(value, dict) and "__type__" in value:
        cls = _TYPES[value["__type__"]]
        fields = {k: decode(v) for k, v in value.items() if k != "__type__"}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


class Memo:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.values = {e.key: e.value for e in journal.find(Memoised)}

    def __call__(self, key: str, ask: Callable[[], T]) -> T:
        if key in self.values:
            return decode(self.values[key])  # type: ignore[no-any-return]
        value = ask()
        encoded = encode(value)
        self.journal.record(Memoised(key=key, value=encoded))
        self.values[key] = encoded
        return value
