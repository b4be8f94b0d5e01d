"""Test component: records configuration-update and component-update events; defers the first update."""
import json
import time

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

ipc = GreengrassCoreIPCClientV2()
events = open("events.jsonl", "a", buffering=1)
deferred = []


def on_config(event):
    path = event.configuration_update_event.key_path
    value = ipc.get_configuration(key_path=path).value
    events.write(json.dumps({"config": path, "value": value}) + "\n")


def on_update(event):
    if event.pre_update_event is not None:
        deployment_id = event.pre_update_event.deployment_id
        events.write(json.dumps({"pre": deployment_id}) + "\n")
        if deployment_id not in deferred:
            deferred.append(deployment_id)
            ipc.defer_component_update(deployment_id=deployment_id, message="busy", recheck_after_ms=1000)
        else:
            ipc.defer_component_update(deployment_id=deployment_id, recheck_after_ms=0)
    elif event.post_update_event is not None:
        events.write(json.dumps({"post": event.post_update_event.deployment_id}) + "\n")


ipc.subscribe_to_configuration_update(key_path=[], on_stream_event=on_config)
ipc.subscribe_to_component_updates(on_stream_event=on_update)
open("ready", "w").close()
while True:
    time.sleep(3600)
