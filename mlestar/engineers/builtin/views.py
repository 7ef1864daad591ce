"""The preprocess block: input views, one per kind of model, fitted once without answers.

Views: trees (numbers as they are, categories as integer codes), native (categories as strings for
CatBoost), linear (imputed and scaled numbers, one-hot categories, TF-IDF words of text), words and
chars (TF-IDF of the text columns). Options a refinement can change are constants of the block.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from mlestar import syntax

VIEW_ORDER = ("trees", "native", "linear", "words", "chars")
IMPUTE_CHOICES = ("median", "mean", "most_frequent")
SCALE_CHOICES = ("standard", "quantile", "robust")


@dataclass(frozen=True)
class ViewOptions:
    rare_min_count: int = 0
    """Categories seen fewer times (train and test together) share one level; 0 keeps every level."""
    impute: str = "median"
    scale: str = "standard"

    def is_baseline(self) -> bool:
        return self == ViewOptions()


def task_views(has_tabular: bool, has_text: bool) -> tuple[str, ...]:
    """The views a task offers: table views when it has non-text columns, text views for text."""
    offered = ("trees", "native", "linear") if has_tabular else ("linear",)
    return offered + (("words", "chars") if has_text else ())


def render_preprocess(views: tuple[str, ...], options: ViewOptions, has_text: bool) -> str:
    views = tuple(v for v in VIEW_ORDER if v in views)
    parts = [_imports(views, options, has_text), _constants(views, options), _COLUMNS]
    parts += [_VIEWS[v](options, has_text) for v in views]
    entries = ", ".join(f'"{v}": {v}_view' for v in views)
    parts.append(
        "def make_views(names: tuple[str, ...]) -> dict[str, Any]:\n"
        '    """The views the members read (this task offers: ' + ", ".join(views) + ')."""\n'
        f"    factories = {{{entries}}}\n"
        "    return {name: factories[name]() for name in names}\n"
    )
    return "\n\n\n".join(p.strip("\n") for p in parts if p) + "\n"


def _imports(views: tuple[str, ...], options: ViewOptions, has_text: bool) -> str:
    lines = ["from sklearn.compose import ColumnTransformer"]
    if {"words", "chars"} & set(views) or ("linear" in views and has_text):
        lines.append("from sklearn.feature_extraction.text import TfidfVectorizer")
    if "linear" in views:
        lines += ["from sklearn.impute import SimpleImputer", "from sklearn.pipeline import make_pipeline"]
        scaler = {"standard": "StandardScaler", "quantile": "QuantileTransformer", "robust": "RobustScaler"}
        lines.append(f"from sklearn.preprocessing import OneHotEncoder, {scaler[options.scale]}")
    if "trees" in views:
        lines.append("from sklearn.preprocessing import OrdinalEncoder")
    if "native" in views:
        lines.append("from sklearn.preprocessing import FunctionTransformer")
    return "\n".join(sorted(set(lines), key=_import_key))


def _import_key(line: str) -> tuple[str, str]:
    return (line.split()[1], line)


def _constants(views: tuple[str, ...], options: ViewOptions) -> str:
    lines = []
    if {"trees", "linear", "native"} & set(views):
        lines.append(f"RARE_MIN_COUNT = {options.rare_min_count}")
        lines.append('"""Categories seen fewer times than this share one level (0: keep every level)."""')
    if "linear" in views:
        lines.append(f'IMPUTE = "{options.impute}"')
        lines.append(f'SCALE = "{options.scale}"')
    return "\n".join(lines)


_COLUMNS = """def numeric_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in TEXT and pd.api.types.is_numeric_dtype(frame[c])]


def category_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in TEXT and not pd.api.types.is_numeric_dtype(frame[c])]
"""


def _trees(options: ViewOptions, has_text: bool) -> str:
    return '''def trees_view() -> ColumnTransformer:
    """Numbers as they are (trees handle gaps); categories as integer codes (-1: missing or unseen)."""
    codes = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=-1,
        encoded_missing_value=-1,
        min_frequency=RARE_MIN_COUNT or None,
    )
    steps = [("num", "passthrough", numeric_columns), ("cat", codes, category_columns)]
    return ColumnTransformer(steps, verbose_feature_names_out=plain_name).set_output(transform="pandas")


def plain_name(part: str, column: str) -> str:
    """Column names every tree library accepts: letters, digits and underscores only."""
    return part + "__" + "".join(ch if ch.isalnum() else "_" for ch in str(column))
'''


def _native(options: ViewOptions, has_text: bool) -> str:
    return '''def native_view() -> ColumnTransformer:
    """Numbers as they are; categories as strings (rare ones merged) for models that encode them."""
    as_strings = FunctionTransformer(to_strings, feature_names_out="one-to-one")
    return ColumnTransformer(
        [("num", "passthrough", numeric_columns), ("cat", as_strings, category_columns)],
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")


def to_strings(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.astype("object").fillna("(missing)").astype(str)
    if RARE_MIN_COUNT:
        for column in out.columns:
            counts = out[column].map(out[column].value_counts())
            out[column] = out[column].where(counts >= RARE_MIN_COUNT, "(rare)")
    return out
'''


def _linear(options: ViewOptions, has_text: bool) -> str:
    scaler = {
        "standard": "StandardScaler()",
        "quantile": 'QuantileTransformer(output_distribution="normal", n_quantiles=200, random_state=SEED)',
        "robust": "RobustScaler()",
    }[options.scale]
    text = (
        '\n    steps += [(f"words_{c}", TfidfVectorizer(sublinear_tf=True, min_df=2, max_features=50000), c)'
        " for c in TEXT]"
        if has_text
        else ""
    )
    return f'''def linear_view() -> ColumnTransformer:
    """Imputed, scaled numbers with missing-value flags; one-hot categories; TF-IDF words of text."""
    numbers = make_pipeline(SimpleImputer(strategy=IMPUTE, add_indicator=True), {scaler})
    categories = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=RARE_MIN_COUNT or None)
    steps = [("num", numbers, numeric_columns), ("cat", categories, category_columns)]{text}
    return ColumnTransformer(steps, sparse_threshold=1.0)
'''


def _words(options: ViewOptions, has_text: bool) -> str:
    return '''def words_view() -> ColumnTransformer:
    """TF-IDF of word uni- and bi-grams seen at least twice, one vocabulary per text column. Case and
    punctuation marks are kept as tokens: they carry style (and sentiment) as much as the words do."""
    pattern = r"(?u)\\b\\w+\\b|[^\\w\\s]"
    vectorizer = {"ngram_range": (1, 2), "min_df": 2, "sublinear_tf": True, "token_pattern": pattern, "lowercase": False}
    return ColumnTransformer([(c, TfidfVectorizer(**vectorizer), c) for c in TEXT])
'''


def _chars(options: ViewOptions, has_text: bool) -> str:
    return '''def chars_view() -> ColumnTransformer:
    """TF-IDF of character 1- to 5-grams, case kept: style, punctuation and word pieces."""
    vectorizer = {"analyzer": "char", "ngram_range": (1, 5), "min_df": 3, "max_features": 150000, "sublinear_tf": True,
                  "lowercase": False}
    return ColumnTransformer([(c, TfidfVectorizer(**vectorizer), c) for c in TEXT])
'''


_VIEWS = {"trees": _trees, "native": _native, "linear": _linear, "words": _words, "chars": _chars}


def read_options(block: str) -> ViewOptions:
    """The options a preprocess block was written with (defaults where a constant is absent)."""
    values: dict[str, object] = {}
    try:
        tree = syntax.parse(block)
    except SyntaxError:
        return ViewOptions()
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in ("RARE_MIN_COUNT", "IMPUTE", "SCALE"):
                try:
                    values[name.lower().replace("rare_min_count", "rare_min_count")] = ast.literal_eval(
                        node.value
                    )
                except ValueError:
                    continue
    return ViewOptions(
        rare_min_count=int(values.get("rare_min_count", 0)),  # type: ignore[call-overload]
        impute=str(values.get("impute", "median")),
        scale=str(values.get("scale", "standard")),
    )


def read_views(block: str) -> tuple[str, ...]:
    return tuple(v for v in VIEW_ORDER if f"def {v}_view(" in block)
