"""Test component: echoes local pub/sub messages, optionally out to IoT Core, and writes what it saw.

Configuration: {"in": topic filter, "out": local topic, "iotOut": IoT Core topic or "", "subscribeIot": "",
"maxReplies": how many messages to answer (0 or absent: all)}. Two echoes wired to each other need
"maxReplies", or they answer each other forever, each reply nesting the last.
"""
import json
import os
import time

from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import (
    QOS,
    BinaryMessage,
    JsonMessage,
    PublishMessage,
)

name = os.environ.get("COMPONENT", "echo")
ipc = GreengrassCoreIPCClientV2()
config = ipc.get_configuration(key_path=[]).value
seen = open("seen.jsonl", "a", buffering=1)
max_replies = int(config.get("maxReplies") or 0)
replies = 0


def may_reply() -> bool:
    global replies
    if max_replies and replies >= max_replies:
        return False
    replies += 1
    return True


def on_message(event):
    if event.json_message is not None:
        topic, payload = event.json_message.context.topic, event.json_message.message
    else:
        topic, raw = event.binary_message.context.topic, event.binary_message.message
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = {"binary": raw.decode("latin-1")}
    seen.write(json.dumps({"topic": topic, "payload": payload}) + "\n")
    if not may_reply():
        return
    reply = {"echo": payload, "topic": topic, "thing": os.environ["AWS_IOT_THING_NAME"]}
    if config.get("out"):
        ipc.publish_to_topic(topic=config["out"], publish_message=PublishMessage(json_message=JsonMessage(message=reply)))
    if config.get("iotOut"):
        ipc.publish_to_iot_core(topic_name=config["iotOut"], qos=QOS.AT_LEAST_ONCE, payload=json.dumps(reply).encode())


def on_iot(event):
    msg = event.message
    seen.write(json.dumps({"iot_topic": msg.topic_name, "payload": msg.payload.decode()}) + "\n")
    if config.get("out") and may_reply():
        ipc.publish_to_topic(topic=config["out"], publish_message=PublishMessage(
            binary_message=BinaryMessage(message=msg.payload)))


ipc.subscribe_to_topic(topic=config["in"], on_stream_event=on_message)
if config.get("subscribeIot"):
    ipc.subscribe_to_iot_core(topic_name=config["subscribeIot"], qos=QOS.AT_LEAST_ONCE, on_stream_event=on_iot)
print("echo ready", flush=True)
open("ready", "w").close()
while True:
    time.sleep(3600)
