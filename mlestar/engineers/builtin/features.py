"""Feature families: generic feature engineering the built-in engineer can write into a script.

Each family is one function `add_<name>(out, frame, reference) -> out` in the script's features
block: `out` is the model-input frame being built, `frame` the raw rows, `reference` the raw input
rows of train and test together (for unsupervised statistics such as counts; never answers).
Which families apply, and the column lists they name, come from the task profile alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

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


def _structured_parts(p: ProfileView) -> str:
    return '''def add_structured_parts(out: pd.DataFrame, frame: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
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


def _date_parts(p: ProfileView) -> str:
    return '''def add_date_parts(out: pd.DataFrame, frame: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Dates as numbers a model can split on: calendar parts and days since the earliest date."""
    for column in DATES:
        when = pd.to_datetime(frame[column], errors="coerce")
        start = pd.to_datetime(reference[column], errors="coerce").min()
        out[f"{column}_year"] = when.dt.year
        out[f"{column}_month"] = when.dt.month
        out[f"{column}_day"] = when.dt.day
        out[f"{column}_weekday"] = when.dt.dayofweek
        out[f"{column}_hour"] = when.dt.hour
        out[f"{column}_days"] = (when - start).dt.total_seconds() / 86400
        out = out.drop(columns=[column], errors="ignore")
    return out
'''


def _date_cycles(p: ProfileView) -> str:
    return '''CYCLES = {"hour": 24, "weekday": 7, "yearday": 365.25}
"""Calendar positions and their period."""


def add_date_cycles(out: pd.DataFrame, frame: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
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


def _time_lags(p: ProfileView) -> str:
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

def add_time_lags(out: pd.DataFrame, frame: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Each row's neighbours in time among the train and test rows{group_doc} (inputs only, never
    answers): days to the previous and the next row, and their LAG_COLUMNS values."""
    groups = {"TIME_GROUPS" if groups else "[]"}
    rows = series_in_time(frame, groups).assign(row=np.arange(len(frame)))
    known = series_in_time(reference, groups).rename(columns=lambda c: c if c in groups else f"{{c}}_near")
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


def _text_pairs(p: ProfileView) -> str:
    return f'''TEXT_PAIRS = {literal([tuple(pair) for pair in p.text_pairs], 0, len("TEXT_PAIRS = "))}
"""Columns compared row by row: how alike the two texts are is what matters."""
LSA_COMPONENTS = 64


def add_text_pairs(out: pd.DataFrame, frame: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """How alike the two texts of each pair are: cosine of word and character TF-IDF and of their
    latent topics (LSA), shared words (count, Jaccard, share of the shorter), the edit-distance ratio
    and the differences in length. Vocabularies are fitted on train and test texts (no answers)."""
    from difflib import SequenceMatcher

    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    for a, b in TEXT_PAIRS:
        first, second = texts(frame[a]), texts(frame[b])
        both = pd.concat([texts(reference[a]), texts(reference[b])], ignore_index=True)
        words = TfidfVectorizer(sublinear_tf=True).fit(both)
        chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True).fit(both)
        n_topics = max(1, min(LSA_COMPONENTS, len(words.vocabulary_) - 1))
        topics = TruncatedSVD(n_topics, random_state=SEED).fit(words.transform(both))
        word_a, word_b = words.transform(first), words.transform(second)
        tokens_a, tokens_b = first.str.findall(r"\\w+").map(set), second.str.findall(r"\\w+").map(set)
        size_a, size_b = tokens_a.map(len).to_numpy(dtype=float), tokens_b.map(len).to_numpy(dtype=float)
        shared = np.array([len(x & y) for x, y in zip(tokens_a, tokens_b)], dtype=float)
        name = f"{{a}}_{{b}}"
        out[f"{{name}}_word_cosine"] = row_cosine(word_a, word_b)
        out[f"{{name}}_char_cosine"] = row_cosine(chars.transform(first), chars.transform(second))
        out[f"{{name}}_lsa_cosine"] = row_cosine(topics.transform(word_a), topics.transform(word_b))
        out[f"{{name}}_shared_words"] = shared
        out[f"{{name}}_jaccard"] = shared / np.maximum(size_a + size_b - shared, 1)
        out[f"{{name}}_overlap"] = shared / np.maximum(np.minimum(size_a, size_b), 1)
        out[f"{{name}}_edit_ratio"] = [SequenceMatcher(None, x, y).ratio() for x, y in zip(first, second)]
        out[f"{{name}}_length_gap"] = np.abs(first.str.len().to_numpy(dtype=float) - second.str.len().to_numpy(dtype=float))
        out[f"{{name}}_words_gap"] = np.abs(size_a - size_b)
    return out


def texts(values: pd.Series) -> pd.Series:
    return values.fillna("").astype(str).str.lower().reset_index(drop=True)


def row_cosine(x: Any, y: Any) -> np.ndarray:
    """The cosine similarity of each row of x with the same row of y (sparse or dense rows)."""
    from sklearn.preprocessing import normalize

    x, y = normalize(x), normalize(y)
    product = x.multiply(y) if hasattr(x, "multiply") else x * y
    return np.asarray(product.sum(axis=1)).ravel()
'''


def _text_topics(p: ProfileView) -> str:
    return '''TOPICS = 32
"""Latent topics (LSA components) kept per text column."""


def add_text_topics(out: pd.DataFrame, frame: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """What each text is about, as numbers a table model can split on: its TOPICS latent topics
    (LSA of word TF-IDF, both fitted on train and test texts, no answers)."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    for column in TEXT:
        known = reference[column].fillna("").astype(str)
        words = TfidfVectorizer(sublinear_tf=True, min_df=2, max_features=50000).fit(known)
        topics = TruncatedSVD(max(1, min(TOPICS, len(words.vocabulary_) - 1)), random_state=SEED)
        topics.fit(words.transform(known))
        values = topics.transform(words.transform(frame[column].fillna("").astype(str)))
        for i in range(values.shape[1]):
            out[f"{column}_topic_{i}"] = values[:, i]
    return out
'''


def _list_tokens(p: ProfileView) -> str:
    return f'''LISTS = {literal(p.lists, 0, len("LISTS = "))}
"""Columns whose cells are lists (kept as JSON text): each becomes a bag of its common tokens."""
TOP_TOKENS = 30


def add_list_tokens(out: pd.DataFrame, frame: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Each list as its length, its distinct tokens and a 0/1 column for each of its TOP_TOKENS most
    common tokens over train and test; the raw list text is dropped."""
    for column in LISTS:
        counts = tokens_of(reference[column]).explode().dropna().value_counts().sort_index()
        common = counts.sort_values(ascending=False, kind="stable").index[:TOP_TOKENS]
        tokens = tokens_of(frame[column])
        bag = {{f"{{column}}_length": tokens.map(len), f"{{column}}_distinct": tokens.map(lambda t: len(set(t)))}}
        for i, token in enumerate(common):
            bag[f"{{column}}_has_{{i}}"] = tokens.map(lambda t, token=token: token in t)
        out = pd.concat([out.drop(columns=[column], errors="ignore"), pd.DataFrame(bag).astype(float)], axis=1)
    return out


def tokens_of(values: pd.Series) -> pd.Series:
    """The tokens of each list cell (JSON text in the prepared tables; anything else: no tokens)."""
    import json

    return values.map(lambda v: [str(t) for t in json.loads(v)] if isinstance(v, str) and v.startswith("[") else [])
'''


def _group_sizes(p: ProfileView) -> str:
    return f'''GROUP_KEYS = {literal(p.group_keys())}
"""Keys rows may share: (column, separator, part) with part None for the whole value."""


def add_group_sizes(out: pd.DataFrame, frame: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """How many rows of train and test share each key (an id prefix, a name part, a code):
    group size is often informative where the key itself is not."""
    for column, separator, part in GROUP_KEYS:
        name = column if part is None else f"{{column}}_{{part}}"
        counts = key_values(reference, column, separator, part).value_counts()
        out[f"{{name}}_count"] = key_values(frame, column, separator, part).map(counts).astype(float)
    return out


def key_values(frame: pd.DataFrame, column: str, separator: str | None, part: int | None) -> pd.Series:
    values = frame[column].astype("object")
    if part is None:
        return values
    return values.str.split(separator, regex=False).str[part]
'''


def _id_parts(p: ProfileView) -> str:
    column, separator, n_parts, numeric = p.id_parts()
    return f'''ID_PARTS = {literal((column, separator, n_parts, numeric))}
"""The id column, its separator, its number of parts and which parts are numbers."""


def add_id_parts(out: pd.DataFrame, frame: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Numeric parts of ids like "0042_03" (a position within a group) as features."""
    column, separator, n_parts, numeric = ID_PARTS
    parts = split_parts(frame[column], separator, n_parts)
    for i in numeric:
        out[f"{{column}}_{{i}}"] = pd.to_numeric(parts[i], errors="coerce")
    return out
'''


def _frequencies(p: ProfileView) -> str:
    return f'''FREQUENCY_COLUMNS = {literal(p.frequency_columns())}


def add_frequencies(out: pd.DataFrame, frame: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """How common each category is over train and test (frequency encoding)."""
    for column in FREQUENCY_COLUMNS:
        shares = reference[column].astype("object").value_counts(normalize=True)
        out[f"{{column}}_freq"] = frame[column].astype("object").map(shares).astype(float)
    return out
'''


def _amount_totals(p: ProfileView) -> str:
    return f'''AMOUNTS = {literal(p.amounts())}
"""Non-negative, mostly-zero, skewed numbers that read like amounts of one kind."""


def add_amount_totals(out: pd.DataFrame, frame: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Totals of related amounts: their sum, how many are non-zero, an all-zero flag, log1p of each."""
    amounts = out[AMOUNTS]
    out["amounts_sum"] = amounts.sum(axis=1, min_count=1)
    out["amounts_nonzero"] = (amounts > 0).sum(axis=1).astype(float)
    out["amounts_all_zero"] = (amounts.fillna(0) == 0).all(axis=1).astype(float)
    for column in AMOUNTS:
        out[f"{{column}}_log1p"] = np.log1p(amounts[column].clip(lower=0))
    return out
'''


def _numeric_groups(p: ProfileView) -> str:
    return f'''NUMERIC_GROUPS = {literal(p.numeric_groups())}
"""Numeric columns whose names differ in one word only (e.g. x_1, x_2, x_3): one quantity each."""


def add_numeric_groups(out: pd.DataFrame, frame: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Sums, spreads, products and ratios across each group of related numeric columns."""
    for name, columns in NUMERIC_GROUPS.items():
        values = out[columns]
        out[f"{{name}}_sum"] = values.sum(axis=1)
        out[f"{{name}}_std"] = values.std(axis=1)
        out[f"{{name}}_max_min_ratio"] = values.max(axis=1) / values.min(axis=1).where(values.min(axis=1) != 0)
        if (reference[columns].min() > 0).all():
            out[f"{{name}}_log_product"] = np.log(values.clip(lower=1e-12)).sum(axis=1)
    return out
'''


def _codes_as_categories(p: ProfileView) -> str:
    return f'''CODE_COLUMNS = {literal(p.code_columns())}
"""Integer columns with a handful of values: likely codes rather than quantities."""


def add_codes_as_categories(out: pd.DataFrame, frame: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """A categorical copy of each code-like number, so linear models and CatBoost see its levels."""
    for column in CODE_COLUMNS:
        out[f"{{column}}_code"] = frame[column].map(lambda v: np.nan if pd.isna(v) else f"c{{v:g}}").astype("object")
    return out
'''


def _text_stats(p: ProfileView) -> str:
    return '''TEXT_MARKS = {",": "commas", ";": "semicolons", ":": "colons", "!": "exclamations", r"\\?": "questions",
              '"': "quotes", "'": "apostrophes"}
"""Punctuation counted per character of text (patterns: "?" is escaped)."""


def add_text_stats(out: pd.DataFrame, frame: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Shape of each text: length, words, word length, punctuation, capitals, digits, vocabulary."""
    for column in TEXT:
        text = frame[column].fillna("").astype(str)
        chars = text.str.len().clip(lower=1)
        words = text.str.split()
        out[f"{column}_chars"] = text.str.len().astype(float)
        out[f"{column}_words"] = words.str.len().astype(float)
        out[f"{column}_word_length"] = chars / words.str.len().clip(lower=1)
        out[f"{column}_unique_words"] = words.map(lambda w: len(set(w))) / words.str.len().clip(lower=1)
        for mark, label in TEXT_MARKS.items():
            out[f"{column}_{label}"] = text.str.count(mark) / chars
        out[f"{column}_capitals"] = text.str.count(r"[A-Z]") / chars
        out[f"{column}_digits"] = text.str.count(r"[0-9]") / chars
    return out
'''


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "structured_parts",
            "parse structured strings into parts",
            lambda p: bool(p.structured),
            _structured_parts,
        ),
        Family("date_parts", "date parts", lambda p: bool(p.dates), _date_parts),
        Family("date_cycles", "calendar cycles", lambda p: bool(p.dates), _date_cycles),
        Family("time_lags", "neighbours in time", lambda p: bool(p.dates and p.lag_columns()), _time_lags),
        Family("id_parts", "numeric parts of structured ids", lambda p: p.id_parts()[3] != (), _id_parts),
        Family("group_sizes", "group sizes over shared keys", lambda p: bool(p.group_keys()), _group_sizes),
        Family("amount_totals", "sums of related amounts", lambda p: len(p.amounts()) >= 2, _amount_totals),
        Family(
            "numeric_groups",
            "aggregates of related numeric columns",
            lambda p: bool(p.numeric_groups()),
            _numeric_groups,
        ),
        Family("frequencies", "frequency encoding", lambda p: bool(p.frequency_columns()), _frequencies),
        Family(
            "codes_as_categories",
            "code-like numbers as categories",
            lambda p: bool(p.code_columns()),
            _codes_as_categories,
        ),
        Family("text_stats", "statistics of text", lambda p: bool(p.text), _text_stats),
        Family("text_pairs", "how alike paired texts are", lambda p: bool(p.text_pairs), _text_pairs),
        Family("text_topics", "latent topics of text", lambda p: bool(p.text), _text_topics),
        Family("list_tokens", "lists as bags of tokens", lambda p: bool(p.lists), _list_tokens),
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
    parts.append(_feature_maker(files))
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
    """base_columns: every input column with one type per kind."""
    if profile.all_numeric:
        return '''def base_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The input columns as numbers."""
    return frame[FEATURES].apply(pd.to_numeric, errors="coerce").astype(float)
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


def _plain_maker(profile: ProfileView, files: bool) -> str:
    """A FeatureMaker with no families: base columns (and file features), nothing to fit."""
    if profile.all_numeric and not files:
        return '''class FeatureMaker:
    """Raw rows to model inputs: the input columns as numbers."""

    def fit(self, train: pd.DataFrame, test: pd.DataFrame) -> FeatureMaker:
        return self

    def transform(self, frame: pd.DataFrame, split: str) -> pd.DataFrame:
        return frame[FEATURES].apply(pd.to_numeric, errors="coerce").astype(float)
'''
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


def _feature_maker(files: bool) -> str:
    file_line = "\n        out = out.join(file_features(frame, split))" if files else ""
    split_doc = " (split, train or test, says where the rows' files live)" if files else ""
    return f'''class FeatureMaker:
    """Raw rows to model inputs{split_doc}. fit() keeps the input columns of train and test (never
    the answers: test has none) for unsupervised statistics such as counts."""

    def fit(self, train: pd.DataFrame, test: pd.DataFrame) -> FeatureMaker:
        self.reference = pd.concat([train, test], ignore_index=True)[list(test.columns)]
        return self

    def transform(self, frame: pd.DataFrame, split: str) -> pd.DataFrame:
        out = base_columns(frame){file_line}
        for step in STEPS:
            out = step(out, frame, self.reference)
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
