"""The environment a solution script sees: the caller's, minus secrets, plus the runner's settings.

Pure functions over mappings: the executor passes the environment it was given at its edge.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from mlestar.contract import ENV_THREADS
from mlestar.execution.base import Limits

_SECRET_WORDS = re.compile(r"KEY|TOKEN|SECRET|PASSW|PASSPHRASE|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE", re.I)
"""A variable whose name contains one of these words is dropped, whatever its value."""

_SECRET_PREFIXES = (
    "AWS_",
    "AZURE_",
    "GOOGLE_",
    "GCLOUD_",
    "GCP_",
    "OPENAI_",
    "ANTHROPIC_",
    "GEMINI_",
    "HF_",
    "HUGGING_FACE_",
    "HUGGINGFACE_",
    "MLFLOW_TRACKING_",
    "DATABRICKS_",
    "WANDB_",
    "COMET_",
    "NEPTUNE_",
    "KAGGLE_",
    "GITHUB_",
    "GH_",
    "GITLAB_",
    "CI_JOB_",
    "NPM_",
    "PYPI_",
    "TWINE_",
    "UV_PUBLISH_",
    "SSH_",
    "GPG_",
    "COHERE_",
    "MISTRAL_",
    "GROQ_",
    "DEEPSEEK_",
    "TOGETHER_",
    "XAI_",
    "OPENROUTER_",
    "LANGCHAIN_",
    "LANGSMITH_",
    "REPLICATE_",
    "VERTEX_",
    "RAY_ADDRESS",
)
"""Providers and services whose variables are all dropped (keys hide under many names)."""

_URL_WITH_CREDENTIALS = re.compile(r"://[^/@\s:]+:[^/@\s]+@")
"""user:password@host inside a URL, e.g. a tracking URI or a database URL."""

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "BLIS_NUM_THREADS",
    "LOKY_MAX_CPU_COUNT",
    "POLARS_MAX_THREADS",
    "RAYON_NUM_THREADS",
    ENV_THREADS,
)
"""Every thread knob the common numeric libraries read (LOKY: what n_jobs=-1 means in joblib)."""

QUIET_SETTINGS = (
    ("PYTHONHASHSEED", "0"),
    ("PYTHONUNBUFFERED", "1"),
    ("PYTHONDONTWRITEBYTECODE", "1"),
    ("MPLBACKEND", "Agg"),
    ("MLFLOW_DISABLE_TELEMETRY", "true"),
    ("DO_NOT_TRACK", "true"),
    ("DVC_NO_ANALYTICS", "1"),
    ("RAY_USAGE_STATS_ENABLED", "0"),
    ("HF_HUB_OFFLINE", "1"),
    ("HF_HUB_DISABLE_TELEMETRY", "1"),
    ("TRANSFORMERS_OFFLINE", "1"),
    ("WANDB_MODE", "disabled"),
)
"""Deterministic hashing, no display, unbuffered output (tails survive a kill), no telemetry."""

RUN_MARK_VARIABLE = "MLESTAR_RUN_MARK"
"""Marks every process a run starts, so strays that left the session can still be found."""
RAY_RUN_MARK_VARIABLE = "MLESTAR_RAY_RUN"
"""Marks the processes of one Ray run ("executor-run"), so they can be killed even after their
worker was, and all of one executor's by its prefix."""


def is_secret(name: str, value: str) -> bool:
    """True when a variable may carry a credential: by its name, its provider, or a URL's password."""
    upper = name.upper()
    if _SECRET_WORDS.search(upper) or upper.startswith(_SECRET_PREFIXES):
        return True
    return bool(_URL_WITH_CREDENTIALS.search(value))


def scrub(env: Mapping[str, str]) -> dict[str, str]:
    """The environment without anything that looks like a secret."""
    return {name: value for name, value in env.items() if not is_secret(name, value)}


def server_environment(base: Mapping[str, str]) -> dict[str, str]:
    """For the fork server: scrubbed, quiet, and single-threaded while it imports the libraries."""
    env = scrub(base)
    env.update(QUIET_SETTINGS)
    env.update((name, "1") for name in THREAD_VARIABLES)
    return env


def script_environment(base: Mapping[str, str], limits: Limits, run_mark: str) -> dict[str, str]:
    """For one script: scrubbed, quiet, thread caps from the limits, then the caller's extra pairs."""
    env = scrub(base)
    env.update(QUIET_SETTINGS)
    env.update((name, str(limits.threads)) for name in THREAD_VARIABLES)
    env[RUN_MARK_VARIABLE] = run_mark
    env.update(limits.env)
    return env
