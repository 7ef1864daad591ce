"""The harness contract: the one place that says how a solution script talks to the harness.

Both engineers write to it, every generated script follows it, the LLM prompts quote CONTRACT,
and docs/contract.md is this text (contract_markdown(); `python -m mlestar.contract` prints it and a
test keeps the two equal). Change it here and only here.
"""

from __future__ import annotations

# Inside an attempt's working folder (the script's current directory):
INPUT_DIR = "input"
"""Read-only inputs the harness prepares (symlinks into the run's data folder)."""
OUTPUT_DIR = "output"
"""Where the script writes its predictions; the harness reads and scores them."""

TRAIN_FILE = "train.parquet"
TEST_FILE = "test.parquet"
TARGET_FILE = "target.npy"
FOLDS_FILE = "folds.npy"
TASK_FILE = "task.json"
FILES_LINK = "files"
"""A link to the task's own folder, for extra files (per-row files, images)."""
CACHE_LINK = "cache"
"""In ./input: features earlier attempts of this run computed from the task's files (read-only)."""
CACHE_DIR = "cache"
"""An attempt's own newly computed features; the harness moves them into the run's shared cache."""

OOF_FILE = "oof.npy"
TEST_PRED_FILE = "test.npy"
MODEL_FILE = "model.pkl"
FROZEN_FILE = "frozen.json"
"""What a script that searched its settings found (a JSON object), written only in explore mode."""

ENV_THREADS = "MLESTAR_THREADS"
ENV_TIME_BUDGET = "MLESTAR_TIME_BUDGET"
ENV_SEED = "MLESTAR_SEED"
ENV_SAVE_MODEL = "MLESTAR_SAVE_MODEL"
"""Set to "1" on the final fit, and on a search attempt that runs once on every row (the hand-over
reuses its model): the script also saves its fitted predictor to output/model.pkl."""
ENV_MODE = "MLESTAR_MODE"
"""MODE_EXPLORE for the search's attempts; MODE_HANDOVER for the final fit and the export's rebuild."""
MODE_EXPLORE = "explore"
MODE_HANDOVER = "handover"
ENV_DEVICE = "MLESTAR_DEVICE"
"""DEVICE_CUDA when the script may use the GPUs CUDA_VISIBLE_DEVICES shows, else DEVICE_CPU; unset means cpu."""
DEVICE_CPU = "cpu"
DEVICE_CUDA = "cuda"

FROZEN = "FROZEN"
"""The top-level constant of a script that searches settings: None until the search froze them."""
FROZEN_UNSET = f"{FROZEN} = None"
EXPLORE_GUARD = f'if {FROZEN} is None and os.environ.get("{ENV_MODE}") == "{MODE_EXPLORE}":'
"""The one condition under which a script may do time-dependent work."""

BLOCK_MARKER = "# %% block: "
"""A line starting with this opens a named block; it runs to the next marker."""

CONTRACT = f"""\
HARNESS CONTRACT (every solution script follows it)
Inputs, in ./{INPUT_DIR}/ (read-only; never read anything outside ./{INPUT_DIR}/):
  {TRAIN_FILE}  the training table as given, answer columns included
  {TEST_FILE}   the test table; rows of every prediction on test follow its order
  {TARGET_FILE}   the encoded answer per training row: 0/1 for binary (1 = the second class in
                task.json "classes"), the class index for multi-class, floats for regression
                (shape (n,) or (n, k) for k targets), 0/1 per label for multi-label
  {FOLDS_FILE}    the validation fold of each training row (0..K-1); -1 means "not used in this run":
                never train or validate on those rows
  {TASK_FILE}   the task: id_column, target columns, classes, problem type, metric
  {FILES_LINK}/        the task's own folder, for extra files (per-row files, images)
  {CACHE_LINK}/        features earlier attempts of this run computed from {FILES_LINK}/ (one .npy each)
Outputs, in ./{OUTPUT_DIR}/ (create the folder):
  {OOF_FILE}      float array (n_train, n_outputs): for each row with fold k >= 0, the prediction of a model
                that never saw fold k; NaN on rows with fold -1
  {TEST_PRED_FILE}     float array (n_test, n_outputs): predictions for every test row, in test order
  {MODEL_FILE}    only when ${ENV_SAVE_MODEL}=1: a cloudpickle of an object whose .predict(frame) takes
                rows shaped like {TEST_FILE} and returns the same array as {TEST_PRED_FILE} would for them
  ./{CACHE_DIR}/ (optional, not in ./{OUTPUT_DIR}/): features computed from {FILES_LINK}/, one .npy per set, named
                by what was computed and from which files; the harness shares them as ./{INPUT_DIR}/{CACHE_LINK}/
  {FROZEN_FILE} only from a script that searched its settings (see FROZEN below): what it found,
                a JSON object
  n_outputs: 1 for binary (probability of the positive class) and regression, one per class for
  multi-class (probabilities, summing to 1), one per target for multi-target and multi-label
Rules:
  - use exactly the harness's folds; never choose your own split; the harness computes the score
  - fit nothing (scalers, encoders, target statistics) on validation or test rows' answers; test
    rows may be used only for unsupervised fitting of inputs, never with answers
  - never use columns that exist in train but not in test (the answers and their proxies)
  - seed everything with the SEED constant; use at most ${ENV_THREADS} threads (default 1)
  - use a GPU only when ${ENV_DEVICE} is "{DEVICE_CUDA}"; when it is "{DEVICE_CPU}" or unset, none is visible
  - finish well inside ${ENV_TIME_BUDGET} seconds when it is set (only guarded work may read it, see
    {FROZEN} below)
  - no exit(), no sys.exit(), no package installs, no network, no try/except that hides errors
  - the script is made of named blocks, each opened by a line "{BLOCK_MARKER}<name>"
FROZEN: settings found by a search are frozen, so the same script always computes the same thing
  - nothing may depend on the clock (time-boxed tuning, wall-clock early stopping, timeout=, reading
    ${ENV_TIME_BUDGET}) except inside the guard
        {EXPLORE_GUARD}
    or a top-level name assigned that condition; reading the clock only to print durations is fine
  - a script with such work has a top-level line "{FROZEN_UNSET}"; inside the guard it searches and
    writes what it found (a JSON object) to ./{OUTPUT_DIR}/{FROZEN_FILE}; outside it, it uses {FROZEN}
  - the harness sets ${ENV_MODE}={MODE_EXPLORE} for the search's attempts and {MODE_HANDOVER} for the final fit;
    after a search attempt it rewrites "{FROZEN_UNSET}" as "{FROZEN} = {{...what was found...}}" in
    the kept script, which then uses exactly those settings and never searches again
"""


def contract_markdown() -> str:
    """docs/contract.md: CONTRACT in a page of its own."""
    return (
        "# The harness contract\n\n"
        "Generated from `mlestar/contract.py` (`python -m mlestar.contract > docs/contract.md`); edit it there.\n\n"
        f"```text\n{CONTRACT}```\n"
    )


if __name__ == "__main__":
    print(contract_markdown(), end="")
