"""The final solution.py handed to the user: it reproduces submission.csv with no mlestar import.

A single-script solution is the script itself plus a "submission" block that turns output/test.npy
into the submission file. An ensemble becomes a small driver that runs each member script (kept in
solution_parts/) in its own folder and combines their predictions the way the harness did.
"""

from __future__ import annotations

from pathlib import Path

from mlestar.contract import BLOCK_MARKER, FILES_LINK, INPUT_DIR, OUTPUT_DIR, TEST_PRED_FILE
from mlestar.task.spec import ProblemType, TaskSpec

_SUBMISSION = '''
{marker}submission
SUBMISSION_FILE = "submission.csv"
SAMPLE_SUBMISSION = {sample!r}  # in the task folder, seen through ./input/files
ID_COLUMN = {id_column!r}
PREDICTION_COLUMNS = {columns!r}
CLASSES = {classes!r}
VALUE_KIND = {kind!r}  # "label", "probability" or "number"
MULTICLASS = {multiclass!r}
ROW_ORDER = {row_order!r}  # "sample": the sample submission's order; "test": the test file's


def write_submission() -> None:
    """Turn output/test.npy into a submission shaped exactly like the sample submission."""
    import numpy as np
    import pandas as pd

    test = pd.read_parquet("{input}/test.parquet")
    pred = np.load("{output}/{test_pred}").reshape(len(test), -1)
    if VALUE_KIND == "label":
        index = (pred[:, 0] >= 0.5).astype(int) if not MULTICLASS else pred.argmax(axis=1)
        values = pd.DataFrame({{PREDICTION_COLUMNS[0]: [CLASSES[i] for i in index]}})
    else:
        if VALUE_KIND == "probability":
            pred = np.clip(pred, 1e-15, 1 - 1e-15)
            if MULTICLASS:
                pred = pred / pred.sum(axis=1, keepdims=True)
        values = pd.DataFrame(pred, columns=PREDICTION_COLUMNS)
    if ID_COLUMN is None:
        values.to_csv(SUBMISSION_FILE, index=False)
        return
    values.insert(0, ID_COLUMN, test[ID_COLUMN].to_numpy())
    if SAMPLE_SUBMISSION and ROW_ORDER == "sample":
        sample = pd.read_csv("{input}/{files}/" + SAMPLE_SUBMISSION)
        values.index = values[ID_COLUMN].astype(str)
        values = values.loc[sample[ID_COLUMN].astype(str)].reset_index(drop=True)
        values[ID_COLUMN] = sample[ID_COLUMN].to_numpy()
        values = values[list(sample.columns)]
    values.to_csv(SUBMISSION_FILE, index=False)


if __name__ == "__main__":
    write_submission()
'''


def submission_block(spec: TaskSpec) -> str:
    sample = None
    if spec.sample_submission_path is not None:
        sample = str(spec.sample_submission_path.relative_to(spec.task_dir))
    return _SUBMISSION.format(
        marker=BLOCK_MARKER,
        sample=sample,
        id_column=spec.id_column,
        columns=list(spec.target_columns),
        classes=list(spec.classes or []),
        kind=spec.submission.value_kind,
        multiclass=spec.problem_type is ProblemType.MULTICLASS,
        row_order=spec.submission.row_order,
        input=INPUT_DIR,
        output=OUTPUT_DIR,
        files=FILES_LINK,
        test_pred=TEST_PRED_FILE,
    )


def standalone_script(script: str, spec: TaskSpec) -> str:
    return script.rstrip("\n") + "\n\n" + submission_block(spec)


_ENSEMBLE = '''"""Final solution: an ensemble of {n} solution scripts, combined by {kind}.

Each member script in solution_parts/ runs in its own folder under parts/, reading ./input like
any solution; their out-of-fold and test predictions are then combined here. Written by mlestar.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

INPUT = Path("{input}")
OUTPUT = Path("{output}")
MEMBERS = {members!r}
WEIGHTS = {weights!r}  # used by "average" and "greedy"
KIND = {kind!r}
CLASSIFICATION = {classification!r}
MULTICLASS = {multiclass!r}


{marker}members
def run_member(name: str) -> tuple[np.ndarray, np.ndarray]:
    work = Path("parts") / name
    work.mkdir(parents=True, exist_ok=True)
    link = work / "input"
    if not link.exists():
        link.symlink_to(INPUT.resolve())
    script = Path("solution_parts") / f"{{name}}.py"
    subprocess.run([sys.executable, str(script.resolve())], cwd=work, check=True, env=os.environ.copy())
    return np.load(work / "output" / "oof.npy"), np.load(work / "output" / "test.npy")


{marker}combine
def stack(oofs: list[np.ndarray], tests: list[np.ndarray]) -> np.ndarray:
    """A linear meta-model fitted on the members' out-of-fold predictions."""
    from sklearn.linear_model import LogisticRegression, Ridge

    y = np.load(INPUT / "target.npy")
    used = np.load(INPUT / "folds.npy") >= 0

    def features(arrays: list[np.ndarray]) -> np.ndarray:
        x = np.hstack(arrays)
        if CLASSIFICATION:
            x = np.clip(x, 1e-6, 1 - 1e-6)
            x = np.log(x / (1 - x))
        return x

    if CLASSIFICATION:
        meta = LogisticRegression(C=1.0, max_iter=300, tol=1e-4).fit(features(oofs)[used], y[used])
        proba = meta.predict_proba(features(tests))
        return proba if MULTICLASS else proba[:, [1]]
    columns = []
    for j in range(tests[0].shape[1]):
        target = y if y.ndim == 1 else y[:, j]
        meta = Ridge(alpha=1.0).fit(features([o[:, [j]] for o in oofs])[used], target[used])
        columns.append(meta.predict(features([t[:, [j]] for t in tests])))
    return np.column_stack(columns)


def combine(oofs: list[np.ndarray], tests: list[np.ndarray]) -> np.ndarray:
    if KIND == "stacking":
        pred = stack(oofs, tests)
    else:
        w = np.asarray(WEIGHTS, dtype=float)
        pred = np.tensordot(w / w.sum(), np.stack(tests), axes=1)
    if MULTICLASS:
        pred = np.clip(pred, 1e-6, 1.0)
        pred = pred / pred.sum(axis=1, keepdims=True)
    return pred


{marker}main
def main() -> None:
    results = [run_member(name) for name in MEMBERS]
    OUTPUT.mkdir(exist_ok=True)
    np.save(OUTPUT / "test.npy", combine([r[0] for r in results], [r[1] for r in results]))


if __name__ == "__main__":
    main()
'''


def ensemble_script(spec: TaskSpec, members: list[str], kind: str, weights: list[float]) -> str:
    body = _ENSEMBLE.format(
        n=len(members),
        kind=kind,
        input=INPUT_DIR,
        output=OUTPUT_DIR,
        members=members,
        weights=weights,
        classification=spec.problem_type.is_classification,
        multiclass=spec.problem_type is ProblemType.MULTICLASS,
        marker=BLOCK_MARKER,
    )
    return standalone_script(body, spec)


_TRIVIAL = '''"""Fallback solution: no solution script worked, so this predicts the training answers' prior.

Class frequencies for classification, the mean for regression: correctly shaped, and a floor that
any real model should beat. Written by mlestar.
"""

from pathlib import Path

import numpy as np
import pandas as pd

INPUT = Path("{input}")
OUTPUT = Path("{output}")


{marker}predict
def main() -> None:
    y = np.load(INPUT / "target.npy")
    n_test = len(pd.read_parquet(INPUT / "test.parquet"))
    if {binary!r}:
        row = np.array([y.mean()])
    elif {multiclass!r}:
        row = np.bincount(y.astype(int), minlength={n_outputs}) / len(y)
    else:
        row = y.reshape(len(y), -1).mean(axis=0)
    OUTPUT.mkdir(exist_ok=True)
    np.save(OUTPUT / "test.npy", np.tile(row, (n_test, 1)))


if __name__ == "__main__":
    main()
'''


def trivial_script(spec: TaskSpec) -> str:
    body = _TRIVIAL.format(
        input=INPUT_DIR,
        output=OUTPUT_DIR,
        marker=BLOCK_MARKER,
        binary=spec.problem_type is ProblemType.BINARY,
        multiclass=spec.problem_type is ProblemType.MULTICLASS,
        n_outputs=spec.n_outputs,
    )
    return standalone_script(body, spec)


def write_parts(parts_dir: Path, scripts: dict[str, str]) -> None:
    parts_dir.mkdir(parents=True, exist_ok=True)
    for name, code in scripts.items():
        (parts_dir / f"{name}.py").write_text(code)
