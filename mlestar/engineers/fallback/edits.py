"""Generic edits of a named block: turn its model settings one well-known step at a time.

A move is a rule of thumb any practitioner tries (more rounds at a lower learning rate,
stronger or weaker regularisation, shallower or deeper trees, row and column sampling). It is
applied to every group of settings it concerns in the block: one model class's parameters,
or the block's loose settings (parameter dictionaries and constants) taken together.

A plan names its move ("Generic edit (stronger-regularisation) of block model: ..."), so the
edit is carried out again from the plan alone, on the same script, with the same result.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from mlestar import blocks, syntax
from mlestar.engineers.fallback.knobs import Knob, find_knobs

Change = Callable[[Knob], float | None]
"""A knob's new value under a move, or None to leave it."""


def _times(factor: float, floor: float = 0.0, ceiling: float = float("inf")) -> Change:
    return lambda k: min(ceiling, max(floor, k.value * factor))


def _stronger(k: Knob) -> float | None:
    return k.value * 3 if k.value > 0 else 1.0  # a penalty that was off starts at 1.0


def _sampled(k: Knob) -> float | None:
    if k.kind == "bagging_freq":
        return 1 if k.value == 0 else None
    return 0.8 if k.value >= 0.99 else None


@dataclass(frozen=True)
class Move:
    name: str
    why: str
    changes: dict[str, Change]
    """Knob kind -> its change."""
    families: tuple[str, ...] = ()
    """Only groups of these model families ("" for loose settings); empty: any family."""
    needs: tuple[str, ...] = ()
    """Kinds a group must have all of, for the move to touch it."""
    avoids: tuple[str, ...] = ()
    """Kinds a group must have none of."""


MOVES: tuple[Move, ...] = (
    Move("more-rounds-lower-rate", "twice the rounds at half the learning rate: smoother fits",
         {"rounds": _times(2), "rate": _times(0.5)}, needs=("rounds", "rate")),
    Move("stronger-regularisation", "three times the penalty, larger leaves: less overfitting",
         {"reg": _stronger, "inv_reg": _times(1 / 3), "min_leaf": _times(2, 1)}),
    Move("weaker-regularisation", "a third of the penalty, smaller leaves: more capacity",
         {"reg": _times(1 / 3), "inv_reg": _times(3), "min_leaf": _times(0.5, 1)}),
    Move("row-and-column-sampling", "fit each tree on 80% of the rows and columns: less variance",
         {"subsample": _sampled, "bagging_freq": _sampled}, families=("boosting", "")),
    Move("shallower-trees", "shallower trees: less overfitting",
         {"depth": lambda k: max(2, k.value - 2), "leaves": _times(0.5, 4)}),
    Move("deeper-trees", "deeper trees: more interactions",
         {"depth": lambda k: k.value + 2, "leaves": _times(2)}),
    Move("more-trees", "twice the trees: a steadier average", {"rounds": _times(2)},
         families=("forest", ""), avoids=("rate",)),
    Move("more-neighbours", "twice the neighbours: smoother", {"neighbors": _times(2)}),
    Move("fewer-neighbours", "half the neighbours: more local", {"neighbors": _times(0.5, 1)}),
)  # fmt: skip
BY_NAME = {m.name: m for m in MOVES}
ABLATIONS: tuple[Move, ...] = (
    Move("fewer-rounds", "a quarter of the rounds", {"rounds": _times(0.25, 1)}),
    Move("weak-penalty", "a tenth of the penalty", {"reg": _times(0.1), "inv_reg": _times(10)}),
)
"""What an ablation takes away from a block: most of its rounds, or most of its penalty."""
SPEED_UP = Move("half-rounds", "half the rounds, to finish in time", {"rounds": _times(0.5, 1)})

_PLAN = re.compile(r"Generic edit \((?P<move>[\w-]+)\) of block (?P<block>[\w-]+)")


@dataclass(frozen=True)
class Edit:
    move: Move
    block: str
    body: str
    """The new body of the block."""
    changed: tuple[str, ...]
    """One line per setting turned: "LGBMRegressor n_estimators 100 -> 200"."""

    @property
    def plan(self) -> str:
        return f"Generic edit ({self.move.name}) of block {self.block}: {self.move.why}; " + ", ".join(
            self.changed
        )


def move_of(plan: str) -> tuple[Move, str] | None:
    """The move and block a generic plan names; None for any other plan."""
    found = _PLAN.search(plan)
    if found is None or found.group("move") not in BY_NAME:
        return None
    return BY_NAME[found.group("move")], found.group("block")


def edit(script: str, block: str, move: Move) -> Edit | None:
    """The block with the move applied; None when the move changes nothing there."""
    replacements: dict[int, list[tuple[int, str]]] = {}
    changed: list[str] = []
    for group in _groups(find_knobs(script, block)):
        if not _applies(move, group):
            continue
        for knob in group:
            new = _new_value(move, knob)
            if new is None:
                continue
            text = _literal(new, knob.integer)
            replacements.setdefault(knob.start, []).append(
                (knob.end, text if knob.explicit else f"{knob.name}={text}")
            )
            changed.append(
                f"{knob.owner.split('@')[0]} {knob.name} {_literal(knob.value, knob.integer)} -> {text}"
            )
    if not changed:
        return None
    new_script = _apply(script, replacements)
    syntax.parse(new_script)  # a generic edit keeps the script valid Python, or it is a bug here
    return Edit(move, block, blocks.get_block(new_script, block), tuple(changed))


def first_edit(
    script: str, block: str, moves: tuple[Move, ...], skip: frozenset[str] | set[str] = frozenset()
) -> Edit | None:
    for move in moves:
        if move.name not in skip:
            found = edit(script, block, move)
            if found is not None:
                return found
    return None


def _groups(knobs: list[Knob]) -> list[list[Knob]]:
    """One group per model class call; the loose settings (dictionaries, constants) as one."""
    groups: dict[str, list[Knob]] = {}
    for k in knobs:
        groups.setdefault(k.owner if k.family else "", []).append(k)
    return list(groups.values())


def _applies(move: Move, group: list[Knob]) -> bool:
    family = group[0].family
    if move.families and family not in move.families:
        return False
    kinds = {k.kind for k in group}
    return all(n in kinds for n in move.needs) and not any(n in kinds for n in move.avoids)


def _new_value(move: Move, knob: Knob) -> float | None:
    change = move.changes.get(knob.kind)
    new = change(knob) if change else None
    if new is None:
        return None
    new = float(round(new)) if knob.integer else new
    return None if new == knob.value else new


def _literal(value: float, integer: bool) -> str:
    return (
        str(int(round(value)))
        if integer
        else f"{value:.6g}"
        if "e" in f"{value:.6g}"
        else repr(round(value, 8))
    )


def _apply(script: str, replacements: dict[int, list[tuple[int, str]]]) -> str:
    """Replace values and insert keywords, from the end of the script backwards."""
    out = script
    for start in sorted(replacements, reverse=True):
        parts = replacements[start]
        end = parts[0][0]
        if end == start:  # keyword insertions before a call's closing parenthesis
            out = out[:start] + _joined(out[:start], [text for _, text in parts]) + out[start:]
        else:
            out = out[:start] + parts[0][1] + out[end:]
    return out


def _joined(before: str, keywords: list[str]) -> str:
    tail = before.rstrip()
    text = ", ".join(keywords)
    if tail.endswith("("):
        return text
    return f" {text}" if tail.endswith(",") else f", {text}"
