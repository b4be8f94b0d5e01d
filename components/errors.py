"""Every exception the components raise, in one place: the twin, the ECG pre-filter, the builder.

Components run on gateways; each of these is caught where a bad input or model must cost only
itself (a refused model keeps the old one serving, a bad window is counted).
"""

from __future__ import annotations


class BoundariesError(ValueError):
    """A boundaries file or mapping is malformed; the message names the file, entry and problem."""


class TrainingDataError(ValueError):
    """Bad training data. `line` is the 1-based file line (the header is line 1), `column` the column."""

    def __init__(self, source: str, line: int | None, column: str | None, problem: str) -> None:
        self.source, self.line, self.column, self.problem = source, line, column, problem
        where = source if line is None else f"{source} line {line}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {problem}")


class UBJSONError(ValueError):
    pass


class SignalError(ValueError):
    """The ECG window or its sampling rate cannot be analysed; the message names the problem."""


class ScreenerError(RuntimeError):
    """An analysis process died or could not load the model; the window was not screened."""


class PackagingError(ValueError):
    """A component cannot be built; the message names the input and the problem."""
