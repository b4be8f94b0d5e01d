"""Component lifecycle states, with the names and meanings Greengrass gives them."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    NEW = "NEW"
    INSTALLED = "INSTALLED"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"
    FINISHED = "FINISHED"
    ERRORED = "ERRORED"
    BROKEN = "BROKEN"

    @property
    def is_up(self) -> bool:
        """A dependency in this state lets its HARD dependents start (Greengrass: RUNNING or FINISHED)."""
        return self in (State.RUNNING, State.FINISHED)


# How many errors put a component in BROKEN, and within which window (Greengrass: 3 within an hour).
ERRORS_BEFORE_BROKEN = 3
ERROR_WINDOW_S = 3600.0
