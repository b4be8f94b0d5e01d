"""The device simulators' exceptions (plant and wearables), in one place."""

from __future__ import annotations


class PublisherError(Exception):
    """A problem the user can fix (bad address, unreachable broker, refused connection)."""


class PlanExhausted(ValueError):
    """A fixed rhythm plan is shorter than the requested signal."""


class MixError(ValueError):
    """A --mix text that names an unknown condition, a bad fraction, or does not sum to 1."""
