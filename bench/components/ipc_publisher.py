"""Bench component: publishes 1 KB messages over IPC for the latency and throughput phases.

Latency: one message at a time, each after the previous call returned, with a short pause.
Throughput: as fast as the client allows with `window` publishes in flight.
"""
import json
import os
import time

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import BinaryMessage, PublishMessage

ipc = GreengrassCoreIPCClientV2()
config = ipc.get_configuration(key_path=[]).value
topic, size = config["topic"], int(config["size"])
while not os.path.exists(config["startFile"]):
    time.sleep(0.05)


def message(phase: str) -> PublishMessage:
    body = {"phase": phase, "sent_ns": time.monotonic_ns()}
    head = json.dumps(body).encode() + b"|"
    return PublishMessage(binary_message=BinaryMessage(message=head + b"x" * max(0, size - len(head))))


for _ in range(int(config["latencyCount"])):
    ipc.publish_to_topic(topic=topic, publish_message=message("latency"))
    time.sleep(0.002)
time.sleep(1.0)
window, count = int(config["window"]), int(config["throughputCount"])
started = time.monotonic()
pending = []
for _ in range(count):
    pending.append(ipc.publish_to_topic_async(topic=topic, publish_message=message("throughput")))
    if len(pending) >= window:
        pending.pop(0).result(30)
for future in pending:
    future.result(30)
elapsed = time.monotonic() - started
with open("published.json", "w") as f:
    json.dump({"throughput_count": count, "publish_seconds": elapsed}, f)
