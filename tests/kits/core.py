"""Helpers that run the local core as a real subprocess, author real test components and connect
client devices (fixtures in tests/conftest.py; used by tests/simulator/core and tests/components).

Every test component is a Python script run by the core through its recipe, talking to the core
with the unmodified awsiotsdk IPC client — exactly what a component on a real gateway does.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import yaml

from edgeloop.simulator.core.launcher import CoreProcess, launch_core
from edgeloop.simulator.core.status import read_status

PYTHON = sys.executable


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@dataclass
class ComponentKit:
    """Writes recipes and artifacts the way a Greengrass developer lays them out for a local deployment."""

    base: Path

    @property
    def recipe_dir(self) -> Path:
        return self.base / "recipes"

    @property
    def artifact_dir(self) -> Path:
        return self.base / "artifacts"

    def component(self, name: str, version: str = "1.0.0", *, script: str | None = None,
                  lifecycle: dict[str, Any] | None = None, config: dict[str, Any] | None = None,
                  dependencies: dict[str, Any] | None = None, artifacts: list[dict[str, Any]] | None = None,
                  extra_files: dict[str, bytes] | None = None, fmt: str = "yaml") -> Path:
        """A component whose Run step is `script` (Python, using the awsiotsdk IPC client)."""
        self.recipe_dir.mkdir(parents=True, exist_ok=True)
        art = self.artifact_dir / name / version
        art.mkdir(parents=True, exist_ok=True)
        arts = list(artifacts or [])
        if script is not None:
            (art / "main.py").write_text(script)
            arts.append({"URI": f"s3://edgeloop-test/{name}/{version}/main.py"})
        for file_name, data in (extra_files or {}).items():
            (art / file_name).write_bytes(data)
        if lifecycle is None:
            lifecycle = {"Run": f"{PYTHON} -u {{artifacts:path}}/main.py"} if script is not None else {}
        recipe: dict[str, Any] = {
            "RecipeFormatVersion": "2020-01-25",
            "ComponentName": name,
            "ComponentVersion": version,
            "ComponentDescription": f"edgeloop test component {name}",
            "ComponentPublisher": "edgeloop tests",
            "ComponentConfiguration": {"DefaultConfiguration": config or {}},
            "Manifests": [{"Platform": {"os": "linux"}, "Lifecycle": lifecycle, "Artifacts": arts}],
        }
        if dependencies:
            recipe["ComponentDependencies"] = dependencies
        path = self.recipe_dir / f"{name}-{version}.{fmt}"
        path.write_text(yaml.safe_dump(recipe, sort_keys=False) if fmt == "yaml" else json.dumps(recipe, indent=2))
        return path


@dataclass
class RunningCore(CoreProcess):
    """A launched core plus what tests ask of it: deployments through the CLI, states, logs."""

    def cli(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
        return subprocess.run([PYTHON, "-m", "edgeloop.cli", *args], capture_output=True, text=True,
                              timeout=timeout)

    def deploy(self, kit: ComponentKit | None = None, merge: dict[str, str] | None = None, *,
               remove: list[str] | None = None, update_config: dict | None = None,
               failure_policy: str | None = None, expect_success: bool = True) -> subprocess.CompletedProcess:
        args = ["core", "deploy", "--root", str(self.root), "--wait", "--timeout", "120"]
        if kit is not None:
            args += ["--recipe-dir", str(kit.recipe_dir), "--artifact-dir", str(kit.artifact_dir)]
        for name, version in (merge or {}).items():
            args += ["--merge", f"{name}={version}"]
        for name in remove or []:
            args += ["--remove", name]
        if update_config is not None:
            args += ["--update-config", json.dumps(update_config)]
        if failure_policy:
            args += ["--failure-policy", failure_policy]
        result = self.cli(*args)
        if expect_success:
            assert result.returncode == 0, f"deployment failed:\n{result.stdout}\n{result.stderr}\n{self.core_log()}"
        return result

    def status(self) -> dict[str, Any]:
        status = read_status(self.paths)
        assert status is not None
        return status

    def state(self, name: str) -> str | None:
        for comp in self.status()["components"]:
            if comp["name"] == name:
                return comp["state"]
        return None

    def wait_state(self, name: str, *states: str, timeout: float = 30.0) -> str:
        try:
            return wait_for(lambda: self.state(name) in states and self.state(name), timeout,
                            what=f"{name} to be {'/'.join(states)} (is {self.state(name)})")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\ncomponent log:\n{self.component_log(name)[-2000:]}\n"
                                 f"core log:\n{self.core_log()[-3000:]}\n{self.stacks()}") from None

    def stacks(self) -> str:
        """Where the core's threads are, when py-spy is installed (to diagnose a hang)."""
        import shutil
        if not shutil.which("py-spy") or self.proc.poll() is not None:
            return ""
        dump = subprocess.run(["py-spy", "dump", "--pid", str(self.proc.pid)], capture_output=True, text=True)
        return f"core threads:\n{dump.stdout}{dump.stderr}"

    def component_log(self, name: str) -> str:
        path = self.paths.component_log(name)
        return path.read_text() if path.exists() else ""

    def core_log(self) -> str:
        path = self.paths.core_log
        return path.read_text() if path.exists() else ""


def start_core(root: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60.0) -> RunningCore:
    """A core with short timeouts (tests deploy often) and a free broker port."""
    launched = launch_core(root, "--mqtt-port", "0", "--update-timeout", "2", "--settle-timeout", "20",
                           "--stable-time", "2", *args, env=env, timeout=timeout)
    return RunningCore(root, launched.proc, launched.ready_line)


class Device:
    """A paho-mqtt 2.x client device that records what it receives."""

    def __init__(self, url: str, client_id: str) -> None:
        host, port = url.split("://", 1)[1].rsplit(":", 1)
        self.received: queue.Queue = queue.Queue()
        self._acked: set[int] = set()
        self._acked_changed = threading.Condition()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.on_message = lambda c, u, m: self.received.put((m.topic, m.payload))
        self.client.on_subscribe = self._on_subscribe
        self.client.connect(host, int(port))
        self.client.loop_start()

    def _on_subscribe(self, client: mqtt.Client, userdata: object, mid: int, *rest: object) -> None:
        with self._acked_changed:
            self._acked.add(mid)
            self._acked_changed.notify_all()

    def subscribe(self, topic: str, timeout: float = 10.0) -> None:
        """Subscribe and return once the broker has acknowledged it (messages after this arrive)."""
        result, mid = self.client.subscribe(topic, qos=1)
        assert result == mqtt.MQTT_ERR_SUCCESS
        with self._acked_changed:
            assert self._acked_changed.wait_for(lambda: mid in self._acked, timeout), \
                f"the broker did not acknowledge the subscription to {topic} within {timeout:g} s"

    def publish(self, topic: str, payload: dict) -> None:
        self.client.publish(topic, json.dumps(payload), qos=1).wait_for_publish(10)

    def next(self, timeout: float = 15.0) -> tuple[str, bytes]:
        return self.received.get(timeout=timeout)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
