"""Bench component: asks com.edgeloop.DigitalTwin for the same ranking `count` times, one at a time.

Each round trip runs from just before PublishToTopic on edgeloop/twin/request to the reply's
arrival on edgeloop/twin/response/<id> (callbacks on the client's event-loop thread, as in
ipc_subscriber.py, so no thread hand-off is added). Writes twin_results.json: round trips (us) and
the twin's own elapsed_ms per reply. Waits for `startFile` so the bench controls when it runs.
"""
import json
import os
import threading
import time

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import JsonMessage, PublishMessage

from edgeloop.contracts.twin import REQUEST_TOPIC, RESPONSE_FILTER

ipc = GreengrassCoreIPCClientV2(executor=None)
config = ipc.get_configuration(key_path=[]).value
arrived = threading.Event()
reply: dict = {}


def on_reply(event):
    reply["body"] = event.json_message.message
    reply["at"] = time.perf_counter()
    arrived.set()


def ask(request_id):
    arrived.clear()
    started = time.perf_counter()
    ipc.publish_to_topic(topic=REQUEST_TOPIC, publish_message=PublishMessage(
        json_message=JsonMessage(message={"request_id": request_id, "event": config["event"]})))
    if not arrived.wait(10):
        raise SystemExit(f"no reply to {request_id}")
    if reply["body"].get("request_id") != request_id or "error" in reply["body"]:
        raise SystemExit(f"unexpected reply to {request_id}: {reply['body']}")
    return (reply["at"] - started) * 1e6, reply["body"]["elapsed_ms"]


ipc.subscribe_to_topic(topic=RESPONSE_FILTER, on_stream_event=on_reply)
open("ready", "w").close()
while not os.path.exists(config["startFile"]):
    time.sleep(0.05)
for n in range(config["warmup"]):
    ask(f"warm-{n}")
rtts, elapsed = [], []
for n in range(config["count"]):
    rtt, twin_ms = ask(f"bench-{n}")
    rtts.append(rtt)
    elapsed.append(twin_ms)
tmp = "twin_results.json.tmp"
with open(tmp, "w") as out:
    json.dump({"rtt_us": rtts, "twin_elapsed_ms": elapsed}, out)
os.replace(tmp, "twin_results.json")
while True:
    time.sleep(3600)
