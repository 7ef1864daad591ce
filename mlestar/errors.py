"""The exceptions mlestar raises, as one small tree.

    MlestarError
    ├── UserError            the user's input is not what we expected: a clear message, exit status 2
    │   ├── TaskError        the task folder (files, columns, description) cannot be understood
    │   ├── ConfigError      flags, task.yaml or settings are invalid
    │   └── RunFolderError   a run folder is missing, locked, unfinished or not empty
    └── RunFault             something failed while running (not the user's fault)
        ├── ExecutionFault   the runner itself broke (not a failing script: that is data)
        ├── LLMError         a language-model provider failed beyond its retries
        └── TrackingError    the tracking store failed

A failing generated script is never an exception: the runner returns it as a result.
"""

from __future__ import annotations


class MlestarError(Exception):
    """Base of every error mlestar raises on purpose."""


class UserError(MlestarError):
    """Misuse: the message says what was expected and what was found."""

    exit_code = 2


class TaskError(UserError):
    """The task folder cannot be understood."""


class ConfigError(UserError):
    """Flags, task.yaml or settings are invalid."""


class RunFolderError(UserError):
    """A run folder cannot be used as asked."""


class RunFault(MlestarError):
    """A failure of the machinery while running."""

    exit_code = 1


class ExecutionFault(RunFault):
    """The runner could not start or supervise a script."""


class LLMError(RunFault):
    """A language-model provider failed beyond its retries."""


class TrackingError(RunFault):
    """The tracking store failed."""
