"""The one error shape of every wire contract: which field is wrong, and what is wrong with it.

Each message family raises its own subclass (plant.TelemetryError, twin.RequestError,
ecg.ChunkError, ...), so a caller catches exactly the family it parses, while logs, rejects files
and error replies read every family the same way: `field`, `problem`, and a short `reason` that
counters group by.
"""

from __future__ import annotations


class ContractError(ValueError):
    """A message that breaks its contract. str() is "field: problem"."""

    def __init__(self, field: str, problem: str, reason: str | None = None) -> None:
        self.field, self.problem = field, problem
        self.reason = reason or f"bad {field}"
        super().__init__(f"{field}: {problem}")
