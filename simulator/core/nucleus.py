"""The nucleus: builds every part of the local core device, owns its event loop, starts and stops it.

Start-up order: the on-disk layout, configuration, the IPC server, the MQTT broker for client
devices, the IoT Core link, the MQTT bridge, then the components deployed before (installed and
started again, as Greengrass does) and finally the deployment given on the command line.
SIGTERM/SIGINT stop components through their Shutdown steps, dependents first, and exit 0.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from edgeloop import __version__
from edgeloop.errors import CommandError

from .client import write_cli_info
from .config_store import ConfigStore, pointer_to_path
from .deployment.handler import DeploymentHandler
from .deployment.notifier import UpdateNotifier
from .deployment.records import DeploymentRequest
from .ipc.authz import Authorizer
from .ipc.core_api import CoreApi
from .ipc.server import IpcServer
from .lifecycle.component import ComponentSpec
from .lifecycle.manager import LifecycleManager
from .mqtt.bridge import Bridge
from .mqtt.broker import EmbeddedBroker
from .mqtt.iotcore import IotCoreLink
from .paths import CorePaths
from .pubsub import PubSubBus
from .recipes.platform import current_platform
from .recipes.store import ComponentStore
from .recipes.variables import VariableContext, interpolate
from .status import write_status

log = logging.getLogger("edgeloop.core")

# The Greengrass nucleus version this core stands in for (GGC_VERSION; components gate features on it).
NUCLEUS_VERSION = "2.14.0"
NUCLEUS = "aws.greengrass.Nucleus"
BRIDGE = "aws.greengrass.clientdevices.mqtt.Bridge"
CLI = "aws.greengrass.Cli"
BUILTINS = {NUCLEUS: NUCLEUS_VERSION, CLI: NUCLEUS_VERSION, BRIDGE: "2.3.0"}


@dataclass
class CoreOptions:
    root: CorePaths
    thing_name: str = "edgeloop-core"
    region: str = "us-east-1"
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int | None = 8883          # None: no broker for client devices
    mqtt_url: str | None = None           # an external broker instead of the embedded one
    cloud_url: str | None = None
    iot_endpoint: str | None = None
    cert: str | None = None
    key: str | None = None
    ca: str | None = None
    recipe_dir: str | None = None
    artifact_dir: str | None = None
    merge: dict[str, str] = field(default_factory=dict)
    update_timeout_s: float = 60.0
    settle_timeout_s: float = 120.0
    stable_s: float = 3.0
    log_level: str = "INFO"


def _setup_logging(paths: CorePaths, level: str) -> None:
    root = logging.getLogger()
    root.setLevel(level)
    fmt = logging.Formatter("%(asctime)s [%(levelname)s] (%(name)s) %(message)s")
    file_handler = logging.FileHandler(paths.core_log)
    file_handler.setFormatter(fmt)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(fmt)
    root.handlers[:] = [file_handler, console]


class Nucleus:
    def __init__(self, options: CoreOptions) -> None:
        self.options = options
        self.paths = options.root
        self.started_at = time.time()
        self.config = ConfigStore(self.paths.effective_config)
        self.bus = PubSubBus()
        self.store = ComponentStore(self.paths)
        self.platform = current_platform()
        self.broker: EmbeddedBroker | None = None
        self.mqtt_url: str | None = options.mqtt_url
        self.iot = self._iot_link()
        self.bridge: Bridge | None = None
        self._status_pending = False
        self._bridge_pending = False
        self.loop: asyncio.AbstractEventLoop | None = None
        base_env = dict(os.environ)
        base_env.update({
            "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT": str(self.paths.ipc_socket),
            "AWS_IOT_THING_NAME": options.thing_name,
            "AWS_REGION": options.region,
            "AWS_DEFAULT_REGION": options.region,
            "GGC_VERSION": NUCLEUS_VERSION,
        })
        self.authorizer = Authorizer(self.config, options.thing_name)
        self.lifecycle = LifecycleManager(
            self.paths, base_env=base_env, interpolate=self.interpolate, issue_token=self._issue_token,
            revoke_token=self._revoke_token, builtins=BUILTINS, on_change=self._status_changed)
        self.deployments = DeploymentHandler(
            paths=self.paths, store=self.store, lifecycle=self.lifecycle, config=self.config, builtins=BUILTINS,
            platform=self.platform, build_spec=ComponentSpec.from_recipe,
            notifier=UpdateNotifier(options.update_timeout_s), settle_timeout_s=options.settle_timeout_s,
            stable_s=options.stable_s)
        self.ipc = IpcServer(self.paths.ipc_socket, CoreApi(
            bus=self.bus, config=self.config, iot=self.iot, lifecycle=self.lifecycle,
            deployments=self.deployments, thing_name=options.thing_name), self.authorizer)

    def _iot_link(self) -> IotCoreLink:
        o = self.options
        if o.iot_endpoint:
            if not (o.cert and o.key):
                raise ValueError("an IoT Core endpoint needs a device certificate and key")
            return IotCoreLink.for_aws_iot(o.iot_endpoint, o.cert, o.key, o.ca, o.thing_name, self.paths.spool)
        if o.cloud_url:
            return IotCoreLink.for_broker(o.cloud_url, o.thing_name, self.paths.spool)
        return IotCoreLink.disabled(self.paths.spool)

    # -- identity ----------------------------------------------------------------------------
    def _issue_token(self, component: str) -> str:
        token = secrets.token_urlsafe(24)
        self.ipc.register_token(token, component)
        return token

    def _revoke_token(self, token: str) -> None:
        self.ipc.revoke_token(token)

    # -- recipe variables ----------------------------------------------------------------------
    def interpolate(self, component: str, text: str) -> str:
        runner = self.lifecycle.runner(component)
        deps = frozenset(runner.spec.hard_dependencies + runner.spec.soft_dependencies) if runner else frozenset()
        versions = {**BUILTINS, **self.deployments.deployed.resolved}
        if runner:
            versions[component] = runner.spec.version
        ctx = VariableContext(component=component, paths=self.paths, versions=versions,
                              thing_name=self.options.thing_name, config_lookup=self._config_value,
                              dependencies=deps)
        result = interpolate(text, ctx)
        for warning in ctx.warnings:
            log.warning("%s: %s", component, warning)
        return result

    def _config_value(self, component: str, pointer: str) -> Any:
        return self.config.get(component, pointer_to_path(pointer))

    # -- status ------------------------------------------------------------------------------
    def _status_changed(self) -> None:
        if self.loop is None or self._status_pending:
            return
        self._status_pending = True
        self.loop.call_soon(self._write_status)

    def _write_status(self, stopped: bool = False) -> None:
        self._status_pending = False
        components = []
        for info in self.lifecycle.components():
            runner = self.lifecycle.runner(info.name)
            components.append({"name": info.name, "version": info.version, "state": info.state,
                               "builtin": runner is None, "last_error": runner.last_error if runner else None})
        write_status(self.paths, {
            "root": str(self.paths.root), "pid": os.getpid(), "thing_name": self.options.thing_name,
            "edgeloop_version": __version__, "nucleus_version": NUCLEUS_VERSION,
            "started_at": self.started_at, "stopped_at": time.time() if stopped else None,
            "ipc_socket": str(self.paths.ipc_socket), "mqtt_url": self.mqtt_url,
            "cloud": self.iot.description, "roots": self.deployments.deployed.roots, "components": components})

    # -- bridge configuration --------------------------------------------------------------------
    def _bridge_config_changed(self, *_: Any) -> None:
        """One deployment changes several keys at once: apply the mapping once, after them all."""
        if self.loop is not None and not self._bridge_pending:
            self._bridge_pending = True
            self.loop.call_soon(self._apply_bridge_config)

    def _apply_bridge_config(self) -> None:
        self._bridge_pending = False
        if self.bridge is None:
            return
        try:
            mapping = self.config.get(BRIDGE, ["mqttTopicMapping"])
        except KeyError:
            mapping = {}
        try:
            self.bridge.apply(mapping)
            log.info("MQTT bridge mappings: %s", ", ".join(mapping) or "none")
        except ValueError as exc:
            log.error("MQTT bridge configuration rejected: %s", exc)

    # -- run -----------------------------------------------------------------------------------
    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        for name in BUILTINS:
            if name not in self.config.components():
                self.config.apply_deployment(name, {})
        await self.ipc.start()
        write_cli_info(self.paths, self._issue_token(CLI))
        o = self.options
        if o.mqtt_url is None and o.mqtt_port is not None:
            self.broker = EmbeddedBroker(o.mqtt_host, o.mqtt_port, self.paths.logs / "broker.log")
            self.mqtt_url = await asyncio.to_thread(self.broker.start)
        self.iot.start()
        if self.mqtt_url is not None:
            self.bridge = Bridge(self.bus, self.iot, self.mqtt_url, f"{o.thing_name}-bridge",
                                 call_soon=self.loop.call_soon_threadsafe)
            await asyncio.to_thread(self.bridge.start)
            self._apply_bridge_config()
            self.config.subscribe(BRIDGE, ["mqttTopicMapping"], self._bridge_config_changed)
        await self.deployments.restore()
        self.deployments.start()
        if o.merge:
            self.deployments.submit(DeploymentRequest(recipe_dir=o.recipe_dir, artifact_dir=o.artifact_dir,
                                                      merge=dict(o.merge)))
        self._write_status()
        print(f"edgeloop core ready: root={self.paths.root} ipc={self.paths.ipc_socket} "
              f"mqtt={self.mqtt_url or 'none'} cloud={self.iot.description} thing={o.thing_name}", flush=True)

    async def stop(self) -> None:
        log.info("stopping: components first, dependents before their dependencies")
        await self.deployments.close()
        await self.lifecycle.shutdown(self.deployments.order())
        if self.bridge is not None:
            await asyncio.to_thread(self.bridge.stop)
        await asyncio.to_thread(self.iot.stop)
        if self.broker is not None:
            await asyncio.to_thread(self.broker.stop)
        await self.ipc.close()
        self._write_status(stopped=True)
        log.info("stopped")


async def _main(options: CoreOptions) -> int:
    try:
        nucleus = Nucleus(options)
    except Exception as exc:  # e.g. a certificate file for --iot-endpoint that does not exist
        log.error("the core could not start: %s", exc)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await nucleus.start()
    except Exception as exc:
        log.error("the core could not start: %s", exc)
        await nucleus.stop()
        return 1
    await stop.wait()
    await nucleus.stop()
    return 0


def run_core(options: CoreOptions) -> int:
    """Run the core in the foreground until SIGTERM/SIGINT; refusals to start are CommandErrors."""
    try:
        options.root.ensure()
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    _setup_logging(options.root, options.log_level)
    if options.root.pid_file.exists():
        try:
            other = int(options.root.pid_file.read_text())
            os.kill(other, 0)
            raise CommandError(f"a core (pid {other}) is already running under {options.root.root}", 1)
        except (ValueError, ProcessLookupError):
            pass
    options.root.pid_file.write_text(str(os.getpid()))
    try:
        return asyncio.run(_main(options))
    finally:
        options.root.pid_file.unlink(missing_ok=True)
