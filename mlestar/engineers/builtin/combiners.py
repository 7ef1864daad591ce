"""The train block: cross-fitting on the harness folds, then the Combiner of the members' predictions.

    average      equal weights
    stack        a linear meta-model on the members' out-of-fold predictions (also calibrates
                 probabilities, so log-loss drafts use it even with one member)
    stack_boost  a small boosted-tree meta-model on the members' predictions and simple row
                 statistics (the feature table's numbers, the shape of any text)
Every Combiner fits fold k's combination on the other folds, so out-of-fold scores stay honest; its
oof_ holds those predictions after fit(). Code is written for the task's kind of answer.
"""

from __future__ import annotations

from mlestar.engineers.builtin.fixed_blocks import MULTI_OUTPUT, fold_fit, is_regression

KINDS = ("average", "stack", "stack_boost")
_TITLES = {
    "average": "the members' predictions averaged with equal weights",
    "stack": "the members stacked by a linear model on their out-of-fold predictions",
    "stack_boost": "the members stacked by a small boosted-tree model on their predictions and row statistics",
}

CROSS_FIT = """def cross_fit(model: Any, x: Any, target: np.ndarray, folds: np.ndarray, x_test: Any) -> tuple:
    n_folds, fitted = int(folds.max()) + 1, []
    oof, test_pred = np.full((len(target), N_OUTPUTS), np.nan), np.zeros((x_test.shape[0], N_OUTPUTS))
    for k in range(n_folds):
        fit_rows, valid_rows = np.flatnonzero((folds >= 0) & (folds != k)), np.flatnonzero(folds == k)
        fitted.append(FOLD_FIT)
        oof[valid_rows] = predict_outputs(fitted[-1], take(x, valid_rows))
        test_pred += predict_outputs(fitted[-1], x_test) / n_folds
    return oof, test_pred, fitted"""

_AVERAGE = """class Combiner:
    def fit(self, member_oof: dict[str, np.ndarray], target: np.ndarray, folds: np.ndarray, frame: Any) -> Combiner:
        self.oof_ = self.combine(member_oof, frame)
        return self

    def combine(self, member_pred: dict[str, np.ndarray], frame: Any) -> np.ndarray:
        return np.mean(list(member_pred.values()), axis=0)"""

_STACK = '''class Combiner:
    """Stacks the members: a small linear model on their out-of-fold predictions decides how much
    each counts. Out-of-fold scores stay honest: fold k's combination is fitted on the other folds."""

    def fit(self, member_oof: dict[str, np.ndarray], target: np.ndarray, folds: np.ndarray, frame: Any) -> Combiner:
        self.oof_ = np.full(next(iter(member_oof.values())).shape, np.nan)
        for k in range(int(folds.max()) + 1):
            fit_rows, valid_rows = (folds >= 0) & (folds != k), folds == k
            self.oof_[valid_rows] = predict_meta(fit_meta(member_oof, target, fit_rows), member_oof, valid_rows)
        self.meta_ = fit_meta(member_oof, target, folds >= 0)
        return self

    def combine(self, member_pred: dict[str, np.ndarray], frame: Any) -> np.ndarray:
        rows = np.ones(len(next(iter(member_pred.values()))), dtype=bool)
        return predict_meta(self.meta_, member_pred, rows)
'''

_ONE_META = '''def fit_meta(preds: dict[str, np.ndarray], target: np.ndarray, rows: np.ndarray) -> Any:
    return @META@.fit(meta_inputs(preds, rows), target[rows])


def predict_meta(meta: Any, preds: dict[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
    return @OUTPUT@


def meta_inputs(preds: dict[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
    """@DOC@"""
    z = np.hstack([p[rows] for p in preds.values()])
@TRANSFORM@'''

_META_PER_COLUMN = '''def fit_meta(preds: dict[str, np.ndarray], target: np.ndarray, rows: np.ndarray) -> list:
    """One meta-model per answer column."""
    return [@META@.fit(meta_inputs(preds, rows, j), target[rows, j]) for j in range(N_OUTPUTS)]


def predict_meta(metas: list, preds: dict[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
    return np.column_stack([@OUTPUT@ for j, meta in enumerate(metas)])


def meta_inputs(preds: dict[str, np.ndarray], rows: np.ndarray, j: int) -> np.ndarray:
    """@DOC@"""
    z = np.hstack([p[rows, j : j + 1] for p in preds.values()])
@TRANSFORM@'''

_STACK_BOOST = '''META = {
    "n_estimators": 600, "learning_rate": 0.02, "num_leaves": 7, "min_child_samples": 50, "subsample": 0.8,
    "subsample_freq": 1, "colsample_bytree": 0.6, "reg_lambda": 5.0,
}
"""The boosted meta-model: small, strongly regularised trees (it sees few, strong inputs)."""


class Combiner:
    """Stacks the members with a small boosted-tree model that reads their out-of-fold predictions
    and simple statistics of each row, so it can learn where each member is to be trusted."""

    def fit(self, member_oof: dict[str, np.ndarray], target: np.ndarray, folds: np.ndarray, frame: Any) -> Combiner:
        z = meta_inputs(member_oof, frame)
        self.oof_ = np.full(next(iter(member_oof.values())).shape, np.nan)
        for k in range(int(folds.max()) + 1):
            fit_rows, valid_rows = (folds >= 0) & (folds != k), folds == k
            meta = fit_model(new_meta(), z[fit_rows], target[fit_rows])
            self.oof_[valid_rows] = predict_outputs(meta, z[valid_rows])
        self.meta_ = fit_model(new_meta(), z[folds >= 0], target[folds >= 0])
        return self

    def combine(self, member_pred: dict[str, np.ndarray], frame: Any) -> np.ndarray:
        return predict_outputs(self.meta_, meta_inputs(member_pred, frame))


def new_meta() -> Any:
    return lightgbm.LGBM_CLASS(**META, random_state=SEED, n_jobs=THREADS, verbose=-1)


def meta_inputs(preds: dict[str, np.ndarray], frame: pd.DataFrame) -> np.ndarray:
    """The members' predictions (LOG_DOC) beside the rows' statistics."""
    z = np.hstack(list(preds.values()))LOG_LINE
    return np.hstack([z, row_statistics(frame)])


def row_statistics(frame: pd.DataFrame) -> np.ndarray:
    """The feature table's numbers[, and the shape of each text column]."""
ROW_STATISTICS'''

_ROWS_NUMBERS = """    return frame.select_dtypes("number").to_numpy(dtype=float)"""

_ROWS_TEXT = r'''    numbers = frame.drop(columns=[c for c in TEXT if c in frame.columns]).select_dtypes("number")
    return np.hstack([numbers.to_numpy(dtype=float), *[text_shape(frame[c]) for c in TEXT if c in frame.columns]])


def text_shape(values: pd.Series) -> np.ndarray:
    """Length, words, word length, capitals and the share of each punctuation mark."""
    text = values.fillna("").astype(str)
    chars = text.str.len().clip(lower=1)
    words = text.str.split().str.len().clip(lower=1)
    marks = [text.str.count(mark) / chars for mark in (",", r"\.", ";", ":", "!", r"\?", "'", '"', "-")]
    columns = [text.str.len(), words, chars / words, text.str.count(r"[A-Z]") / chars, *marks]
    return np.column_stack([np.asarray(c, dtype=float) for c in columns])'''

SINGLE_TITLE = "one member, its predictions as they are"


def title(kind: str) -> str:
    return _TITLES.get(kind, kind)


def render_train(kind: str, problem: str, has_text: bool, single: bool = False) -> str:
    """The whole train block: its opening comment, imports, cross_fit and the Combiner (`single`:
    one member averaged, so no Combiner: main keeps the member's predictions as they are)."""
    cross_fit = CROSS_FIT.replace("FOLD_FIT", fold_fit(problem))
    if single and kind == "average":
        return f"# Combination: {SINGLE_TITLE}.\n{cross_fit}\n"
    imports, combiner = _combiner(kind, problem, has_text)
    opening = f"# Combination: {title(kind)}."
    parts = [opening + "\n" + imports, cross_fit] if imports else [opening + "\n" + cross_fit]
    return "\n\n\n".join([*parts, combiner]) + "\n"


def _combiner(kind: str, problem: str, has_text: bool) -> tuple[str, str]:
    if kind == "stack":
        return _stack(problem)
    if kind == "stack_boost":
        return _stack_boost(problem, has_text)
    return "", _AVERAGE


def _stack(problem: str) -> tuple[str, str]:
    kind, per_column = _kind_of(problem), problem in MULTI_OUTPUT
    if kind == "numbers":
        imports, meta, output = "LinearRegression", "LinearRegression(positive=True)", "meta.predict(INPUTS)"
    else:
        imports, meta = "LogisticRegression", "LogisticRegression(C=1.0, max_iter=1000)"
        output = "meta.predict_proba(INPUTS)" + (
            "" if kind == "classes" else "[:, 1]" if per_column else "[:, 1:2]"
        )
    if kind == "numbers" and not per_column:
        output += ".reshape(-1, 1)"
    helpers = _META_PER_COLUMN if per_column else _ONE_META
    inputs = "meta_inputs(preds, rows, j)" if per_column else "meta_inputs(preds, rows)"
    helpers = (
        helpers.replace("@META@", meta)
        .replace("@OUTPUT@", output.replace("INPUTS", inputs))
        .replace("@DOC@", _META_DOC[kind])
        .replace("@TRANSFORM@", _META_TRANSFORM[kind])
    )
    return f"from sklearn.linear_model import {imports}", _STACK + "\n\n" + helpers


def _kind_of(problem: str) -> str:
    if is_regression(problem):
        return "numbers"
    return "classes" if problem == "multiclass" else "probabilities"


_META_TRANSFORM = {
    "numbers": "    return z",
    "classes": "    return np.log(np.clip(z, 1e-6, 1.0))",
    "probabilities": "    z = np.clip(z, 1e-6, 1 - 1e-6)\n    return np.log(z / (1 - z))",
}
_META_DOC = {
    "numbers": "The members' predictions for these rows, as they are.",
    "classes": "The members' log-probabilities for these rows.",
    "probabilities": "The members' log-odds for these rows.",
}


def _stack_boost(problem: str, has_text: bool) -> tuple[str, str]:
    regression = is_regression(problem)
    lgbm = "LGBMRegressor" if regression else "LGBMClassifier"
    imports = "import lightgbm"
    code = (
        _STACK_BOOST.replace("LGBM_CLASS", lgbm)
        .replace("LOG_DOC", "as they are" if regression else "log-probabilities")
        .replace("LOG_LINE", "" if regression else "\n    z = np.log(np.clip(z, 1e-6, 1.0))")
        .replace(
            "[, and the shape of each text column]", ", and the shape of each text column" if has_text else ""
        )
        .replace("ROW_STATISTICS", _ROWS_TEXT if has_text else _ROWS_NUMBERS)
    )
    return imports, code


def read_combine(block: str) -> str:
    if "def row_statistics(" in block:
        return "stack_boost"
    return "stack" if "def meta_inputs(" in block else "average"
