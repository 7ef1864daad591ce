"""requirements.txt for an exported project: the packages its scripts import, pinned.

A version comes from what the run recorded (the run_started event's versions) and otherwise from
the environment doing the export. The imports are read from the scripts themselves (standard
library left out); a few packages are needed without being imported by name (pyarrow reads the
parquet files for pandas).
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from importlib import metadata

from mlestar import syntax

IMPLIED = {"pandas": ("pyarrow",)}
"""Distributions a script needs when it imports a module, without importing them by name."""


def script_imports(scripts: Iterable[str]) -> set[str]:
    """Top-level names of the non-standard modules the scripts import (relative imports skipped)."""
    names: set[str] = set()
    for script in scripts:
        for node in ast.walk(syntax.parse(script)):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "__future__"}


def distributions_for(modules: Iterable[str], owners: Mapping[str, list[str]]) -> list[tuple[str, str]]:
    """(installable name, module) for each module (sklearn -> scikit-learn), implied ones added."""
    found: dict[str, str] = {}
    for module in sorted(modules):
        for dist in owners.get(module) or [module]:
            found.setdefault(dist, module)
        for implied in IMPLIED.get(module, ()):
            found.setdefault(implied, implied)
    return sorted(found.items(), key=lambda pair: normalize(pair[0]))


def pinned(
    distributions: Iterable[tuple[str, str]],
    recorded: Mapping[str, str],
    installed: Callable[[str], str | None],
) -> list[str]:
    """'name==version' lines: the run's recorded version (by project or module name) first, then
    the installed one; a package found in neither stays unpinned."""
    by_name = {normalize(k): v for k, v in recorded.items()}
    lines = []
    for dist, module in distributions:
        version = by_name.get(normalize(dist)) or by_name.get(normalize(module)) or installed(dist)
        lines.append(f"{dist}=={version}" if version else dist)
    return lines


def installed_version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def requirements_lines(
    scripts: Iterable[str], recorded: Mapping[str, str], local: Iterable[str] = ()
) -> list[str]:
    """`local`: the project's own modules (solution_parts), which no package provides."""
    modules = script_imports(scripts) - set(local)
    owners = metadata.packages_distributions()
    return pinned(distributions_for(modules, owners), recorded, installed_version)


def normalize(name: str) -> str:
    """PEP 503 name normalisation: Scikit_Learn and scikit-learn are the same project."""
    return re.sub(r"[-_.]+", "-", name).lower()
