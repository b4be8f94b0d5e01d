"""Which manifest of a recipe applies to this device, by Greengrass's platform matching rules.

The core device uses the first manifest whose every Platform attribute matches the device; a
manifest without Platform matches every device. A value matches when it is equal to the device's
value, is `*` (matches anything, even an attribute the device lacks), is a `/regular expression/`
matching the whole device value (`//` means "any non-empty value"), or, for `os` and
`architecture`, is `all` or `any` (the nucleus still honours these older wildcards).
The lifecycle that goes with a manifest (its own, or the global one under its Selections) was
already worked out by the loader: see `Manifest.lifecycle`.
"""

from __future__ import annotations

import logging
import platform as _platform
import re
from collections.abc import Mapping

from .model import Manifest, Recipe

log = logging.getLogger(__name__)

_ARCHITECTURES = {
    "x86_64": "amd64", "amd64": "amd64",
    "i386": "x86", "i486": "x86", "i586": "x86", "i686": "x86", "x86": "x86",
    "aarch64": "aarch64", "arm64": "aarch64",
}
_ARCH_DETAILS = ("armv6l", "armv7l", "armv8l")


def current_platform(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """This device's platform attributes as Greengrass names them, with nucleus-style overrides applied."""
    system = _platform.system().lower()
    os_name = system if system in ("linux", "darwin", "windows") else "unknown"
    machine = _platform.machine().lower()
    arch = _ARCHITECTURES.get(machine) or ("arm" if machine.startswith("arm") else "unknown")
    detected = {"os": os_name, "architecture": arch}
    if machine in _ARCH_DETAILS:
        detected["architecture.detail"] = machine
    for key, value in (overrides or {}).items():
        if isinstance(value, str):  # the nucleus ignores non-string overrides too
            detected[key] = value
    return detected


def value_matches(key: str, wanted: str, actual: str | None) -> bool:
    """Does one Platform value from a recipe match the device's value for `key` (None if it has none)?"""
    if wanted == "*":
        return True
    if actual is None:
        return False
    if wanted == "//":
        return actual != ""
    if len(wanted) > 2 and wanted.startswith("/") and wanted.endswith("/"):
        try:
            return re.fullmatch(wanted[1:-1], actual) is not None
        except re.error:
            log.warning("platform %s: %r is not a valid regular expression; it matches nothing", key, wanted)
            return False
    if key in ("os", "architecture") and wanted in ("all", "any"):
        return True
    return wanted == actual


def manifest_matches(manifest: Manifest, device: Mapping[str, str]) -> bool:
    return all(value_matches(key, wanted, device.get(key)) for key, wanted in manifest.platform.items())


def select_manifest(recipe: Recipe, device: Mapping[str, str]) -> Manifest | None:
    """The first manifest that matches `device`, or None (Greengrass then refuses to deploy the component)."""
    return next((m for m in recipe.manifests if manifest_matches(m, device)), None)
