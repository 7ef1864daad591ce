"""The tuning option of the model block: Optuna on the harness folds, and the FROZEN convention.

A time-boxed search depends on the machine's speed, so its result must not: a tuning script carries
a top-level `FROZEN = None`. Only when FROZEN is None and the harness says the search is exploring
(MLESTAR_MODE=explore) does it search, writing what it found to output/frozen.json; the search then
rewrites the line as `FROZEN = {...}` in the kept script, which from then on uses exactly those
settings (and the hand-over never searches). A recipe that carries frozen settings is rendered
without any tuning code. The names below are the harness contract's (mlestar.contract).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlestar import contract
from mlestar.engineers.builtin.pysrc import literal

if TYPE_CHECKING:
    from mlestar.engineers.builtin.members import ModelSpec

ENV_MODE = getattr(contract, "ENV_MODE", "MLESTAR_MODE")
MODE_EXPLORE = getattr(contract, "MODE_EXPLORE", "explore")
FROZEN_FILE = getattr(contract, "FROZEN_FILE", "frozen.json")
GUARD = f'FROZEN is None and os.environ.get("{ENV_MODE}") == "{MODE_EXPLORE}"'
"""The one condition under which a script may do time-dependent work."""


def frozen_constant(spec: ModelSpec) -> str:
    if spec.frozen:
        head = "FROZEN = "
        return (
            f"{head}{literal(spec.frozen_settings(), 0, len(head))}\n"
            '"""Settings found by tuning on this task, frozen by the search: used as they are."""'
        )
    return (
        'FROZEN = None\n"""Settings frozen by the search after tuning ({member: settings}); None: not yet."""'
    )


def render(problem_type: str, metric: str) -> str:
    """The tuning helpers (only for a recipe whose settings are not frozen yet)."""
    code = (
        _TUNED_SETTINGS.replace("GUARD", GUARD)
        .replace("ENV_TIME_BUDGET", contract.ENV_TIME_BUDGET)
        .replace("FROZEN_FILE", FROZEN_FILE)
    )
    return code + "\n\n" + _TUNE + "\n\n" + _loss(problem_type, metric)


_TUNED_SETTINGS = '''def tuned_settings(name: str, settings: dict[str, Any], space: dict[str, tuple], build: Any, x: Any,
                   target: np.ndarray, folds: np.ndarray) -> dict[str, Any]:
    """The member's settings: searched now only while the search explores (the study is time-boxed, so
    what it finds goes to output/FROZEN_FILE for the search to freeze into this script); else the
    frozen ones, or the defaults (a hand-over never searches)."""
    if GUARD:
        time_box = TUNE_SHARE * float(os.environ.get("ENV_TIME_BUDGET", "600"))
        found = tune(build, settings, space, x, target, folds, time_box)
        OUTPUT.mkdir(exist_ok=True)
        (OUTPUT / "FROZEN_FILE").write_text(json.dumps({name: found}))
        return {**settings, **found}
    return {**settings, **(FROZEN or {}).get(name, {})}'''

_TUNE = '''def tune(build: Any, settings: dict[str, Any], space: dict[str, tuple], x: Any, target: np.ndarray,
         folds: np.ndarray, time_box: float) -> dict[str, Any]:
    """Optuna search of the settings, scored on the first two harness folds: TUNE_TRIALS trials or the
    time box. The study starts from the current settings, so it finds something at least as good."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: optuna.Trial) -> float:
        trial_settings = {**settings, **{name: suggest(trial, name, *bounds) for name, bounds in space.items()}}
        return validation_loss(build(trial_settings), x, target, folds)

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=SEED))
    study.enqueue_trial({name: settings[name] for name in space if name in settings})
    study.optimize(objective, n_trials=TUNE_TRIALS, timeout=time_box)
    print(f"tuning: {len(study.trials)} trials, best loss {study.best_value:.5f}: {study.best_params}", flush=True)
    return dict(study.best_params)


def suggest(trial: optuna.Trial, name: str, low: float, high: float, scale: str) -> float | int:
    if scale == "int":
        return trial.suggest_int(name, int(low), int(high))
    return trial.suggest_float(name, low, high, log=scale == "log")


def validation_loss(model: Any, x: Any, target: np.ndarray, folds: np.ndarray) -> float:
    """Mean loss on the first two harness folds (what tuning minimises; the harness scores the run)."""
    losses = []
    for k in range(min(2, int(folds.max()) + 1)):
        fit_rows, valid_rows = np.flatnonzero((folds >= 0) & (folds != k)), np.flatnonzero(folds == k)
        fitted = fit_model(model, take(x, fit_rows), target[fit_rows])
        losses.append(loss(target[valid_rows], predict_outputs(fitted, take(x, valid_rows))))
    return float(np.mean(losses))'''

_LOSSES = {
    "class_log_loss": '''def loss(answers: np.ndarray, predicted: np.ndarray) -> float:
    """Log loss: a smooth stand-in for any classification metric."""
    p = np.clip(predicted, 1e-7, 1 - 1e-7)
    return float(-np.mean(np.log(p[np.arange(len(answers)), answers.astype(int)])))''',
    "log_loss": '''def loss(answers: np.ndarray, predicted: np.ndarray) -> float:
    """Log loss: a smooth stand-in for any classification metric."""
    p = np.clip(predicted, 1e-7, 1 - 1e-7)
    answers = answers.reshape(len(answers), -1)
    return float(-np.mean(answers * np.log(p) + (1 - answers) * np.log(1 - p)))''',
    "squared_log": '''def loss(answers: np.ndarray, predicted: np.ndarray) -> float:
    """Squared error of log1p values, as RMSLE counts it."""
    answers = answers.reshape(len(answers), -1)
    return float(np.mean((np.log1p(np.clip(predicted, 0, None)) - np.log1p(answers)) ** 2))''',
    "absolute": """def loss(answers: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(np.abs(predicted - answers.reshape(len(answers), -1))))""",
    "squared": """def loss(answers: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean((predicted - answers.reshape(len(answers), -1)) ** 2))""",
}


def _loss(problem_type: str, metric: str) -> str:
    kind = loss_kind(problem_type, metric)
    if kind == "log_loss" and problem_type == "multiclass":
        kind = "class_log_loss"
    return _LOSSES[kind]


def loss_kind(problem_type: str, metric: str) -> str:
    """The loss tuning minimises: matched to the metric where that is cheap, else the usual one."""
    if "regression" not in problem_type:
        return "log_loss"
    if "rmsle" in metric or "msle" in metric or "squared_log" in metric:
        return "squared_log"
    if "mae" in metric or "absolute" in metric:
        return "absolute"
    return "squared"
