"""Exceptions that more than one area raises or catches, in one module every layer may import.

Why one shared module and not one per area: an exception belongs beside the code that raises it
(`RecipeError` in the core's recipe loader, `RegistryError` in the registry), where a reader of that
code finds it; only an exception whose meaning crosses areas needs a common home, and that home
must sit below every area (this module imports nothing of edgeloop), as scikit-learn keeps
`NotFittedError` in `sklearn.exceptions` for all its estimators. Class names are unique across
the package (tests/test_names.py), so `except X` always means one thing.
"""

from __future__ import annotations


class CommandError(Exception):
    """An expected failure of an `edgeloop` command: one line for the user and the exit code.

    Raise it anywhere under a command handler; `edgeloop.cli` prints
    `edgeloop <command path>: error: <message>` on stderr once, with no traceback, and exits with
    `code` (2: bad input or arguments, 1: refused or failed; the command's docstring says which).
    """

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class NotFittedError(RuntimeError):
    """An estimator was asked to predict or save before `fit()` or `load()` gave it a model."""


class ModelRefused(Exception):
    """A model component version cannot be served; the message says which and why."""


class ModelAbsent(ModelRefused):
    """No model component is deployed (yet): nothing was refused, there is just nothing to serve."""


class ArtifactError(RuntimeError):
    """A model directory cannot be trusted or read; the message names the file and the problem."""
