"""Serving the model of an artifact-only model component (com.edgeloop.TwinModel, com.edgeloop.EcgModel).

Every edgeloop inference component finds its model the same way, so the machinery lives here once:

* identity: the model component's configuration names `componentVersion`, `modelVersion` (the
  registry's name for the model) and `modelSha256` (the hex SHA-256 of the model's metadata.json,
  which pins every model file: edgeloop.modelfiles);
* location: Greengrass unarchives the component's ZIP artifact into
  `<root>/packages/artifacts-unarchived/<ModelComponent>/<version>/<archive stem>/`;
* verification: that metadata.json must hash to `modelSha256` before the component's own loader
  (which re-checks every model file) sees it;
* hot swap: `ModelReloader` watches the model component's configuration (a deployment of a new
  version changes it) and the component's own configuration, loads the new model on its own thread
  while the old one keeps serving, and hands over a verified model or a refusal that names why.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

from edgeloop.errors import ModelAbsent, ModelRefused
from edgeloop.ipc import Ipc
from edgeloop.modelfiles import METADATA_FILE, sha256_hex

log = logging.getLogger("edgeloop.model_component")

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_VERSION = re.compile(r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$")
T = TypeVar("T")


class ModelIdentity(NamedTuple):
    """Which model a component serves, as its model component's configuration records it."""

    component_version: str    # e.g. "1.0.3"
    model_version: str        # the registry model version, e.g. "edgeloop-ecg/3"
    sha256: str               # hex SHA-256 of the model's metadata.json


@dataclass(frozen=True)
class ModelComponent:
    """An artifact-only model component: its name and the ZIP artifact Greengrass unarchives."""

    name: str         # e.g. "com.edgeloop.EcgModel"
    archive: str      # e.g. "ecg-model.zip"

    @property
    def folder(self) -> str:
        """Greengrass unarchives `x.zip` into a folder named `x` beside the version."""
        return Path(self.archive).stem

    def directory(self, root: str | Path, component_version: str) -> Path:
        """Where a version's model files are on a gateway whose Greengrass root is `root`."""
        return Path(root) / "packages" / "artifacts-unarchived" / self.name / component_version / self.folder

    def identity(self, config: Any) -> ModelIdentity:
        """(componentVersion, modelVersion, modelSha256) from the component's configuration, checked.

        An empty configuration means the component is not deployed: ModelAbsent.
        """
        if config is None or (isinstance(config, Mapping) and not config):
            raise ModelAbsent(f"no {self.name} is deployed (its configuration is empty)")
        if not isinstance(config, Mapping):
            raise ModelRefused(f"{self.name} configuration is not an object: {config!r:.80}")
        version, model_version, sha = (config.get(k) for k in ("componentVersion", "modelVersion", "modelSha256"))
        if not isinstance(version, str) or not _VERSION.match(version):
            raise ModelRefused(f"{self.name} configuration /componentVersion: expected a version like "
                               f"1.0.0, got {version!r:.80}")
        if not isinstance(model_version, str) or not model_version:
            raise ModelRefused(f"{self.name} configuration /modelVersion: expected a non-empty string, "
                               f"got {model_version!r:.80}")
        if not isinstance(sha, str) or not _SHA256.match(sha):
            raise ModelRefused(f"{self.name} configuration /modelSha256: expected 64 lowercase hex "
                               f"digits, got {sha!r:.80}")
        return ModelIdentity(version, model_version, sha)

    def verified_directory(self, root: str | Path, config: Any) -> tuple[ModelIdentity, Path]:
        """The identity and the model directory, once its metadata.json matches `modelSha256`.

        The caller's loader must still verify every model file against metadata.json
        (edgeloop.modelfiles.read_verified does): this digest pins metadata.json, which pins them.
        """
        identity = self.identity(config)
        directory = self.directory(root, identity.component_version)
        verify_metadata(directory, identity.sha256, f"{self.name} {identity.component_version}")
        return identity, directory


def verify_metadata(directory: Path, sha256: str, what: str) -> None:
    """ModelRefused unless `directory`/metadata.json hashes to `sha256` (`what` names the model)."""
    metadata = directory / METADATA_FILE
    try:
        actual = sha256_hex(metadata.read_bytes())
    except OSError as exc:
        raise ModelRefused(f"{what}: cannot read {metadata}: {exc.strerror or exc}") from None
    if actual != sha256:
        raise ModelRefused(f"{what}: {metadata} has SHA-256 {actual}, but modelSha256 is {sha256}; "
                           "refusing a model that does not match its record")


class ModelReloader(Generic[T]):
    """Keeps a component serving the verified model its model component's configuration names.

    `load(root, config)` builds a ready-to-serve model (raising ModelRefused to refuse it);
    `install(model)` hands it to the service, `refused(problem)` counts a refusal, `announce(event,
    problem)` publishes "model_loaded" / "model_refused" status events. A version that serves
    already or was refused already is not loaded again. `on_own_config()` runs (on the same thread)
    when the component's own configuration changes. Loading happens on this object's thread, so the
    component's worker keeps serving the old model meanwhile.
    """

    DEBOUNCE_S = 0.05   # the configuration events of one deployment arrive as several leaf changes

    def __init__(self, ipc: Ipc, model: ModelComponent, root: str | Path,
                 load: Callable[[Path, Any], T], *, install: Callable[[T], None],
                 refused: Callable[[], None] = lambda: None,
                 announce: Callable[[str, str | None], None] = lambda event, problem: None,
                 on_own_config: Callable[[], None] | None = None, name: str = "model-loader") -> None:
        self.ipc = ipc
        self.model = model
        self.root = Path(root)
        self._load, self._install, self._refused, self._announce = load, install, refused, announce
        self._on_own_config = on_own_config
        self.serving: ModelIdentity | None = None
        self.problem: str | None = None          # why nothing (new) serves, for status messages
        self._last_refused: ModelIdentity | None = None
        self._model_changed = threading.Event()
        self._own_changed = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        """Subscribe to both configurations and start the loader thread (after a first `reload`)."""
        self.ipc.subscribe_configuration(lambda *_: self._model_changed.set(), component_name=self.model.name)
        if self._on_own_config is not None:
            self.ipc.subscribe_configuration(lambda *_: self._own_changed.set())
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self._model_changed.wait(0.5):
                time.sleep(self.DEBOUNCE_S)
                self._model_changed.clear()
                self.reload()
            if self._own_changed.is_set():
                self._own_changed.clear()
                try:
                    self._on_own_config()   # type: ignore[misc]
                except Exception:
                    log.exception("applying the configuration failed")

    def reload(self, announce: bool = True) -> None:
        """Load the version the model component's configuration names, unless it serves or was refused.

        `announce` publishes the outcome (at start-up the component's "started" status reports it).
        """
        try:
            config = self.ipc.get_configuration(component_name=self.model.name)
        except Exception as exc:  # noqa: BLE001 - any failure here is reported, never fatal
            if type(exc).__name__ == "ResourceNotFoundError":
                self._absent(f"no {self.model.name} is deployed yet", announce)
            else:
                self._refuse(None, f"cannot read the configuration of {self.model.name}: {exc}", announce)
            return
        try:
            identity = self.model.identity(config)
        except ModelAbsent as exc:
            self._absent(str(exc), announce)
            return
        except ModelRefused as exc:
            self._refuse(None, str(exc), announce)
            return
        if identity == self.serving or identity == self._last_refused:
            return
        started = time.perf_counter()
        try:
            loaded = self._load(self.root, config)
        except ModelRefused as exc:
            self._refuse(identity, str(exc), announce)
            return
        except Exception as exc:   # an unreadable model must not stop the component
            log.exception("loading %s %s failed", self.model.name, identity.component_version)
            self._refuse(identity, f"{self.model.name} {identity.component_version}: {type(exc).__name__}: {exc}",
                         announce)
            return
        self._install(loaded)
        self.serving, self._last_refused, self.problem = identity, None, None
        log.info("model %s %s (%s) loaded and serving after %.0f ms", self.model.name, identity.component_version,
                 identity.model_version, (time.perf_counter() - started) * 1000)
        if announce:
            self._announce("model_loaded", None)

    def describe(self) -> str:
        serving = self.serving
        return (f"{self.model.name} {serving.component_version} ({serving.model_version})" if serving
                else "no model")

    def _absent(self, problem: str, announce: bool) -> None:
        if self.serving is not None:   # keep serving what was verified; say why nothing new came
            problem = f"{problem}; still serving {self.describe()}"
        self.problem = problem
        log.warning("%s", problem)
        if announce:
            self._announce("model_absent", problem)

    def _refuse(self, identity: ModelIdentity | None, problem: str, announce: bool) -> None:
        if identity is not None:
            self._last_refused = identity
        self._refused()
        log.error("model refused, still serving %s: %s", self.describe(), problem)
        self.problem = problem
        if announce:
            self._announce("model_refused", problem)
