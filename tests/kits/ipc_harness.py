"""Test harness for the IPC server: a real IpcServer on its own event-loop thread, the real PubSubBus
and ConfigStore, and small but real stand-ins for the parts other engineers own (lifecycle,
deployments, IoT Core link). Components are real awsiotsdk clients, in-process or as subprocesses.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from awsiot.greengrasscoreipc import connect
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

from edgeloop.simulator.core.config_store import ConfigStore
from edgeloop.simulator.core.errors import ComponentNotFound, ResourceNotFound
from edgeloop.simulator.core.ipc.authz import Authorizer
from edgeloop.simulator.core.ipc.core_api import ComponentInfo, CoreApi, IotMessage, UpdateEvent
from edgeloop.simulator.core.ipc.server import IpcServer
from edgeloop.simulator.core.pubsub import PubSubBus
from edgeloop.simulator.core.topics import topic_matches

THING = "edge-test-thing"


class LoopbackIotCore:
    """An IoT Core link whose "cloud" echoes every publish to matching subscribers (as a broker does)."""

    def __init__(self) -> None:
        self.published: list[IotMessage] = []
        self._subs: list[tuple[str, Callable[[IotMessage], None], str]] = []

    def publish(self, message: IotMessage) -> None:
        self.published.append(message)
        for topic_filter, callback, _ in list(self._subs):
            if topic_matches(topic_filter, message.topic):
                callback(message)

    def subscribe(self, topic_filter: str, qos: int, callback: Callable[[IotMessage], None],
                  *, subscriber: str) -> Callable[[], None]:
        entry = (topic_filter, callback, subscriber)
        self._subs.append(entry)
        return lambda: self._subs.remove(entry) if entry in self._subs else None

    def subscriber_count(self) -> int:
        return len(self._subs)


class SimpleLifecycle:
    def __init__(self) -> None:
        self.infos: dict[str, ComponentInfo] = {}
        self.reported: list[tuple[str, str]] = []
        self.restarted: list[str] = []

    def components(self) -> list[ComponentInfo]:
        return list(self.infos.values())

    def component(self, name: str) -> ComponentInfo:
        if name not in self.infos:
            raise ComponentNotFound(f"component {name} is not deployed")
        return self.infos[name]

    def report_state(self, name: str, state: str) -> None:
        self.reported.append((name, state))
        if name in self.infos:
            self.infos[name].state = state

    def restart(self, name: str) -> None:
        self.component(name)
        self.restarted.append(name)

    def stop(self, name: str) -> None:
        self.component(name).state = "FINISHED"


class SimpleDeployments:
    def __init__(self) -> None:
        self.deployments: dict[str, dict[str, Any]] = {}
        self.deferred: list[tuple[str, str, int, str]] = []
        self._listeners: list[tuple[str, Callable[[UpdateEvent], None]]] = []

    def create_local_deployment(self, request: dict[str, Any]) -> str:
        deployment_id = str(uuid.uuid4())
        self.deployments[deployment_id] = {"deploymentId": deployment_id, "status": "QUEUED",
                                           "createdOn": "1700000000", "request": request}
        return deployment_id

    def deployment_status(self, deployment_id: str) -> dict[str, Any]:
        if deployment_id not in self.deployments:
            raise ResourceNotFound(f"deployment {deployment_id} not found")
        return {k: v for k, v in self.deployments[deployment_id].items() if k != "request"}

    def list_deployments(self) -> list[dict[str, Any]]:
        return [self.deployment_status(d) for d in self.deployments]

    def subscribe_updates(self, component: str, callback: Callable[[UpdateEvent], None]) -> Callable[[], None]:
        entry = (component, callback)
        self._listeners.append(entry)
        return lambda: self._listeners.remove(entry) if entry in self._listeners else None

    def notify(self, event: UpdateEvent) -> None:
        for _, callback in list(self._listeners):
            callback(event)

    def defer_update(self, component: str, deployment_id: str, recheck_after_ms: int, message: str) -> None:
        self.deferred.append((component, deployment_id, recheck_after_ms, message))


class CoreHarness:
    """An IpcServer on a background loop; `call(fn)` runs fn on that loop (the core is single-threaded)."""

    def __init__(self, **server_kwargs: Any) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="elipc"))  # short: Unix socket paths max 107 bytes
        self.socket = self.dir / "ipc.socket"
        self.iot = LoopbackIotCore()
        self.lifecycle = SimpleLifecycle()
        self.deployments = SimpleDeployments()
        self.core = CoreApi(bus=PubSubBus(), config=ConfigStore(), iot=self.iot, lifecycle=self.lifecycle,
                            deployments=self.deployments, thing_name=THING)
        self.server = IpcServer(self.socket, self.core, Authorizer(self.core.config, THING), **server_kwargs)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="ipc-core", daemon=True)
        self._thread.start()
        self.call_async(self.server.start())
        self._clients: list[GreengrassCoreIPCClientV2] = []

    def call(self, fn: Callable[[], Any]) -> Any:
        async def run() -> Any:
            return fn()
        return self.call_async(run())

    def call_async(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def add_component(self, name: str, configuration: dict[str, Any] | None = None) -> str:
        token = uuid.uuid4().hex
        self.call(lambda: self.core.config.apply_deployment(name, configuration or {}))
        self.lifecycle.infos[name] = ComponentInfo(name, "1.0.0", "RUNNING")
        self.server.register_token(token, name)
        return token

    def client(self, token: str) -> GreengrassCoreIPCClientV2:
        client = GreengrassCoreIPCClientV2(client=connect(ipc_socket=str(self.socket), authtoken=token))
        self._clients.append(client)
        return client

    def component_env(self, token: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT=str(self.socket), SVCUID=token,
                   AWS_IOT_THING_NAME=THING, AWS_REGION="us-east-1", GGC_VERSION="2.12.0")
        return env

    def spawn(self, token: str, script: str, *args: str) -> subprocess.Popen[str]:
        """Run `script` as a component process (python -c script args...) holding `token`."""
        return subprocess.Popen([sys.executable, "-c", script, *args], env=self.component_env(token), text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def close(self) -> None:
        for client in self._clients:
            try:
                client.close()
            except Exception:
                pass
        self.call_async(self.server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def pubsub_policy(*, publish: list[str] | None = None, subscribe: list[str] | None = None) -> dict[str, Any]:
    """An accessControl tree granting local pub/sub on the given resources."""
    policies: dict[str, Any] = {}
    if publish:
        policies["pub"] = {"operations": ["aws.greengrass#PublishToTopic"], "resources": publish}
    if subscribe:
        policies["sub"] = {"operations": ["aws.greengrass#SubscribeToTopic"], "resources": subscribe}
    return {"accessControl": {"aws.greengrass.ipc.pubsub": policies}}
