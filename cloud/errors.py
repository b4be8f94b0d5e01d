"""Every exception the cloud side raises, in one place: ingest, archive, pipelines, registry, promotion."""

from __future__ import annotations


class IngestError(Exception):
    """The broker cannot be reached or refused us; the message says which and why."""


class ReceiverError(IngestError):
    """The broker cannot be reached or refused a subscription; the message says which and why."""


class Reject(ValueError):
    """A message the receiver will not use; `reason` is a short category, str() the detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class ArchiveError(ValueError):
    """Bad input to the archive (an id that is not a safe path component, an unknown label, a bad
    date, an ambiguous window id, a missing archive); the message names the value."""


class UnsafeIdError(ArchiveError):
    """A device or window id that cannot be one folder name (it could leave the archive)."""


class UnknownWindowError(ArchiveError, KeyError):
    """No archived window has this id (a KeyError, so `except KeyError` callers work too)."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0])


class RecordingError(ValueError):
    """A recording file cannot be read as one ECG lead in mV; the message names the file and why."""


class RenderError(RuntimeError):
    """The picture cannot be drawn (matplotlib missing, or the samples are unusable)."""


class UnknownRun(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


class UnknownModelLine(ValueError):
    """A model directory whose format no line knows."""


class PipelineError(Exception):
    """A run cannot proceed (no data, bad input, a failed step); the message says which and why."""


class PromotionError(Exception):
    """Promotion cannot go on (refused by the gate, no core, build or deployment failed)."""


class PromotionRefused(PromotionError):
    """The candidate is worse than the serving model; `--force` overrides."""


class RegistryError(Exception):
    """A request the registry refuses; the message names the package and what is wrong."""
