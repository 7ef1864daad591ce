"""Feature families: generic feature engineering the built-in engineer can write into a script.

Each family is one function `add_<name>(out, frame, maker) -> out` in the script's features
block: `out` is the model-input frame being built, `frame` the raw rows, `maker` the FeatureMaker:
`maker.reference` holds the raw input rows of train and test together (for unsupervised statistics
such as counts; never answers), and `maker.fit_once(key, fit)` fits a model on them once.
Which families apply, and the column lists they name, come from the task profile alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from mlestar.engineers.builtin import families_table as table
from mlestar.engineers.builtin import families_text as text
from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.engineers.builtin.pysrc import literal

DRAFT_FAMILIES = ("structured_parts", "date_parts", "text_pairs", "list_tokens")
"""Families every draft gets: without them such columns are unusable raw strings."""
DATE_FAMILIES = ("date_parts", "date_cycles", "time_lags")


@dataclass(frozen=True)
class Family:
    name: str
    title: str
    applies: Callable[[ProfileView], bool]
    render: Callable[[ProfileView], str]


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "structured_parts",
            "parse structured strings into parts",
            lambda p: bool(p.structured),
            table.structured_parts,
        ),
        Family("date_parts", "date parts", lambda p: bool(p.dates), table.date_parts),
        Family("date_cycles", "calendar cycles", lambda p: bool(p.dates), table.date_cycles),
        Family(
            "time_lags", "neighbours in time", lambda p: bool(p.dates and p.lag_columns()), table.time_lags
        ),
        Family(
            "id_parts", "numeric parts of structured ids", lambda p: p.id_parts()[3] != (), table.id_parts
        ),
        Family(
            "group_sizes", "group sizes over shared keys", lambda p: bool(p.group_keys()), table.group_sizes
        ),
        Family(
            "amount_totals", "sums of related amounts", lambda p: len(p.amounts()) >= 2, table.amount_totals
        ),
        Family(
            "numeric_groups",
            "aggregates of related numeric columns",
            lambda p: bool(p.numeric_groups()),
            table.numeric_groups,
        ),
        Family("frequencies", "frequency encoding", lambda p: bool(p.frequency_columns()), table.frequencies),
        Family(
            "codes_as_categories",
            "code-like numbers as categories",
            lambda p: bool(p.code_columns()),
            table.codes_as_categories,
        ),
        Family("text_stats", "statistics of text", lambda p: bool(p.text), text.text_stats),
        Family("text_pairs", "how alike paired texts are", lambda p: bool(p.text_pairs), text.text_pairs),
        Family("text_topics", "latent topics of text", lambda p: bool(p.text), text.text_topics),
        Family("list_tokens", "lists as bags of tokens", lambda p: bool(p.lists), text.list_tokens),
    )
}
ORDER = tuple(FAMILIES)
"""Families run in this order: parts first, then families that read the parts' columns."""


def applicable(profile: ProfileView) -> list[str]:
    return [name for name in ORDER if FAMILIES[name].applies(profile)]


def draft_families(profile: ProfileView) -> tuple[str, ...]:
    return tuple(name for name in DRAFT_FAMILIES if FAMILIES[name].applies(profile))


def canonical(families: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(name for name in ORDER if name in families)


def render_features(profile: ProfileView, families: tuple[str, ...], files: bool) -> str:
    """The whole features block for these families (in canonical order)."""
    families = canonical(families)
    opening = "# Features: the input columns" + (", the rows' own files" if files else "")
    opening += (", then " + describe(families) if families else "") + "."
    if not families:
        return opening + "\n" + _plain_maker(profile, files)
    parts = [opening + "\n" + _base(profile)]
    if profile.boolean:
        parts.append(_AS_FLAG)
    if {"structured_parts", "id_parts"} & set(families):
        parts.append(_split_helpers(profile, "structured_parts" in families))
    if set(DATE_FAMILIES) & set(families):
        parts.append(
            f'DATES = {literal(profile.dates)}\n"""Date and time columns (the first one orders rows in time)."""'
        )
    parts += [FAMILIES[name].render(profile) for name in families]
    steps = ", ".join(f"add_{name}" for name in families)
    parts.append(f'STEPS = ({steps},)\n"""Feature families, applied in this order to the base columns."""\n')
    parts.append(_feature_maker(files, profile))
    return "\n\n\n".join(p.strip("\n") for p in parts) + "\n"


def _split_helpers(profile: ProfileView, with_structured: bool) -> str:
    structured = ""
    if with_structured:
        structured = (
            f"STRUCTURED = {literal(profile.structured_spec(), 0, len('STRUCTURED = '))}\n"
            '"""Structured strings: column -> (separator, kind of each part: number, category or key)."""\n\n\n'
        )
    return (
        structured
        + """def split_parts(values: pd.Series, separator: str, n_parts: int) -> pd.DataFrame:
    parts = values.astype("object").str.split(separator, n=n_parts - 1, regex=False, expand=True)
    return parts.reindex(columns=range(n_parts))
"""
    )


def _base(profile: ProfileView) -> str:
    """base_columns: every input column with one type per kind (by the rule: the columns it is given)."""
    if profile.all_numeric:
        return f'''def base_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The input columns as numbers."""
    return {_inputs(profile)}.apply(pd.to_numeric, errors="coerce").astype(float)
'''
    branches = []
    if profile.boolean:
        branches.append(("column in BOOLEAN", "frame[column].map(as_flag).astype(float)"))
    kept = [name for name, columns in (("STRINGS", profile.strings), ("TEXT", profile.text)) if columns]
    if kept:
        branches.append((" or ".join(f"column in {name}" for name in kept), 'frame[column].astype("object")'))
    if profile.numeric:
        branches.append(("", 'pd.to_numeric(frame[column], errors="coerce").astype(float)'))
    if branches == [(" or ".join(f"column in {name}" for name in kept), 'frame[column].astype("object")')]:
        return '''def base_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The input columns, kept as strings."""
    return frame[FEATURES].astype("object")
'''
    body = ""
    for i, (condition, value) in enumerate(branches):
        if len(branches) == 1:
            body = f"        out[column] = {value}\n"
            break
        keyword = "if" if i == 0 else "else" if i == len(branches) - 1 else "elif"
        test = "" if keyword == "else" else f" {condition}"
        body += f"        {keyword}{test}:\n            out[column] = {value}\n"
    kinds = "floats for numbers" + (" and flags" if profile.boolean else "") + ", strings otherwise"
    return f'''def base_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The input columns with one type per kind: {kinds}."""
    out = pd.DataFrame(index=frame.index)
    for column in FEATURES:
{body}    return out
'''


_AS_FLAG = """def as_flag(value: object) -> float:
    if pd.isna(value):
        return np.nan
    return float(str(value).strip().lower() in ("true", "1", "1.0", "yes", "y", "t"))
"""


def _inputs(profile: ProfileView) -> str:
    """The input columns of `frame`: listed in the header, or (numbers_by_rule) passed in already picked."""
    return "frame" if profile.numbers_by_rule else "frame[FEATURES]"


def _rule(profile: ProfileView) -> str:
    """FeatureMaker.fit's line keeping the inputs by the rule: train's columns test also has, but the id.
    The id is spelled here, not in the header, so the block reads only names every header defines."""
    but_id = f" and c != {json.dumps(profile.id_column)}" if profile.id_column else ""
    return f"        self.columns = [c for c in train.columns if c in test.columns{but_id}]\n"


def _plain_maker(profile: ProfileView, files: bool) -> str:
    """A FeatureMaker with no families: base columns (and file features), nothing to fit."""
    if profile.all_numeric and not files:
        listed = not profile.numbers_by_rule
        return f"""class FeatureMaker:
    def fit(self, train: pd.DataFrame, test: pd.DataFrame) -> FeatureMaker:
{"" if listed else _rule(profile)}        return self

    def transform(self, frame: pd.DataFrame, split: str) -> pd.DataFrame:
        return frame[{"FEATURES" if listed else "self.columns"}].apply(pd.to_numeric, errors="coerce").astype(float)
"""
    parts = [_base(profile)] + ([_AS_FLAG] if profile.boolean else [])
    made = "base_columns(frame).join(file_features(frame, split))" if files else "base_columns(frame)"
    parts.append(f'''class FeatureMaker:
    """Raw rows to model inputs{" (split, train or test, says where the rows' files live)" if files else ""}."""

    def fit(self, train: pd.DataFrame, test: pd.DataFrame) -> FeatureMaker:
        return self

    def transform(self, frame: pd.DataFrame, split: str) -> pd.DataFrame:
        return {made}
''')
    return "\n\n\n".join(p.strip("\n") for p in parts) + "\n"


def _feature_maker(files: bool, profile: ProfileView) -> str:
    file_line = "\n        out = out.join(file_features(frame, split))" if files else ""
    split_doc = " (split, train or test, says where the rows' files live)" if files else ""
    by_rule = profile.numbers_by_rule
    return f'''class FeatureMaker:
    """Raw rows to model inputs{split_doc}. fit() keeps the input columns of train and test (never
    the answers: test has none) for unsupervised statistics such as counts; what a family fits on
    them (a vocabulary, topics) is fitted once and kept, so predicting new rows refits nothing."""

    def fit(self, train: pd.DataFrame, test: pd.DataFrame) -> FeatureMaker:
{_rule(profile) if by_rule else ""}        self.reference = pd.concat([train, test], ignore_index=True)[list(test.columns)]
        self.fitted: dict[str, Any] = {{}}
        return self

    def fit_once(self, key: str, fit: Any) -> Any:
        """fit(reference), computed the first time key is asked for."""
        if key not in self.fitted:
            self.fitted[key] = fit(self.reference)
        return self.fitted[key]

    def transform(self, frame: pd.DataFrame, split: str) -> pd.DataFrame:
        out = base_columns({"frame[self.columns]" if by_rule else "frame"}){file_line}
        for step in STEPS:
            out = step(out, frame, self)
        return out
'''


def family_title(name: str) -> str:
    return FAMILIES[name].title if name in FAMILIES else name


def parse_steps(block: str) -> tuple[str, ...]:
    """The families a features block applies, read from its STEPS line."""
    match = re.search(r"^STEPS(?::\s*tuple)?\s*=\s*\(([^)]*)\)", block, re.MULTILINE)
    if not match:
        return ()
    return tuple(n.strip()[len("add_") :] for n in match.group(1).split(",") if n.strip().startswith("add_"))


def describe(families: tuple[str, ...]) -> str:
    return ", ".join(family_title(f) for f in families) or "raw columns only"
