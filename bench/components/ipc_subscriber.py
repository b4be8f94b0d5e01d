"""Bench component: receives bench messages over IPC and records when each arrived.

Each message carries the sender's time.monotonic_ns() (CLOCK_MONOTONIC is system-wide on Linux,
so the difference is the publish-to-subscriber latency). It writes results.json when it has seen
`expect` messages of a phase, or when the phase's messages stop coming.
"""
import json
import threading
import time

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

# Callbacks on the client's own event-loop thread (executor=None): the handler is tiny, and a
# thread-pool hand-off per message would add its wake-up to every latency sample.
ipc = GreengrassCoreIPCClientV2(executor=None)
config = ipc.get_configuration(key_path=[]).value
lock = threading.Lock()
phases: dict[str, dict] = {}


def on_message(event):
    now = time.monotonic_ns()
    if event.json_message is not None:
        body = event.json_message.message
    else:
        body = json.loads(event.binary_message.message[:200].split(b"|", 1)[0])
    with lock:
        phase = phases.setdefault(body["phase"], {"latencies_us": [], "first_ns": now, "last_ns": now})
        phase["latencies_us"].append((now - body["sent_ns"]) / 1000)
        phase["last_ns"] = now


ipc.subscribe_to_topic(topic=config["topic"], on_stream_event=on_message)
open("ready", "w").close()
while True:
    time.sleep(0.5)
    with lock:
        snapshot = json.dumps(phases)
    with open("results.tmp", "w") as f:
        f.write(snapshot)
    import os
    os.replace("results.tmp", "results.json")
