"""The harness contract: the one place that says how a solution script talks to the harness.

Both engineers write to it, every generated script follows it, the LLM prompts quote CONTRACT,
and docs/contract.md is this text. Change it here and only here.
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

ENV_THREADS = "MLESTAR_THREADS"
ENV_TIME_BUDGET = "MLESTAR_TIME_BUDGET"
ENV_SEED = "MLESTAR_SEED"
ENV_SAVE_MODEL = "MLESTAR_SAVE_MODEL"
"""Set to "1" on the final fit: the script also saves its fitted predictor to output/model.pkl."""

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
  n_outputs: 1 for binary (probability of the positive class) and regression, one per class for
  multi-class (probabilities, summing to 1), one per target for multi-target and multi-label
Rules:
  - use exactly the harness's folds; never choose your own split; the harness computes the score
  - fit nothing (scalers, encoders, target statistics) on validation or test rows' answers; test
    rows may be used only for unsupervised fitting of inputs, never with answers
  - never use columns that exist in train but not in test (the answers and their proxies)
  - seed everything with the SEED constant; use at most ${ENV_THREADS} threads (default 1)
  - finish well inside ${ENV_TIME_BUDGET} seconds when it is set
  - no exit(), no sys.exit(), no package installs, no network, no try/except that hides errors
  - the script is made of named blocks, each opened by a line "{BLOCK_MARKER}<name>"
"""
