"""Test component: asks com.edgeloop.DigitalTwin for rankings over IPC and writes what it got.

Configuration: {"requests": [message, ...], "loop": false, "intervalMs": 20}.
  - First it probes (a request without a range) until any reply shows the twin is subscribed.
  - loop false: sends each message in turn and waits for its reply.
  - loop true: sends requests[0] as loop-<n> every intervalMs until a file `stop` appears in its
    work folder, then waits for the outstanding replies.
Writes replies.jsonl ({"sent", "reply", "rtt_ms"}), sent.jsonl (loop ids), status.jsonl (the twin's
status messages) and finally `done`.
"""
import json
import os
import threading
import time

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import JsonMessage, PublishMessage

ipc = GreengrassCoreIPCClientV2()
config = ipc.get_configuration(key_path=[]).value
replies: dict[str, dict] = {}
arrived = threading.Condition()
status_file = open("status.jsonl", "a", buffering=1)


def on_reply(event):
    body = event.json_message.message
    with arrived:
        replies[body["request_id"]] = {"reply": body, "at": time.perf_counter()}
        arrived.notify_all()


def on_status(event):
    status_file.write(json.dumps(event.json_message.message) + "\n")


def send(message):
    ipc.publish_to_topic(topic="edgeloop/twin/request",
                         publish_message=PublishMessage(json_message=JsonMessage(message=message)))


def wait_reply(request_id, timeout):
    with arrived:
        arrived.wait_for(lambda: request_id in replies, timeout)
        return replies.pop(request_id, None)


ipc.subscribe_to_topic(topic="edgeloop/twin/response/+", on_stream_event=on_reply)
ipc.subscribe_to_topic(topic="edgeloop/twin/status", on_stream_event=on_status)
for n in range(300):
    send({"request_id": f"probe-{n}"})
    if wait_reply(f"probe-{n}", 0.2):
        break
print("requester ready", flush=True)
out = open("replies.jsonl", "a", buffering=1)
if not config.get("loop"):
    for message in config["requests"]:
        request_id = message.get("request_id") if isinstance(message.get("request_id"), str) else "unknown"
        started = time.perf_counter()
        send(message)
        got = wait_reply(request_id, 20)
        out.write(json.dumps({"sent": message, "reply": got and got["reply"],
                              "rtt_ms": got and (got["at"] - started) * 1000}) + "\n")
else:
    sent = open("sent.jsonl", "a", buffering=1)
    template, interval, n, started = config["requests"][0], config.get("intervalMs", 20) / 1000, 0, {}
    while not os.path.exists("stop"):
        request_id = f"loop-{n}"
        started[request_id] = time.perf_counter()
        send(dict(template, request_id=request_id))
        sent.write(json.dumps(request_id) + "\n")
        n += 1
        time.sleep(interval)
    deadline = time.monotonic() + 20
    for request_id, t0 in started.items():
        got = wait_reply(request_id, max(0.0, deadline - time.monotonic()))
        out.write(json.dumps({"sent": request_id, "reply": got and got["reply"],
                              "rtt_ms": got and (got["at"] - t0) * 1000}) + "\n")
open("done", "w").close()
while True:
    time.sleep(3600)
