"""The Combiner at the end of the train block: how members' predictions become one prediction.

    average      equal weights
    stack        a linear meta-model on the members' out-of-fold predictions (also calibrates
                 probabilities, so log-loss drafts use it even with one member)
    stack_boost  a small boosted-tree meta-model on the members' predictions and simple row
                 statistics (the feature table's numbers, the shape of any text)
Every version fits fold k's combination on the other folds, so out-of-fold scores stay honest.
"""

from __future__ import annotations

KINDS = ("average", "stack", "stack_boost")


_AVERAGE = '''class Combiner:
    """Averages the members' predictions with equal weights."""

    def fit(self, member_oof: dict[str, np.ndarray], target: np.ndarray, folds: np.ndarray, frame: Any) -> Combiner:
        return self

    def out_of_fold(self, member_oof: dict[str, np.ndarray], frame: Any) -> np.ndarray:
        return self.combine(member_oof, frame)

    def combine(self, member_pred: dict[str, np.ndarray], frame: Any) -> np.ndarray:
        return np.mean(list(member_pred.values()), axis=0)
'''

_STACK = '''from sklearn.linear_model import LinearRegression, LogisticRegression


class Combiner:
    """Stacks the members: a small linear model on their out-of-fold predictions decides how much
    each counts. Out-of-fold scores stay honest: fold k's combination is fitted on the other folds."""

    def fit(self, member_oof: dict[str, np.ndarray], target: np.ndarray, folds: np.ndarray, frame: Any) -> Combiner:
        self.oof_ = np.full(next(iter(member_oof.values())).shape, np.nan)
        for k in range(int(folds.max()) + 1):
            fit_rows, valid_rows = (folds >= 0) & (folds != k), folds == k
            metas = self._fit_metas(member_oof, target, fit_rows)
            self.oof_[valid_rows] = self._predict(metas, member_oof, valid_rows)
        self.metas_ = self._fit_metas(member_oof, target, folds >= 0)
        return self

    def out_of_fold(self, member_oof: dict[str, np.ndarray], frame: Any) -> np.ndarray:
        return self.oof_

    def combine(self, member_pred: dict[str, np.ndarray], frame: Any) -> np.ndarray:
        rows = np.ones(len(next(iter(member_pred.values()))), dtype=bool)
        return self._predict(self.metas_, member_pred, rows)

    def _columns(self) -> list[int | None]:
        """One meta-model for all classes (multi-class), else one per output column."""
        return [None] if PROBLEM == "multiclass" else list(range(N_OUTPUTS))

    def _fit_metas(self, preds: dict[str, np.ndarray], target: np.ndarray, rows: np.ndarray) -> list[Any]:
        metas = []
        for column in self._columns():
            answers = target[rows] if column is None or target.ndim == 1 else target[rows, column]
            if PROBLEM in ("regression", "multi_target_regression"):
                meta = LinearRegression(positive=True)
            else:
                meta = LogisticRegression(C=1.0, max_iter=1000)
            metas.append(meta.fit(meta_inputs(preds, column, rows), answers))
        return metas

    def _predict(self, metas: list[Any], preds: dict[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
        outputs = []
        for meta, column in zip(metas, self._columns()):
            z = meta_inputs(preds, column, rows)
            if PROBLEM == "multiclass":
                outputs.append(meta.predict_proba(z))
            elif PROBLEM in ("binary", "multilabel"):
                outputs.append(meta.predict_proba(z)[:, 1:2])
            else:
                outputs.append(meta.predict(z).reshape(-1, 1))
        return np.hstack(outputs)


def meta_inputs(preds: dict[str, np.ndarray], column: int | None, rows: np.ndarray) -> np.ndarray:
    """The members' predictions for these rows: log-probabilities for classes, numbers as they are."""
    z = np.hstack([p[rows] if column is None else p[rows, column : column + 1] for p in preds.values()])
    if PROBLEM in ("regression", "multi_target_regression"):
        return z
    if PROBLEM == "multiclass":
        return np.log(np.clip(z, 1e-6, 1.0))
    z = np.clip(z, 1e-6, 1 - 1e-6)
    return np.log(z / (1 - z))
'''


_STACK_BOOST = '''META = {
    "n_estimators": 600,
    "learning_rate": 0.02,
    "num_leaves": 7,
    "min_child_samples": 50,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.6,
    "reg_lambda": 5.0,
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

    def out_of_fold(self, member_oof: dict[str, np.ndarray], frame: Any) -> np.ndarray:
        return self.oof_

    def combine(self, member_pred: dict[str, np.ndarray], frame: Any) -> np.ndarray:
        return predict_outputs(self.meta_, meta_inputs(member_pred, frame))


def new_meta() -> Any:
    if PROBLEM in ("regression", "multi_target_regression"):
        return LGBMRegressor(**META, random_state=SEED, n_jobs=THREADS, verbose=-1)
    return LGBMClassifier(**META, random_state=SEED, n_jobs=THREADS, verbose=-1)


def meta_inputs(preds: dict[str, np.ndarray], frame: pd.DataFrame) -> np.ndarray:
    """The members' predictions (log-probabilities for classes) beside the rows' statistics."""
    z = np.hstack(list(preds.values()))
    if PROBLEM not in ("regression", "multi_target_regression"):
        z = np.log(np.clip(z, 1e-6, 1.0))
    return np.hstack([z, row_statistics(frame)])


def row_statistics(frame: pd.DataFrame) -> np.ndarray:
    """The feature table's numbers, and the shape of each text column."""
    numbers = frame.drop(columns=[c for c in TEXT if c in frame.columns]).select_dtypes("number")
    return np.hstack([numbers.to_numpy(dtype=float), *[text_shape(frame[c]) for c in TEXT if c in frame.columns]])


def text_shape(values: pd.Series) -> np.ndarray:
    """Length, words, word length, capitals and the share of each punctuation mark."""
    text = values.fillna("").astype(str)
    chars = text.str.len().clip(lower=1)
    words = text.str.split().str.len().clip(lower=1)
    marks = [text.str.count(re.escape(mark)) / chars for mark in (",", ".", ";", ":", "!", "?", "'", '"', "-")]
    columns = [text.str.len(), words, chars / words, text.str.count(r"[A-Z]") / chars, *marks]
    return np.column_stack([np.asarray(c, dtype=float) for c in columns])
'''


def combiner_code(kind: str) -> tuple[str, str]:
    """(imports, code) of the Combiner of this kind."""
    if kind == "stack":
        imports, code = _STACK.split("\n\n\n", 1)
        return imports, code
    if kind == "stack_boost":
        return "import re\n\nfrom lightgbm import LGBMClassifier, LGBMRegressor", _STACK_BOOST
    return "", _AVERAGE


def read_combine(block: str) -> str:
    if "def row_statistics(" in block:
        return "stack_boost"
    return "stack" if "def meta_inputs(" in block else "average"
