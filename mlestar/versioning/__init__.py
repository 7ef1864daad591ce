"""Versioning: a finished run exported as a git + DVC project that `dvc repro` rebuilds.

The only part of mlestar that runs dvc (as a program, see tools.py).
"""

from mlestar.versioning.export import ExportReport, export_run

__all__ = ["ExportReport", "export_run"]
