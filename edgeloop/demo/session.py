"""What the demo's scenarios share: options, the workspace, the local cloud and core, the cloud home.

`Session.start()` brings up the cloud broker (standing in for AWS IoT Core), the local core device
and the cloud home with its registry and promotion path; the scenarios (plant.py, wearables.py)
use its services (say, deploy, client, on_teardown) and write into its summary. `runner.py`
orchestrates them; this module knows no scenario.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from rich.console import Console

from edgeloop.cloud.home import CloudHome
from edgeloop.cloud.promotion import LocalCoreTarget, Promoter
from edgeloop.cloud.registry.local import LocalRegistry
from edgeloop.simulator.core.client import CoreClient
from edgeloop.simulator.core.deployment.records import DeploymentStatus, FailurePolicy
from edgeloop.simulator.core.launcher import CoreProcess, launch_core
from edgeloop.simulator.core.mqtt.broker import EmbeddedBroker

THING = "edge-gw-1"


@dataclass
class DemoOptions:
    minutes: float = 6.0
    history_hours: float = 168.0     # twin v1 learns from a week of historian data; v2 adds what the gateway saw
    speedup: float = 7200.0          # plant: simulated seconds per wall second, 2 samples per 1/60 s
    n_estimators: int = 150
    wearables: int = 12
    wearable_speedup: float = 10.0   # a 60 s ECG window every 6 wall seconds per wearable
    ecg_devices: int = 16            # simulated devices per set for ECG training (see cloud/ecg/train.py)
    ecg_minutes: float = 10.0
    workdir: Path | None = None
    keep: bool = False


class DemoError(RuntimeError):
    """A step of the demo did not happen in time or failed; the message says which."""


class Session:
    """The demo's shared services and parts (start() brings the parts up, teardown() stops them)."""

    cloud_url: str
    core: CoreProcess
    home: CloudHome
    registry: LocalRegistry
    promoter: Promoter

    def __init__(self, options: DemoOptions) -> None:
        self.o = options
        self.thing = THING
        self.console = Console(stderr=True, soft_wrap=True)
        self.started = time.monotonic()
        self.deadline = self.started + options.minutes * 60
        self.work = options.workdir or Path(tempfile.mkdtemp(prefix="el-demo-"))
        self.summary: dict[str, Any] = {"thing": THING}
        self._stack: list[Callable[[], Any]] = []

    # -- shared services for the scenarios -----------------------------------------------------
    def say(self, text: str) -> None:
        self.console.print(f"[dim]{time.monotonic() - self.started:6.1f}s[/dim] {text}")

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def on_teardown(self, stop: Callable[[], Any]) -> None:
        self._stack.append(stop)

    def client(self, url: str, client_id: str, on_message: Any, *topics: str) -> Any:
        """A paho client subscribed to `topics` (QoS 1), looping on its own thread."""
        host, port = url.split("://", 1)[1].rsplit(":", 1)
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        client.on_message = on_message

        def subscribe(c: mqtt.Client, *_: Any) -> None:
            for topic in topics:
                c.subscribe(topic, qos=1)
        client.on_connect = subscribe
        client.connect(host, int(port))
        client.loop_start()
        return client

    @property
    def device_url(self) -> str:
        """The core's broker for client devices (the demo's core always runs one)."""
        if self.core.mqtt_url is None:
            raise DemoError("the core runs no broker for client devices")
        return self.core.mqtt_url

    def deploy(self, merge: dict[str, str], configuration: dict[str, Any], routes: dict[str, Any]) -> None:
        """Deploy components from the home's component store with extra bridge routes (merged)."""
        bridge = {"aws.greengrass.clientdevices.mqtt.Bridge": {"MERGE": {"mqttTopicMapping": routes}}}
        with CoreClient(self.core.paths) as client:
            deployment = client.create_deployment(
                recipe_dir=str(self.home.recipe_dir), artifact_dir=str(self.home.artifact_dir), merge=merge,
                remove=[], configuration={**configuration, **bridge}, failure_policy=FailurePolicy.ROLLBACK)
            outcome = client.wait_for_deployment(deployment, timeout_s=180)
        if outcome.get("status") != DeploymentStatus.SUCCEEDED:
            raise DemoError(f"deploying {', '.join(merge)} failed: {outcome}")

    # -- the shared parts --------------------------------------------------------------------
    def start(self) -> None:
        """The cloud broker, the local core device and the cloud home; each stops at teardown."""
        self.say(f"workspace {self.work}")
        cloud = EmbeddedBroker("127.0.0.1", 0, self.work / "cloud-broker.log")
        self.cloud_url = cloud.start()
        self.on_teardown(cloud.stop)
        self.say(f"local cloud broker (stands in for AWS IoT Core) at {self.cloud_url}")
        self.core = launch_core(self.work / "core", "--thing-name", THING, "--mqtt-port", "0", "--cloud-url",
                                self.cloud_url, "--stable-time", "2", "--update-timeout", "5")
        self.on_teardown(self.core.stop)
        self.say(f"local core device up: client devices at {self.core.mqtt_url}, logs in {self.core.paths.logs}")
        self.home = CloudHome.at(self.work / "cloud")
        self.registry = LocalRegistry(self.home.registry_db)
        self.promoter = Promoter(self.home, self.registry, LocalCoreTarget(self.core.root))

    def teardown(self) -> None:
        for stop in reversed(self._stack):
            try:
                stop()
            except Exception as exc:  # keep tearing down
                self.console.print(f"teardown: {exc}")
        self.summary["elapsed_s"] = round(time.monotonic() - self.started, 1)
        if not self.o.keep and self.o.workdir is None:
            shutil.rmtree(self.work, ignore_errors=True)

