"""Feature families for tables: parts of structured strings, ids and dates, neighbours in time,
group sizes, amounts, related numbers, frequencies and codes.

Each renderer returns the code of one family for the script's features block (see features.py).
"""

from __future__ import annotations

from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.engineers.builtin.pysrc import literal


def structured_parts(p: ProfileView) -> str:
    return '''def add_structured_parts(out: pd.DataFrame, frame: pd.DataFrame, maker: FeatureMaker) -> pd.DataFrame:
    """Split strings such as "B/253/P" into parts: numbers stay numbers, small vocabularies become
    categories; the raw string is dropped (almost every value is unique)."""
    for column, (separator, kinds) in STRUCTURED.items():
        parts = split_parts(frame[column], separator, len(kinds))
        for i, kind in enumerate(kinds):
            if kind == "number":
                out[f"{column}_{i}"] = pd.to_numeric(parts[i], errors="coerce")
            elif kind == "category":
                out[f"{column}_{i}"] = parts[i]
        out = out.drop(columns=[column])
    return out
'''


def date_parts(p: ProfileView) -> str:
    return '''def add_date_parts(out: pd.DataFrame, frame: pd.DataFrame, maker: FeatureMaker) -> pd.DataFrame:
    """Dates as numbers a model can split on: calendar parts and days since the earliest date."""
    for column in DATES:
        when = pd.to_datetime(frame[column], errors="coerce")
        start = pd.to_datetime(maker.reference[column], errors="coerce").min()
        out[f"{column}_year"] = when.dt.year
        out[f"{column}_month"] = when.dt.month
        out[f"{column}_day"] = when.dt.day
        out[f"{column}_weekday"] = when.dt.dayofweek
        out[f"{column}_hour"] = when.dt.hour
        out[f"{column}_days"] = (when - start).dt.total_seconds() / 86400
        out = out.drop(columns=[column], errors="ignore")
    return out
'''


def date_cycles(p: ProfileView) -> str:
    return '''CYCLES = {"hour": 24, "weekday": 7, "yearday": 365.25}
"""Calendar positions and their period."""


def add_date_cycles(out: pd.DataFrame, frame: pd.DataFrame, maker: FeatureMaker) -> pd.DataFrame:
    """Calendar positions as points on a circle (sine and cosine): 23h sits next to 0h and December
    next to January, which models that add up effects (linear, neighbours, networks) cannot see."""
    for column in DATES:
        when = pd.to_datetime(frame[column], errors="coerce")
        positions = {"hour": when.dt.hour + when.dt.minute / 60, "weekday": when.dt.dayofweek, "yearday": when.dt.dayofyear - 1}
        for part, period in CYCLES.items():
            out[f"{column}_{part}_sin"] = np.sin(2 * np.pi * positions[part] / period)
            out[f"{column}_{part}_cos"] = np.cos(2 * np.pi * positions[part] / period)
        out = out.drop(columns=[column], errors="ignore")
    return out
'''


def time_lags(p: ProfileView) -> str:
    groups = p.time_groups()
    by = "TIME_GROUPS" if groups else "None"
    group_doc = ", within each group" if groups else ""
    groups_line = (
        f'TIME_GROUPS = {literal(groups)}\n"""Rows of one group form one series in time."""\n'
        if groups
        else ""
    )
    return f'''LAG_COLUMNS = {literal(p.lag_columns(), 0, len("LAG_COLUMNS = "))}
"""Numbers whose values just before and just after each row in time are features."""
{groups_line}

def add_time_lags(out: pd.DataFrame, frame: pd.DataFrame, maker: FeatureMaker) -> pd.DataFrame:
    """Each row's neighbours in time among the train and test rows{group_doc} (inputs only, never
    answers): days to the previous and the next row, and their LAG_COLUMNS values."""
    groups = {"TIME_GROUPS" if groups else "[]"}
    rows = series_in_time(frame, groups).assign(row=np.arange(len(frame)))
    known = series_in_time(maker.reference, groups).rename(columns=lambda c: c if c in groups else f"{{c}}_near")
    known["time"] = known["time_near"]
    for direction, name in (("backward", "previous"), ("forward", "next")):
        near = pd.merge_asof(rows.dropna(subset=["time"]).sort_values("time"), known.dropna(subset=["time"]).sort_values("time"),
                             on="time", by={by}, direction=direction, allow_exact_matches=False).set_index("row")
        near = near.reindex(np.arange(len(frame)))
        out[f"{{name}}_row_days"] = ((near["time_near"] - near["time"]).dt.total_seconds().abs() / 86400).to_numpy()
        for column in LAG_COLUMNS:
            out[f"{{name}}_{{column}}"] = near[f"{{column}}_near"].to_numpy()
    return out


def series_in_time(rows: pd.DataFrame, groups: list[str]) -> pd.DataFrame:
    """The time of each row (the first date column), its group keys and its LAG_COLUMNS as numbers."""
    values = {{c: pd.to_numeric(rows[c], errors="coerce").to_numpy() for c in LAG_COLUMNS}}
    keys = {{g: rows[g].astype(str).to_numpy() for g in groups}}
    return pd.DataFrame({{**keys, **values, "time": pd.to_datetime(rows[DATES[0]], errors="coerce").to_numpy()}})
'''


def group_sizes(p: ProfileView) -> str:
    return f'''GROUP_KEYS = {literal(p.group_keys())}
"""Keys rows may share: (column, separator, part) with part None for the whole value."""


def add_group_sizes(out: pd.DataFrame, frame: pd.DataFrame, maker: FeatureMaker) -> pd.DataFrame:
    """How many rows of train and test share each key (an id prefix, a name part, a code):
    group size is often informative where the key itself is not."""
    for column, separator, part in GROUP_KEYS:
        name = column if part is None else f"{{column}}_{{part}}"
        counts = key_values(maker.reference, column, separator, part).value_counts()
        out[f"{{name}}_count"] = key_values(frame, column, separator, part).map(counts).astype(float)
    return out


def key_values(frame: pd.DataFrame, column: str, separator: str | None, part: int | None) -> pd.Series:
    values = frame[column].astype("object")
    if part is None:
        return values
    return values.str.split(separator, regex=False).str[part]
'''


def id_parts(p: ProfileView) -> str:
    column, separator, n_parts, numeric = p.id_parts()
    return f'''ID_PARTS = {literal((column, separator, n_parts, numeric))}
"""The id column, its separator, its number of parts and which parts are numbers."""


def add_id_parts(out: pd.DataFrame, frame: pd.DataFrame, maker: FeatureMaker) -> pd.DataFrame:
    """Numeric parts of ids like "0042_03" (a position within a group) as features."""
    column, separator, n_parts, numeric = ID_PARTS
    parts = split_parts(frame[column], separator, n_parts)
    for i in numeric:
        out[f"{{column}}_{{i}}"] = pd.to_numeric(parts[i], errors="coerce")
    return out
'''


def frequencies(p: ProfileView) -> str:
    return f'''FREQUENCY_COLUMNS = {literal(p.frequency_columns())}


def add_frequencies(out: pd.DataFrame, frame: pd.DataFrame, maker: FeatureMaker) -> pd.DataFrame:
    """How common each category is over train and test (frequency encoding)."""
    for column in FREQUENCY_COLUMNS:
        shares = maker.reference[column].astype("object").value_counts(normalize=True)
        out[f"{{column}}_freq"] = frame[column].astype("object").map(shares).astype(float)
    return out
'''


def amount_totals(p: ProfileView) -> str:
    return f'''AMOUNTS = {literal(p.amounts())}
"""Non-negative, mostly-zero, skewed numbers that read like amounts of one kind."""


def add_amount_totals(out: pd.DataFrame, frame: pd.DataFrame, maker: FeatureMaker) -> pd.DataFrame:
    """Totals of related amounts: their sum, how many are non-zero, an all-zero flag, log1p of each."""
    amounts = out[AMOUNTS]
    out["amounts_sum"] = amounts.sum(axis=1, min_count=1)
    out["amounts_nonzero"] = (amounts > 0).sum(axis=1).astype(float)
    out["amounts_all_zero"] = (amounts.fillna(0) == 0).all(axis=1).astype(float)
    for column in AMOUNTS:
        out[f"{{column}}_log1p"] = np.log1p(amounts[column].clip(lower=0))
    return out
'''


def numeric_groups(p: ProfileView) -> str:
    return f'''NUMERIC_GROUPS = {literal(p.numeric_groups())}
"""Numeric columns whose names differ in one word only (e.g. x_1, x_2, x_3): one quantity each."""


def add_numeric_groups(out: pd.DataFrame, frame: pd.DataFrame, maker: FeatureMaker) -> pd.DataFrame:
    """Sums, spreads, products and ratios across each group of related numeric columns."""
    for name, columns in NUMERIC_GROUPS.items():
        values = out[columns]
        out[f"{{name}}_sum"] = values.sum(axis=1)
        out[f"{{name}}_std"] = values.std(axis=1)
        out[f"{{name}}_max_min_ratio"] = values.max(axis=1) / values.min(axis=1).where(values.min(axis=1) != 0)
        if (maker.reference[columns].min() > 0).all():
            out[f"{{name}}_log_product"] = np.log(values.clip(lower=1e-12)).sum(axis=1)
    return out
'''


def codes_as_categories(p: ProfileView) -> str:
    return f'''CODE_COLUMNS = {literal(p.code_columns())}
"""Integer columns with a handful of values: likely codes rather than quantities."""


def add_codes_as_categories(out: pd.DataFrame, frame: pd.DataFrame, maker: FeatureMaker) -> pd.DataFrame:
    """A categorical copy of each code-like number, so linear models and CatBoost see its levels."""
    for column in CODE_COLUMNS:
        out[f"{{column}}_code"] = frame[column].map(lambda v: np.nan if pd.isna(v) else f"c{{v:g}}").astype("object")
    return out
'''
