"""The blocks no refinement rewrites: load (the inputs and the task's shape of answers), predict, main.

They depend on the task alone and talk to the refinable blocks through a few stable names:
FeatureMaker (features), fit_views (preprocess), VIEWS and make_models (model), cross_fit and
Combiner (train). Predict and main come in two forms: one member averaged (the short form: no
Combiner, no member loop) or members combined; after a refinement splices a block, the engineer's
settle re-renders them (and train, and load: its fit_model is there only for the code that calls it)
in the form the new recipe calls for.
"""

from __future__ import annotations

from mlestar import contract

MULTI_OUTPUT = ("multi_target_regression", "multilabel")
"""Problems answered by one model per answer column."""


def is_regression(problem: str) -> bool:
    return "regression" in problem


def needs_fit_model(problem: str, tuned: bool, combine: str) -> bool:
    """Whether the load block defines fit_model: for one model per answer column, for tuning and for
    the boosted meta-model. Elsewhere cross_fit fits a copy of the model itself (see fold_fit)."""
    return problem in MULTI_OUTPUT or tuned or combine == "stack_boost"


def fold_fit(problem: str) -> str:
    """cross_fit's fit of one fold: fit_model where the answers have several columns, else a copy."""
    if problem in MULTI_OUTPUT:
        return "fit_model(model, take(x, fit_rows), target[fit_rows])"
    return "copy.deepcopy(model).fit(take(x, fit_rows), target[fit_rows])"


def render_load(problem: str, fit_model: bool = True) -> str:
    """load_inputs and the helpers the other blocks call (fit_model only when `fit_model`)."""
    c = contract
    helpers = (
        [_TAKE, _fit_model(problem), _predict_outputs(problem)]
        if fit_model
        else [_TAKE, _predict_outputs(problem)]
    )
    return f'''def load_inputs() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    train, test = pd.read_parquet(INPUT / "{c.TRAIN_FILE}"), pd.read_parquet(INPUT / "{c.TEST_FILE}")
    return train, test, np.load(INPUT / "{c.TARGET_FILE}"), np.load(INPUT / "{c.FOLDS_FILE}")  # fold -1: a row left out


''' + "\n\n\n".join(helpers)


_TAKE = """def take(x: Any, rows: np.ndarray) -> Any:
    return x.iloc[rows] if isinstance(x, pd.DataFrame) else x[rows]"""


def _fit_model(problem: str) -> str:
    if problem in MULTI_OUTPUT:
        return """def fit_model(model: Any, x: Any, y: np.ndarray) -> list:
    return [copy.deepcopy(model).fit(x, y[:, j]) for j in range(y.shape[1])]  # one fitted copy per answer"""
    return """def fit_model(model: Any, x: Any, y: np.ndarray) -> Any:
    return copy.deepcopy(model).fit(x, y)  # a fitted copy: the model itself stays unfitted, for the next fold"""


_PREDICT_OUTPUTS = {
    "binary": ("model: Any", "model.predict_proba(x)[:, 1].reshape(-1, 1)"),
    "regression": ("model: Any", "np.asarray(model.predict(x), dtype=float).reshape(-1, 1)"),
    "multilabel": ("models: list", "np.column_stack([m.predict_proba(x)[:, 1] for m in models])"),
    "multi_target_regression": (
        "models: list",
        "np.column_stack([np.asarray(m.predict(x), dtype=float) for m in models])",
    ),
}
"""Per kind of answer: predict_outputs' argument and what it returns, shaped (rows, N_OUTPUTS)."""


def _predict_outputs(problem: str) -> str:
    if problem == "multiclass":
        return '''def predict_outputs(model: Any, x: Any) -> np.ndarray:
    """Class probabilities, one column per class of the task (a class a fold never saw gets 0)."""
    probabilities = np.zeros((x.shape[0], N_OUTPUTS))
    probabilities[:, np.asarray(model.classes_, dtype=int)] = model.predict_proba(x)
    return probabilities'''
    argument, expression = _PREDICT_OUTPUTS.get(problem, _PREDICT_OUTPUTS["binary"])
    return f"""def predict_outputs({argument}, x: Any) -> np.ndarray:
    return {expression}"""


def render_predict(single: bool = False, files: bool = False) -> str:
    """The Predictor the hand-over pickles; `single`: one member on one view, no combination. Its
    predict says where a row's files are looked for only where the rows have files (`files`)."""
    doc = f'        """Predictions for rows shaped like {contract.TEST_FILE} (their files live where test\'s do)."""\n'
    doc = doc if files else ""
    if single:
        return _SINGLE_PREDICT.replace("DOC\n", doc)
    return f"""class Predictor:
    def __init__(self, features: Any, views: dict, members: dict[str, tuple[str, list]], combiner: Any) -> None:
        self.features, self.views, self.members, self.combiner = features, views, members, combiner

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
{doc}        x, member_pred = self.features.transform(frame, "test"), {{}}
        for name, (view, fitted) in self.members.items():
            inputs = self.views[view].transform(x)
            member_pred[name] = np.mean([predict_outputs(m, inputs) for m in fitted], axis=0)
        return self.combiner.combine(member_pred, x)"""


_SINGLE_PREDICT = """class Predictor:
    def __init__(self, features: Any, view: Any, fitted: list) -> None:
        self.features, self.view, self.fitted = features, view, fitted

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
DOC
        inputs = self.view.transform(self.features.transform(frame, "test"))
        return np.mean([predict_outputs(m, inputs) for m in self.fitted], axis=0)"""


def render_main(single: bool = False) -> str:
    """The entry point: cross-fit every member and combine them; `single`: cross-fit the one member
    alone. Its work sits under `if __name__ == "__main__":` itself (no main function to call), as in
    a one-file training script; importing the script runs nothing."""
    c = contract
    if single:
        return _single_main()
    return f'''import time

if __name__ == "__main__":
    train, test, target, folds = load_inputs()
    features = FeatureMaker().fit(train, test)
    x_train, x_test = features.transform(train, "train"), features.transform(test, "test")
    views, inputs, inputs_test = fit_views(x_train, x_test, VIEWS)
    member_oof, member_test, members = {{}}, {{}}, {{}}
    for name, (view, model) in make_models(inputs, target, folds).items():
        start = time.time()
        member_oof[name], member_test[name], fitted = cross_fit(model, inputs[view], target, folds, inputs_test[view])
        members[name] = (view, fitted)
        print(f"{{name}}: cross-fitted in {{time.time() - start:.1f}}s", flush=True)
    combiner = Combiner().fit(member_oof, target, folds, x_train)
    OUTPUT.mkdir(exist_ok=True)
    np.save(OUTPUT / "{c.OOF_FILE}", combiner.oof_)
    np.save(OUTPUT / "{c.TEST_PRED_FILE}", combiner.combine(member_test, x_test))
    if SAVE_MODEL:
        (OUTPUT / "{c.MODEL_FILE}").write_bytes(cloudpickle.dumps(Predictor(features, views, members, combiner)))'''


def _single_main() -> str:
    c = contract
    return f'''if __name__ == "__main__":
    train, test, target, folds = load_inputs()
    features = FeatureMaker().fit(train, test)
    x_train, x_test = features.transform(train, "train"), features.transform(test, "test")
    views, inputs, inputs_test = fit_views(x_train, x_test, VIEWS)
    [(view, model)] = make_models(inputs, target, folds).values()
    oof, test_pred, fitted = cross_fit(model, inputs[view], target, folds, inputs_test[view])
    OUTPUT.mkdir(exist_ok=True)
    np.save(OUTPUT / "{c.OOF_FILE}", oof)
    np.save(OUTPUT / "{c.TEST_PRED_FILE}", test_pred)
    if SAVE_MODEL:
        (OUTPUT / "{c.MODEL_FILE}").write_bytes(cloudpickle.dumps(Predictor(features, views[view], fitted)))'''
