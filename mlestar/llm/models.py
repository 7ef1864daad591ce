"""Per-model settings: context window, output cap, temperature support, thinking budget, price,
search fee and timeout, from the table shipped with mlestar (models.yaml) and a file of the
user's own (--llm-models FILE or MLESTAR_LLM_MODELS), whose fields win.

Read once at the CLI edge; lookup() turns a model name into a frozen ModelInfo.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlestar.errors import ConfigError

BUILTIN_FILE = Path(__file__).with_name("models.yaml")
_SECTIONS = ("hosted", "local", "models")
_NUMBERS = {"context_window": int, "max_output_tokens": int, "thinking_budget": int, "timeout_s": float}
_EFFORTS = ("minimal", "low", "medium", "high")


@dataclass(frozen=True)
class ModelInfo:
    context_window: int | None = None
    max_output_tokens: int | None = None
    temperature: bool = True
    """False: the model refuses a temperature (reasoning models); none is sent."""
    thinking_budget: int | None = None
    """Tokens a call may think before answering, on top of the answer's cap."""
    reasoning_effort: str | None = None
    price: tuple[float, float] | None = None
    """USD per million (input, output) tokens; None when unknown."""
    search_fee: float = 0.0
    """USD per grounded prompt (Gemini) or web search (Claude)."""
    timeout_s: float | None = None


@dataclass(frozen=True)
class ModelTable:
    builtin: dict[str, Any]
    user: dict[str, Any]
    source: str = ""
    """The user's file, named in error messages."""

    @classmethod
    def load(cls, user_file: Path | None = None) -> ModelTable:
        builtin = _read(BUILTIN_FILE)
        if user_file is None:
            return cls(builtin, {})
        if not user_file.is_file():
            raise ConfigError(
                f"expected a YAML file of model settings at {user_file} (--llm-models); found none"
            )
        return cls(builtin, _read(user_file), str(user_file))

    def lookup(self, model: str, local: bool) -> ModelInfo:
        """What is known of `model`: the section defaults (local or hosted), then the best
        matching entry of the built-in table, then of the user's. A local server costs nothing
        unless the user's own file gives it a price."""
        section = "local" if local else "hosted"
        fields: dict[str, Any] = {**self.builtin.get(section, {}), **self.user.get(section, {})}
        name = model.split("/")[-1].lower()
        fields.update(_best_entry(self.builtin.get("models", {}), name))
        user_entry = _best_entry(self.user.get("models", {}), name)
        fields.update(user_entry)
        if local and "price" not in user_entry:
            fields["price"] = self.user.get("local", {}).get("price", [0, 0])
        return _info(fields, self.source or str(BUILTIN_FILE), model)


def _best_entry(entries: dict[str, Any], name: str) -> dict[str, Any]:
    """The most specific entry naming `name`: exact, a glob, or a prefix of a dated name."""
    matching = [
        key
        for key in entries
        if key.lower() == name or fnmatch.fnmatchcase(name, key.lower()) or name.startswith(key.lower() + "-")
    ]
    if not matching:
        return {}
    exact = [k for k in matching if k.lower() == name]
    return dict(entries[exact[0] if exact else max(matching, key=lambda k: len(k.rstrip("*")))])


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"expected valid YAML in {path}; found an error: {e}") from None
    if not isinstance(data, dict) or set(data) - set(_SECTIONS):
        found = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ConfigError(f"expected the sections {', '.join(_SECTIONS)} in {path}; found {found}")
    for section in ("hosted", "local"):
        if not isinstance(data.get(section, {}), dict):
            raise ConfigError(f"expected a mapping of settings under {section} in {path}")
    models = data.get("models") or {}
    if not isinstance(models, dict) or not all(isinstance(v, dict) for v in models.values()):
        raise ConfigError(f"expected models: {{NAME: {{field: value}}}} in {path}; found {models!r:.80}")
    return {**data, "models": {str(k): v for k, v in models.items()}}


def _info(fields: dict[str, Any], source: str, model: str) -> ModelInfo:
    known = set(ModelInfo.__dataclass_fields__)
    unknown = set(fields) - known
    if unknown:
        raise ConfigError(
            f"expected model settings among {sorted(known)} in {source}; found {sorted(unknown)}"
        )
    values: dict[str, Any] = {}
    for key, value in fields.items():
        values[key] = _value(key, value, f"{source}: {model}.{key}")
    return ModelInfo(**values)


def _value(key: str, value: Any, where: str) -> Any:
    if value is None:
        return None
    if key in _NUMBERS:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"expected a number >= 0 for {where}; found {value!r}")
        return _NUMBERS[key](value)
    if key == "temperature":
        if not isinstance(value, bool):
            raise ConfigError(f"expected true or false for {where}; found {value!r}")
        return value
    if key == "price":
        if not (isinstance(value, list | tuple) and len(value) == 2 and all(_number(v) for v in value)):
            raise ConfigError(f"expected [input, output] USD per million tokens for {where}; found {value!r}")
        return (float(value[0]), float(value[1]))
    if key == "search_fee":
        if not _number(value):
            raise ConfigError(f"expected a fee in USD for {where}; found {value!r}")
        return float(value)
    if value not in _EFFORTS:
        raise ConfigError(f"expected one of {', '.join(_EFFORTS)} for {where}; found {value!r}")
    return value


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
