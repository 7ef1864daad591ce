"""Read-only questions the built-in engineer asks of a task profile (see mlestar.task.profile)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

CATEGORY_MAX_UNIQUE = 50
"""A part of a structured string with more values than this is a key (for counts), not a category."""


@dataclass(frozen=True)
class ProfileView:
    profile: dict[str, Any]

    @property
    def columns(self) -> dict[str, dict[str, Any]]:
        return dict(self.profile.get("columns", {}))

    @property
    def features(self) -> list[str]:
        return list(self.profile.get("features", []))

    @property
    def problem_type(self) -> str:
        return str(self.profile.get("problem_type", "binary"))

    @property
    def metric(self) -> str:
        return str(self.profile.get("metric", "")).lower()

    @property
    def n_train(self) -> int:
        return int(self.profile.get("n_train", 0))

    @property
    def n_outputs(self) -> int:
        return int(self.profile.get("n_outputs", 1))

    @property
    def id_column(self) -> str | None:
        return self.profile.get("id_column")

    @property
    def is_regression(self) -> bool:
        return "regression" in self.problem_type

    def kind(self, column: str) -> str:
        return str(self.columns.get(column, {}).get("kind", "categorical"))

    def of_kind(self, *kinds: str) -> list[str]:
        return [c for c in self.features if self.kind(c) in kinds]

    @property
    def numeric(self) -> list[str]:
        return self.of_kind("numeric")

    @property
    def boolean(self) -> list[str]:
        return self.of_kind("boolean")

    @property
    def text(self) -> list[str]:
        return self.of_kind("text")

    @property
    def dates(self) -> list[str]:
        return self.of_kind("date")

    @property
    def structured(self) -> list[str]:
        return self.of_kind("structured")

    @property
    def categorical(self) -> list[str]:
        return self.of_kind("categorical")

    @property
    def strings(self) -> list[str]:
        """Columns kept as strings: every kind but numbers, flags and free text."""
        return [c for c in self.features if self.kind(c) not in ("numeric", "boolean", "text")]

    @property
    def all_numeric(self) -> bool:
        return not (self.boolean or self.strings or self.text)

    @property
    def numbers_by_rule(self) -> bool:
        """The inputs are every column test shares with train but the id, all numbers, no row files:
        a script names them by that rule instead of listing them."""
        train_only = set(self.profile.get("train_only", []))
        shared = [c for c in self.columns if c not in train_only and c != self.id_column]
        return self.all_numeric and not self.files and self.features != [] and self.features == shared

    @property
    def plain_numbers(self) -> bool:
        """Every feature table this task can get is numbers under plain names (no categories, no text,
        no codes turned into categories, no per-row files): tree models can read it as it is."""
        names_plain = all(c.replace("_", "").isalnum() and c.isascii() for c in self.features)
        return (
            not (self.strings or self.text or self.files or self.code_columns())
            and names_plain
            and self.features != []
        )

    @property
    def has_tabular(self) -> bool:
        """Non-text columns, or per-row media files (their features are numeric columns)."""
        media = any(
            f.get("kind") in ("image", "audio", "signal") or f.get("per") == "pixel" for f in self.files
        )
        return media or bool(set(self.of_kind("numeric", "boolean", "categorical", "structured", "date")))

    @property
    def files(self) -> list[dict[str, Any]]:
        return [f for f in self.profile.get("files", []) if f.get("train")]

    def parts(self, column: str) -> list[dict[str, Any]]:
        return list(self.columns.get(column, {}).get("parts", []))

    def part_kinds(self, column: str) -> tuple[str, ...]:
        kinds = []
        for part in self.parts(column):
            if part["kind"] == "numeric":
                kinds.append("number")
            else:
                kinds.append("category" if part["n_unique"] <= CATEGORY_MAX_UNIQUE else "key")
        return tuple(kinds)

    def structured_spec(self) -> dict[str, tuple[str, tuple[str, ...]]]:
        return {c: (self.columns[c]["separator"], self.part_kinds(c)) for c in self.structured}

    def id_parts(self) -> tuple[str | None, str | None, int, tuple[int, ...]]:
        """(id column, separator, number of parts, numeric parts with few values) of a structured id."""
        column = self.id_column
        info = self.columns.get(column or "", {})
        parts = info.get("parts", [])
        if not column or "separator" not in info or info.get("kind") == "date":
            return column, None, 0, ()  # a date-time id is read by the date families
        numeric = tuple(
            i for i, p in enumerate(parts) if p["kind"] == "numeric" and p["n_unique"] <= CATEGORY_MAX_UNIQUE
        )
        return column, info["separator"], len(parts), numeric

    def group_keys(self) -> list[tuple[str, str | None, int | None]]:
        """Keys rows can share: id prefixes, key parts of structured strings, repeated codes."""
        keys: list[tuple[str, str | None, int | None]] = []
        n = max(self.n_train, 1)
        column, separator, n_parts, _ = self.id_parts()
        if column and separator and n_parts >= 2 and self.parts(column)[0]["n_unique"] < 0.9 * n:
            keys.append((column, separator, 0))
        for c in self.structured:
            info = self.columns[c]
            if info["n_unique"] < 0.9 * n:
                keys.append((c, None, None))
            for i, kind in enumerate(self.part_kinds(c)):
                if kind == "key" and self.parts(c)[i]["n_unique"] < 0.9 * n:
                    keys.append((c, info["separator"], i))
        for c in self.categorical:
            if CATEGORY_MAX_UNIQUE < self.columns[c]["n_unique"] < 0.9 * n:
                keys.append((c, None, None))
        return keys

    def frequency_columns(self) -> list[str]:
        return [c for c in self.categorical if self.columns[c]["n_unique"] >= 3]

    def amounts(self) -> list[str]:
        """Numbers that look like amounts: never negative, mostly zero, long right tail."""
        return [
            c
            for c in self.numeric
            if self.columns[c].get("min", -1) >= 0
            and self.columns[c].get("zero_share", 0) >= 0.3
            and self.columns[c].get("skew", 0) >= 2
        ]

    def numeric_groups(self) -> dict[str, list[str]]:
        """Numeric columns whose names differ in exactly one underscore-separated word."""
        groups: dict[tuple[int, tuple[str, ...]], list[str]] = defaultdict(list)
        for c in self.numeric:
            words = c.lower().split("_")
            for i in range(len(words)):
                if len(words) > 1:
                    groups[(i, tuple(words[:i] + words[i + 1 :]))].append(c)
        found: dict[str, list[str]] = {}
        used: set[str] = set()
        for (i, rest), columns in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            members = [c for c in columns if c not in used]
            if 2 <= len(members) <= 12:
                found["_".join(rest[:i] + ("x",) + rest[i:])] = members
                used.update(members)
        return dict(sorted(found.items()))

    def code_columns(self) -> list[str]:
        return [
            c
            for c in self.numeric
            if self.columns[c].get("integer") and 2 < self.columns[c]["n_unique"] <= 12
        ]

    def lag_columns(self) -> list[str]:
        """Numbers that vary from row to row (not codes), at most eight, in table order: their values
        just before and after a row in time can be features."""
        codes = set(self.code_columns())
        varied = [c for c in self.numeric if c not in codes and self.columns[c].get("n_unique", 0) > 12]
        kept = set(sorted(varied, key=lambda c: -self.columns[c]["n_unique"])[:8])
        return [c for c in varied if c in kept]

    def time_groups(self) -> list[str]:
        """Categories that look like entities observed over time (10 or more of them, 10 or more rows
        each): rows of one entity form one series."""
        n = max(self.n_train, 1)
        return [c for c in self.categorical if 10 <= self.columns[c]["n_unique"] <= n / 10]

    @property
    def lists(self) -> list[str]:
        """Columns whose cells are lists (stored as JSON text in the run's tables)."""
        return self.of_kind("list")

    @property
    def text_pairs(self) -> list[tuple[str, str]]:
        """Columns compared row by row (a data fact the engineer adds; see data_facts)."""
        return [(a, b) for a, b in self.profile.get("text_pairs", [])]

    @property
    def time_interleaved(self) -> bool:
        """Test rows sit between train rows in time (a data fact the engineer adds; see data_facts)."""
        return bool(self.profile.get("time_interleaved", False))

    @property
    def target_skew(self) -> float:
        skews = self.profile.get("target", {}).get("skew", [])
        return max((abs(s) for s in skews), default=0.0)

    @property
    def target_min(self) -> float:
        mins = self.profile.get("target", {}).get("min", [])
        return min(mins, default=-1.0)

    @property
    def class_balance(self) -> float:
        return float(self.profile.get("target", {}).get("balance", 0.5))
