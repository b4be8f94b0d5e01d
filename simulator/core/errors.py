"""Every exception the local core raises, in one place (a reader finds what `except` can catch here).

The IPC-facing ones (CoreError and its subclasses) map onto Greengrass's IPC error types in
ipc/services/base.py; the others stay inside the core and name the file, field or component.
"""

from __future__ import annotations


class CoreNotRunning(Exception):
    pass


class ConfigError(Exception):
    """A configuration request that cannot be honoured; the message says why."""


class StaleUpdateError(ConfigError):
    """An update carries a timestamp older than the value it would replace."""


class DeploymentFailed(Exception):
    def __init__(self, message: str, error_type: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class CoreError(Exception):
    """An IPC-visible failure; `error_shape` names the awsiotsdk error class the client raises."""

    error_shape = "ServiceError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ResourceNotFound(CoreError):
    error_shape = "ResourceNotFoundError"


class InvalidArguments(CoreError):
    error_shape = "InvalidArgumentsError"


class Unauthorized(CoreError):
    error_shape = "UnauthorizedError"


class ComponentNotFound(CoreError):
    error_shape = "ComponentNotFoundError"


class Conflict(CoreError):
    error_shape = "ConflictError"


class FailedUpdateConditionCheck(CoreError):
    error_shape = "FailedUpdateConditionCheckError"


class FrameError(ValueError):
    """A frame that cannot be trusted (CRC, length, header encoding); the connection must end."""


class CoreStartError(RuntimeError):
    pass


class BridgeConfigError(ValueError):
    pass


class BrokerStartError(RuntimeError):
    """The broker process did not come up (port taken, bad address, crashed during start-up)."""


class SpoolFull(CoreError):
    pass


class NotConnected(Exception):
    """The transport has no connection right now; the caller spools instead."""


class ArtifactInstallError(Exception):
    """An artifact that cannot be put in place; the message names the file and what is wrong."""


class RecipeError(ValueError):
    """A recipe that cannot be used; the message names the file, the field and the problem."""

    def __init__(self, file: str, field: str, problem: str) -> None:
        self.file = file
        self.field = field
        self.problem = problem
        where = f"{field} " if field else ""
        super().__init__(f"{file}: {where}{problem}")


class ResolutionError(Exception):
    """Dependencies that cannot be satisfied; the message names the component, each requirement and who
    made it, and the versions available."""

    def __init__(self, message: str, component: str = "", requirements: list[tuple[str, str]] | None = None,
                 available: list[str] | None = None) -> None:
        super().__init__(message)
        self.component = component
        self.requirements = list(requirements or [])
        self.available = list(available or [])


class MissingRecipeError(LookupError):
    """The store has no recipe for a component version; the message says which and what it has."""
