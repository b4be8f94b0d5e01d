"""The demo's orchestration: one local cloud, one local core device, the plant and the wearables.

Both scenarios (plant.py, wearables.py) share the gateway, the cloud broker, the cloud home (one
experiment store, one registry, one promotion path) and a time budget. Their phases interleave so that
both models are retrained and promoted while their devices keep streaming.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

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
    pass


class Demo:
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
        import paho.mqtt.client as mqtt
        host, port = url.split("://", 1)[1].rsplit(":", 1)
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        client.on_message = on_message
        client.on_connect = lambda c, u, f, rc, p: [c.subscribe(t, qos=1) for t in topics]
        client.connect(host, int(port))
        client.loop_start()
        return client

    def deploy(self, merge: dict[str, str], configuration: dict[str, Any], routes: dict[str, Any]) -> None:
        """Deploy components from the home's component store with extra bridge routes (merged)."""
        from edgeloop.simulator.core.client import CoreClient
        bridge = {"aws.greengrass.clientdevices.mqtt.Bridge": {"MERGE": {"mqttTopicMapping": routes}}}
        with CoreClient(self.core.paths) as client:
            deployment = client.create_deployment(
                recipe_dir=str(self.home.recipe_dir), artifact_dir=str(self.home.artifact_dir), merge=merge,
                remove=[], configuration={**configuration, **bridge}, failure_policy="ROLLBACK")
            outcome = client.wait_for_deployment(deployment, timeout_s=180)
        if outcome.get("status") != "SUCCEEDED":
            raise DemoError(f"deploying {', '.join(merge)} failed: {outcome}")

    # -- the run -----------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        try:
            self._run()
        finally:
            self._teardown()
        return self.summary

    def _run(self) -> None:
        from edgeloop.cloud.home import CloudHome
        from edgeloop.cloud.promotion import LocalCoreTarget, Promoter
        from edgeloop.cloud.registry.local import LocalRegistry
        from edgeloop.simulator.core.launcher import launch_core
        from edgeloop.simulator.core.mqtt.broker import EmbeddedBroker

        from .plant import PlantScenario
        from .wearables import WearableScenario

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

        plant, wearables = PlantScenario(self), WearableScenario(self)
        plant.setup()
        wearables.setup()
        plant.start()
        wearables.start()
        live_until = time.monotonic() + max(20.0, self.remaining() * 0.4)
        while time.monotonic() < live_until:
            time.sleep(5)
            self.say(plant.progress())
            for line in wearables.progress():
                self.say(line)
        plant.retrain()       # both new models are approved while the devices keep streaming
        wearables.retrain()
        time.sleep(5)
        self.summary.update(plant.finish())
        wearables.finish()
        self.summary["core_components"] = {
            c["name"]: f"{c['version']} {c['state']}"
            for c in json.loads(self.core.paths.services_file.read_text())["components"]
            if c["name"].startswith("com.edgeloop")}

    def _teardown(self) -> None:
        for stop in reversed(self._stack):
            try:
                stop()
            except Exception as exc:  # keep tearing down
                self.console.print(f"teardown: {exc}")
        self.summary["elapsed_s"] = round(time.monotonic() - self.started, 1)
        if not self.o.keep and self.o.workdir is None:
            shutil.rmtree(self.work, ignore_errors=True)

