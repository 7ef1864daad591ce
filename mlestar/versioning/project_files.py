"""The text files of an exported project: dvc.yaml, params.yaml, README, ignore files. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass

from mlestar.contract import DEVICE_CPU, ENV_DEVICE, ENV_MODE, ENV_SAVE_MODEL, ENV_SEED, MODE_HANDOVER
from mlestar.execution.env import THREAD_VARIABLES

INPUT = "input"
OUTPUT = "output"
REFERENCE = "reference"
PARTS = "solution_parts"
STAGE = "train"
REMOTE_NAME = "storage"
SUBMISSION = "submission.csv"


@dataclass(frozen=True)
class ProjectFacts:
    """What the project files quote about the run."""

    task_name: str
    run_name: str
    metric: str | None
    score: float | None
    status: str
    seed: int
    seed_wired: bool
    threads: int
    has_parts: bool
    remote: str | None
    searched_rows: tuple[tuple[str, str, int], ...] = ()
    """(member, folds file in input/, rows in a fold): members run on the rows they were searched on."""


def dvc_yaml(facts: ProjectFacts) -> str:
    deps = ["solution.py", *([PARTS] if facts.has_parts else []), INPUT]
    caps = [f"{name}=${{threads}}" for name in THREAD_VARIABLES]
    threads = "\n      ".join(" ".join(caps[i : i + 3]) for i in range(0, len(caps), 3))
    return (
        "# Rebuilds the model and the submission from the DVC-tracked data in input/ (mlestar export).\n"
        "# The command gives solution.py the environment the run gave its final fit: the seed, the\n"
        "# thread caps, deterministic hashing, the request to save the fitted model, and the hand-over\n"
        "# mode (settings the search found stay frozen: nothing is searched again). It trains on the CPU,\n"
        f"# so it runs on any machine; {ENV_DEVICE}=cuda lets a script that supports it use a GPU.\n"
        "stages:\n"
        f"  {STAGE}:\n"
        "    cmd: >-\n"
        f"      env PYTHONHASHSEED=0 {ENV_SEED}=${{seed}} {ENV_SAVE_MODEL}=1 {ENV_MODE}={MODE_HANDOVER}\n"
        f"      {ENV_DEVICE}={DEVICE_CPU}\n"
        f"      {threads}\n"
        "      python solution.py\n"
        "    deps:\n" + "".join(f"      - {d}\n" for d in deps) + "    params:\n"
        "      - seed\n"
        "      - threads\n"
        "    outs:\n"
        f"      - {OUTPUT}  # test.npy, oof.npy, and model.pkl when the script saves its model\n"
        f"      - {SUBMISSION}\n"
    )


def params_yaml(facts: ProjectFacts) -> str:
    seed_note = (
        "the seed solution.py reads from $MLESTAR_SEED"
        if facts.seed_wired
        else "the run's seed; solution.py fixes its own seeds, so changing this changes nothing it computes"
    )
    return (
        "# Settings of the exported solution. dvc.yaml hands them to solution.py in its environment;\n"
        "# change one and `dvc repro` reruns the pipeline.\n"
        f"seed: {facts.seed}  # {seed_note}\n"
        f"threads: {facts.threads}  # thread caps ($MLESTAR_THREADS, $OMP_NUM_THREADS, ...) as in the run\n"
    )


def gitignore() -> str:
    return (
        "# Data and results live in DVC, not git.\n"
        f"/{INPUT}\n/{REFERENCE}\n/{OUTPUT}\n/{SUBMISSION}\n"
        "# Working folders of ensemble members, caches, and tool droppings.\n"
        "/parts\n__pycache__/\ncatboost_info/\n"
    )


DVCIGNORE_EXTRA = (
    "\n# Caches never belong to the tracked data (mlestar export).\n__pycache__/\n.ipynb_checkpoints/\n"
)

DVC_CONFIG = "[core]\n    analytics = false\n    check_update = false\n"
"""Committed: no analytics, no update check, for every clone."""


def dvc_local_config(site_cache_dir: str) -> str:
    """Not committed (.dvc/config.local): this machine's site cache, inside the project."""
    return f"[core]\n    site_cache_dir = {site_cache_dir}\n"


def requirements_txt(lines: list[str], dvc_line: str | None) -> str:
    text = "# The packages solution.py imports, at the versions the run used (mlestar export).\n"
    text += "".join(f"{line}\n" for line in lines)
    if dvc_line:
        text += f"# To rebuild with `dvc repro`:\n{dvc_line}\n"
    return text


def _searched_section(facts: ProjectFacts) -> str:
    """Which members run on a subsample of the rows, and why: the rebuild is exact because of it."""
    if not facts.searched_rows:
        return ""
    lines = "".join(
        f"- `{member}` runs on `{INPUT}/{folds}` ({n} rows in a fold, the others marked -1)\n"
        for member, folds, n in facts.searched_rows
    )
    return (
        "\n## Members run on the rows they were searched on\n\n"
        "The run had no time to refit these members on every row, so its submission holds the\n"
        "predictions of their search runs, which used a subsample of the rows. `solution.py` runs each\n"
        "on that subsample again (its `folds.npy` replaced by the file named), so it rebuilds exactly\n"
        "the run's submission:\n\n" + lines
    )


def readme(facts: ProjectFacts) -> str:
    score = f"{facts.score:.6g}" if isinstance(facts.score, int | float) else "none"
    parts = f"| `{PARTS}/` | the ensemble members solution.py runs |\n" if facts.has_parts else ""
    searched = "".join(f", {f}" for f in sorted({f for _, f, _ in facts.searched_rows}))
    remote = (
        f"The default DVC remote is `{facts.remote}`; `dvc push` sends the data (and, after a\n"
        "`dvc repro`, the outputs) there, and a clone gets them with `dvc pull`.\n"
        if facts.remote
        else "Add a remote with `dvc remote add -d storage PATH_OR_URL`, then `dvc push`; a clone gets the\n"
        "data with `dvc pull`.\n"
    )
    return f"""# {facts.task_name}: a solution exported by mlestar

The final solution of the mlestar run `{facts.run_name}` (metric {facts.metric or "unknown"},
cross-validated score {score}, status {facts.status}) as a project that `dvc repro` rebuilds from
versioned data. The code is in git; the data is in DVC.

| Path | What |
| --- | --- |
| `solution.py` | the standalone solution: reads `./{INPUT}`, writes `./{OUTPUT}` and `{SUBMISSION}` |
{parts}| `{INPUT}/` | the data (DVC, `{INPUT}.dvc`): train.parquet, test.parquet, target.npy, folds.npy (every row in a fold, as in the final fit){searched}, task.json, files/ (the task's own files) |
| `{REFERENCE}/{SUBMISSION}` | the run's submission (DVC, `{REFERENCE}.dvc`), to compare with |
| `params.yaml` | the seed and the thread count, handed to solution.py by `dvc.yaml` |
| `dvc.yaml` | the pipeline; `dvc.lock` records its inputs and outputs after a `dvc repro` |
| `requirements.txt` | the package versions the run used |

## Rebuild

```
python -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt
dvc pull --allow-missing # only in a clone: fetch the data (outputs come from `dvc repro`)
dvc repro                # runs solution.py: output/ (predictions, model) and {SUBMISSION}
cmp {SUBMISSION} {REFERENCE}/{SUBMISSION} && echo "same submission as the run"
git add dvc.lock && git commit -m "Reproduce the submission"
```

Change a file in `{INPUT}/` or a value in `params.yaml` and `dvc repro` reruns the pipeline;
`dvc status` says what changed.
{_searched_section(facts)}
## Share the data

{remote}"""
