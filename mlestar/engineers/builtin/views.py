"""The preprocess block: input views, one per kind of model, fitted once without answers.

Views: trees (numbers as they are, categories as integer codes), native (categories as strings for
CatBoost), linear (imputed and scaled numbers, one-hot categories, TF-IDF words of text: sparse),
scaled (the same numbers and categories as one dense array, no text: for distance, kernel,
discriminant and neural models), words and chars (TF-IDF of the text columns). The block holds only the views its recipe lists, and only the
parts this task can use (no category code for a table of numbers). Options a refinement can change
(rare-level grouping, imputation, scaling) appear only when they apply.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from mlestar import syntax
from mlestar.engineers.builtin.profile_view import ProfileView
from mlestar.engineers.builtin.pysrc import WIDTH

VIEW_ORDER = ("trees", "native", "linear", "scaled", "words", "chars")
TABLE_VIEWS = ("trees", "native", "linear", "scaled")
SCALED_VIEWS = ("linear", "scaled")
TEXT_VIEWS = ("words", "chars")
"""Views read from text alone: slow to fit and the same for every attempt on the same texts, so
scripts keep them in the run's feature cache."""
"""Views with imputed, scaled numbers (the imputation and scaling options apply to them)."""
IMPUTE_CHOICES = ("median", "mean", "most_frequent")
SCALE_CHOICES = ("standard", "quantile", "robust")
_SCALERS = {
    "standard": ("StandardScaler", "StandardScaler()"),
    "quantile": (
        "QuantileTransformer",
        'QuantileTransformer(output_distribution="normal", n_quantiles=200, random_state=SEED)',
    ),
    "robust": ("RobustScaler", "RobustScaler()"),
}
_TITLES = {
    "trees": ("trees (numbers as they are", ", categories as integer codes)"),
    "native": ("native (numbers as they are", ", categories as strings)"),
    "linear": ("linear (scaled numbers", ", one-hot categories)"),
    "scaled": ("scaled (scaled numbers", ", one-hot categories, dense)"),
    "words": ("words (word TF-IDF", ")"),
    "chars": ("chars (character TF-IDF", ")"),
}


def _title(view: str, categories: bool) -> str:
    head, tail = _TITLES[view]
    return head + (tail if categories or view in ("words", "chars") else ")")


@dataclass(frozen=True)
class ViewOptions:
    rare_min_count: int = 0
    """Categories seen fewer times (train and test together) share one level; 0 keeps every level."""
    impute: str = "median"
    scale: str = "standard"

    def is_baseline(self) -> bool:
        return self == ViewOptions()


@dataclass(frozen=True)
class _Shape:
    """What the task's feature tables can hold, which decides the code a view needs."""

    categories: bool
    text: bool
    plain_numbers: bool

    @staticmethod
    def of(profile: ProfileView) -> _Shape:
        categories = bool(profile.strings or profile.code_columns())
        return _Shape(categories, bool(profile.text), profile.plain_numbers)


def render_preprocess(views: tuple[str, ...], options: ViewOptions, profile: ProfileView) -> str:
    """The whole preprocess block for these views (in canonical order)."""
    views = tuple(v for v in VIEW_ORDER if v in views)
    shape = _Shape.of(profile)
    if views in (("trees",), ("native",)) and shape.plain_numbers:
        return _identity(views[0])
    opening = "# Views: " + "; ".join(_title(v, shape.categories) for v in views) + "."
    parts = [opening + "\n" + _imports(views, options, shape)]
    parts.append(_constants(views, options, shape))
    if set(views) & set(TABLE_VIEWS):
        parts.append(_columns(shape, "native" in views))
    parts += [_RENDER[v](options, shape) for v in views]
    parts.append(_fit_views(views))
    return "\n\n\n".join(p.strip("\n") for p in parts if p) + "\n"


def _imports(views: tuple[str, ...], options: ViewOptions, shape: _Shape) -> str:
    lines = ["from sklearn.compose import ColumnTransformer"]
    if {"words", "chars"} & set(views) or ("linear" in views and shape.text):
        lines.append("from sklearn.feature_extraction.text import TfidfVectorizer")
    if set(SCALED_VIEWS) & set(views):
        lines += ["from sklearn.impute import SimpleImputer", "from sklearn.pipeline import make_pipeline"]
    preprocessing = []
    if set(SCALED_VIEWS) & set(views):
        preprocessing.append(_SCALERS[options.scale][0])
        if shape.categories:
            preprocessing.append("OneHotEncoder")
    if "trees" in views and shape.categories:
        preprocessing.append("OrdinalEncoder")
    if "native" in views and shape.categories and not options.rare_min_count:
        preprocessing.append("FunctionTransformer")
    if preprocessing:
        lines.append("from sklearn.preprocessing import " + ", ".join(sorted(preprocessing)))
    if "native" in views and shape.categories and options.rare_min_count:
        lines.append("from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin")
    return "\n".join(sorted(set(lines), key=lambda line: (line.split()[1], line)))


def _constants(views: tuple[str, ...], options: ViewOptions, shape: _Shape) -> str:
    lines = []
    if shape.categories and options.rare_min_count and set(views) & set(TABLE_VIEWS):
        lines.append(f"RARE_MIN_COUNT = {options.rare_min_count}")
        lines.append('"""Categories seen fewer times (train and test together) share one level."""')
    if set(SCALED_VIEWS) & set(views):
        lines.append(f'IMPUTE = "{options.impute}"')
        lines.append('"""How missing numbers are filled before scaling (a flag column marks each gap)."""')
    return "\n".join(lines)


def _columns(shape: _Shape, native: bool) -> str:
    """numeric_columns, and category_columns where categories can occur (CatBoost always names them)."""
    not_text = "c not in TEXT and " if shape.text else ""
    numbers = f"""def numeric_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if {not_text}pd.api.types.is_numeric_dtype(frame[c])]
"""
    if not (shape.categories or native):
        return numbers
    return (
        numbers
        + f"""

def category_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if {not_text}not pd.api.types.is_numeric_dtype(frame[c])]
"""
    )


def _rare(options: ViewOptions, keyword: str) -> str:
    return f", {keyword}=RARE_MIN_COUNT" if options.rare_min_count else ""


def _identity(view: str) -> str:
    """One tree view of a table of plain numbers: the feature table as it is (CatBoost still asks
    which columns are categories: none)."""
    reader, categories = "trees handle", ""
    if view == "native":
        reader = "CatBoost handles"
        categories = _columns(_Shape(False, False, True), native=True).split("\n\n\n")[1] + "\n\n"
    return f"""# Views: {view} (the numbers as they are: {reader} gaps and scales).
{categories}def fit_views(x_train: pd.DataFrame, x_test: pd.DataFrame, names: tuple[str, ...]) -> tuple[dict, dict, dict]:
    from sklearn.preprocessing import FunctionTransformer  # the identity: nothing to fit

    return {{"{view}": FunctionTransformer()}}, {{"{view}": x_train}}, {{"{view}": x_test}}
"""


def _trees(options: ViewOptions, shape: _Shape) -> str:
    steps = '[("num", "passthrough", numeric_columns)]'
    codes = ""
    if shape.categories:
        settings = 'handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1'
        settings += _rare(options, "min_frequency")
        codes = f"    codes = OrdinalEncoder({settings})\n"
        if len(codes) > WIDTH + 1:
            codes = f"    codes = OrdinalEncoder(\n        {settings}\n    )\n"
        steps = '[("num", "passthrough", numeric_columns), ("cat", codes, category_columns)]'
    doc = "Numbers as they are (trees handle gaps)" + (
        "; categories as integer codes (-1: missing or unseen)." if shape.categories else "."
    )
    return f'''def trees_view() -> ColumnTransformer:
    """{doc}"""
{codes}    steps = {steps}
    return ColumnTransformer(steps, verbose_feature_names_out=plain_name).set_output(transform="pandas")


def plain_name(part: str, column: str) -> str:
    """Column names every tree library accepts: letters, digits and underscores only."""
    return part + "__" + "".join(ch if ch.isalnum() else "_" for ch in str(column))
'''


def _native(options: ViewOptions, shape: _Shape) -> str:
    if not shape.categories:
        return '''def native_view() -> ColumnTransformer:
    """The numbers as they are (this task has no categories)."""
    steps = [("num", "passthrough", numeric_columns)]
    return ColumnTransformer(steps, verbose_feature_names_out=False).set_output(transform="pandas")
'''
    as_strings = (
        "AsStrings()"
        if options.rare_min_count
        else 'FunctionTransformer(to_strings, feature_names_out="one-to-one")'
    )
    head = f'''def native_view() -> ColumnTransformer:
    """Numbers as they are; categories as strings, for models that encode them themselves."""
    steps = [("num", "passthrough", numeric_columns), ("cat", {as_strings}, category_columns)]
    return ColumnTransformer(steps, verbose_feature_names_out=False).set_output(transform="pandas")


def to_strings(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype("object").fillna("(missing)").astype(str)
'''
    return head + ("\n\n" + _AS_STRINGS if options.rare_min_count else "")


_AS_STRINGS = '''class AsStrings(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Categories as strings; levels seen fewer than RARE_MIN_COUNT times when fitted become "(rare)"."""

    def fit(self, frame: pd.DataFrame, y: Any = None) -> AsStrings:
        self.feature_names_in_, self.n_features_in_ = np.asarray(frame.columns, dtype=object), frame.shape[1]
        counts = {column: values.value_counts() for column, values in to_strings(frame).items()}
        self.common_ = {column: set(n.index[n >= RARE_MIN_COUNT]) for column, n in counts.items()}
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = to_strings(frame)
        for column in out.columns:
            out[column] = out[column].where(out[column].isin(self.common_[column]), "(rare)")
        return out
'''


def _linear(options: ViewOptions, shape: _Shape) -> str:
    parts = ["numbers", "missing-value flags"]
    steps = '[("num", numbers, numeric_columns)'
    categories = ""
    if shape.categories:
        parts.append("one-hot categories")
        categories = f'    categories = OneHotEncoder(handle_unknown="infrequent_if_exist"{_rare(options, "min_frequency")})\n'
        steps += ', ("cat", categories, category_columns)'
    steps += "]"
    text = ""
    if shape.text:
        parts.append("TF-IDF words of the text")
        text = (
            '\n    steps += [(f"words_{c}", TfidfVectorizer(sublinear_tf=True, min_df=2, max_features=50000), c)'
            " for c in TEXT]"
        )
    scaled = {"standard": "Standardised", "quantile": "Quantile-normalised", "robust": "Robustly scaled"}
    doc = f"{scaled[options.scale]} " + ", ".join(parts[:-1]) + " and " + parts[-1] + "."
    return f'''def linear_view() -> ColumnTransformer:
    """{doc}"""
    numbers = make_pipeline(SimpleImputer(strategy=IMPUTE, add_indicator=True), {_SCALERS[options.scale][1]})
{categories}    steps = {steps}{text}
    return ColumnTransformer(steps, sparse_threshold=1.0)
'''


def _scaled(options: ViewOptions, shape: _Shape) -> str:
    scaled = {"standard": "Standardised", "quantile": "Quantile-normalised", "robust": "Robustly scaled"}
    categories, steps = "", '[("num", numbers, numeric_columns)]'
    if shape.categories:
        categories = (
            '    categories = OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=MAX_LEVELS, '
            f"sparse_output=False{_rare(options, 'min_frequency')})\n"
        )
        steps = '[("num", numbers, numeric_columns), ("cat", categories, category_columns)]'
    doc = f"{scaled[options.scale]} numbers with missing-value flags"
    doc += ", one-hot categories (their MAX_LEVELS most common levels)" if shape.categories else ""
    constant = "MAX_LEVELS = 20\n\n\n" if shape.categories else ""
    return f'''{constant}def scaled_view() -> ColumnTransformer:
    """{doc}, as one dense array: what distance, kernel, discriminant and neural models read."""
    numbers = make_pipeline(SimpleImputer(strategy=IMPUTE, add_indicator=True), {_SCALERS[options.scale][1]})
{categories}    return ColumnTransformer({steps}, sparse_threshold=0.0)
'''


def _words(options: ViewOptions, shape: _Shape) -> str:
    return '''def words_view() -> ColumnTransformer:
    """TF-IDF of word uni- and bi-grams seen at least twice, one vocabulary per text column. Case and
    punctuation marks are kept as tokens: they carry style (and sentiment) as much as the words do."""
    pattern = r"(?u)\\b\\w+\\b|[^\\w\\s]"
    vectorizer = {"ngram_range": (1, 2), "min_df": 2, "sublinear_tf": True, "token_pattern": pattern, "lowercase": False}
    return ColumnTransformer([(c, TfidfVectorizer(**vectorizer), c) for c in TEXT])
'''


def _chars(options: ViewOptions, shape: _Shape) -> str:
    return '''def chars_view() -> ColumnTransformer:
    """TF-IDF of character 1- to 5-grams, case kept: style, punctuation and word pieces."""
    vectorizer = {
        "analyzer": "char", "ngram_range": (1, 5), "min_df": 3, "max_features": 150000, "sublinear_tf": True,
        "lowercase": False,
    }
    return ColumnTransformer([(c, TfidfVectorizer(**vectorizer), c) for c in TEXT])
'''


_RENDER = {
    "trees": _trees,
    "native": _native,
    "linear": _linear,
    "scaled": _scaled,
    "words": _words,
    "chars": _chars,
}


def _fit_views(views: tuple[str, ...]) -> str:
    makers = ", ".join(f'"{v}": {v}_view' for v in views)
    text = [v for v in views if v in TEXT_VIEWS]
    if not text:
        return f'''def fit_views(x_train: pd.DataFrame, x_test: pd.DataFrame, names: tuple[str, ...]) -> tuple[dict, dict, dict]:
    """Fit each view once on train and test inputs together (never answers); split it back into the two."""
    makers = {{{makers}}}
    views, inputs, inputs_test = {{}}, {{}}, {{}}
    rows = np.arange(len(x_train) + len(x_test))
    for name in names:
        views[name] = makers[name]()
        both = views[name].fit_transform(pd.concat([x_train, x_test], ignore_index=True))
        inputs[name], inputs_test[name] = take(both, rows[: len(x_train)]), take(both, rows[len(x_train) :])
    return views, inputs, inputs_test
'''
    return f'''def fit_views(x_train: pd.DataFrame, x_test: pd.DataFrame, names: tuple[str, ...]) -> tuple[dict, dict, dict]:
    """Fit each view once on train and test inputs together (never answers); split it back into the two.
    Text views come from the run's cache when an earlier attempt fitted the same one on the same texts."""
    makers = {{{makers}}}
    views, inputs, inputs_test = {{}}, {{}}, {{}}
    frame = pd.concat([x_train, x_test], ignore_index=True)
    rows = np.arange(len(frame))
    for name in names:
        views[name], both = (cached_fit if name in {tuple(text)!r} else fresh_fit)(makers[name](), frame)
        inputs[name], inputs_test[name] = take(both, rows[: len(x_train)]), take(both, rows[len(x_train) :])
    return views, inputs, inputs_test


def fresh_fit(view: Any, frame: pd.DataFrame) -> tuple[Any, Any]:
    return view, view.fit_transform(frame)


def cached_fit(view: Any, frame: pd.DataFrame, most_mb: int = 512) -> tuple[Any, Any]:
    """fresh_fit, kept by name (the view's settings, the texts it reads): the harness shares ./cache
    with later attempts as ./input/cache. Only under the harness, and only views under most_mb."""
    import hashlib
    import pickle

    shared, own = INPUT / "cache", Path("cache")
    settings = sorted((k, repr(v)) for k, v in view.get_params(deep=True).items() if not hasattr(v, "get_params"))
    digest = hashlib.sha256(repr(settings).encode())
    digest.update(pd.util.hash_pandas_object(frame[list(TEXT)], index=False).to_numpy().tobytes())
    name = f"view-{{digest.hexdigest()[:24]}}.pkl"
    for folder in (shared, own):
        if (folder / name).is_file():
            with open(folder / name, "rb") as handle:
                return pickle.load(handle)
    view, both = fresh_fit(view, frame)
    if shared.is_dir() and getattr(both, "data", both).nbytes < most_mb * 2**20:
        own.mkdir(exist_ok=True)
        with open(own / (name + ".partial"), "wb") as handle:
            pickle.dump((view, both), handle, protocol=pickle.HIGHEST_PROTOCOL)
        (own / (name + ".partial")).replace(own / name)
    return view, both
'''


def read_views(block: str) -> tuple[str, ...]:
    """The views a preprocess block defines."""
    for view in ("trees", "native"):
        if f'{{"{view}": FunctionTransformer()}}' in block:  # the identity (also as older scripts spell it)
            return (view,)
    return tuple(v for v in VIEW_ORDER if f"def {v}_view(" in block)


def read_options(block: str) -> ViewOptions:
    """The options a preprocess block was written with (defaults where a constant is absent)."""
    constants: dict[str, object] = {}
    try:
        tree = syntax.parse(block)
    except SyntaxError:
        return ViewOptions()
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                constants[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    scale = next((k for k, (cls, _) in _SCALERS.items() if re.search(rf"\b{cls}\(", block)), "standard")
    return ViewOptions(
        rare_min_count=int(constants.get("RARE_MIN_COUNT", 0)),  # type: ignore[call-overload]
        impute=str(constants.get("IMPUTE", "median")),
        scale=scale,
    )
