"""Overrides of the task's inferences: a task.yaml beside the data, and CLI flags.

Keys are TaskSpec field names, plus the short names train, test and sample_submission for the
paths. Flags win over task.yaml; both win over inference. Values from flags may be strings
("a,b" for a list, "true" for a boolean); they are converted here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlestar.errors import ConfigError
from mlestar.metrics import get_metric
from mlestar.task.spec import ProblemType

TASK_YAML = "task.yaml"
FLAG = "flag"
YAML = "task.yaml"

_ALIASES = {"train_path": "train", "test_path": "test", "sample_submission_path": "sample_submission"}
_PATHS = ("train", "test", "sample_submission")
_TEXT = ("name", "description", "metric")
_OPTIONAL_TEXT = ("id_column", "label_column", "group_column")
_LISTS = ("target_columns", "train_target_columns", "classes", "extra_paths")
_SUBMISSION_KEYS = ("columns", "value_kind", "row_order", "dtypes")
_NUMBERS = ("table_memory_mb",)
"""Settings of intake itself (not TaskSpec fields): the memory one table may take as pandas."""
KNOWN_KEYS = (
    *_PATHS, *_TEXT, *_OPTIONAL_TEXT, *_LISTS, *_NUMBERS, "problem_type", "lower_is_better", "submission",
)  # fmt: skip


@dataclass(frozen=True)
class Overrides:
    """The merged overrides and where each came from ("task.yaml" or "flag")."""

    values: Mapping[str, Any] = field(default_factory=dict)
    origin: Mapping[str, str] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def source(self, key: str, otherwise: str = "inferred") -> str:
        return self.origin.get(key, otherwise)


def load_overrides(task_dir: Path, flags: Mapping[str, Any] | None) -> Overrides:
    """task.yaml (if present) merged with the flags, each value checked and converted."""
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for where, raw in ((YAML, _read_task_yaml(task_dir)), (FLAG, dict(flags or {}))):
        for key, value in raw.items():
            if value is None and where == FLAG:
                continue  # an unset flag overrides nothing
            name = _ALIASES.get(key, key)
            values[name] = _convert(name, value, where)
            origin[name] = where
    return Overrides(values, origin)


def _read_task_yaml(task_dir: Path) -> dict[str, Any]:
    path = task_dir / TASK_YAML
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"expected valid YAML in {path}, found: {str(exc).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping of field: value in {path}, found {type(data).__name__}")
    return data


def _convert(key: str, value: Any, where: str) -> Any:
    if key not in KNOWN_KEYS:
        raise ConfigError(f"expected a task field ({', '.join(KNOWN_KEYS)}) in {where}, found {key!r}")
    if key in _LISTS:
        return _as_tuple(key, value, where)
    if key == "problem_type":
        return _problem_type(value, where)
    if key == "lower_is_better":
        return _as_bool(value, where)
    if key == "metric":
        return get_metric(str(value)).name
    if key == "submission":
        return _submission(value, where)
    if key in _NUMBERS:
        return _positive_int(key, value, where)
    if key in _OPTIONAL_TEXT and (value is None or str(value).strip().lower() in ("", "none", "null")):
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ConfigError(f"expected text for {key} in {where}, found {value!r}")
    return str(value)


def _as_tuple(key: str, value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, list | tuple):
        items = [str(v) for v in value]
    else:
        raise ConfigError(f"expected a list (or comma-separated text) for {key} in {where}, found {value!r}")
    if not items and key in ("target_columns", "train_target_columns"):
        raise ConfigError(f"expected at least one column for {key} in {where}, found none")
    return tuple(items)


def _positive_int(key: str, value: Any, where: str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        number = 0
    if number <= 0 or isinstance(value, bool | float):
        raise ConfigError(
            f"expected a positive whole number of megabytes for {key} in {where}, found {value!r}"
        )
    return number


def _problem_type(value: Any, where: str) -> ProblemType:
    try:
        return ProblemType(str(value).strip().lower().replace("-", "_"))
    except ValueError:
        known = ", ".join(p.value for p in ProblemType)
        raise ConfigError(f"expected problem_type one of {known} in {where}, found {value!r}") from None


def _as_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "lower"):
        return True
    if text in ("false", "no", "0", "higher"):
        return False
    raise ConfigError(f"expected true or false for lower_is_better in {where}, found {value!r}")


def _submission(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not set(value) <= set(_SUBMISSION_KEYS):
        raise ConfigError(
            f"expected submission as a mapping with keys among {', '.join(_SUBMISSION_KEYS)} in {where}, found {value!r}"
        )
    out = dict(value)
    for key in ("columns", "dtypes"):
        if key in out:
            out[key] = _as_tuple(key, out[key], where)
    if out.get("value_kind", "label") not in ("label", "probability", "number"):
        raise ConfigError(
            f"expected submission value_kind label, probability or number in {where}, found {out['value_kind']!r}"
        )
    if out.get("row_order", "sample") not in ("sample", "test"):
        raise ConfigError(
            f"expected submission row_order sample or test in {where}, found {out['row_order']!r}"
        )
    return out
