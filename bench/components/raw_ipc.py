"""Bench component that speaks the IPC wire protocol itself, as a C or Rust component would.

It measures what the core's IPC server can carry when the client costs little: the official
Python client spends about 200 us of CPU per call, which caps two Python components on two cores
well below the server's capacity. Role "sub" counts events; role "pub" sends pre-encoded
PublishToTopic frames (1 KB JSON messages) and reads the responses.
"""
import json
import os
import socket
import time

from edgeloop.simulator.core.ipc import wire
from edgeloop.simulator.core.ipc.wire import HeaderType, MessageType

SOCKET = os.environ["AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT"]
LATENCY_COUNT = 1000


def frame(message_type: int, stream_id: int, extra=(), payload: bytes = b"") -> bytes:
    headers = [(wire.MESSAGE_TYPE, HeaderType.INT32, message_type), (wire.MESSAGE_FLAGS, HeaderType.INT32, 0),
               (wire.STREAM_ID, HeaderType.INT32, stream_id), *extra]
    return wire.encode_message(headers, payload)


def connect() -> socket.socket:
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(SOCKET)
    sock.sendall(frame(MessageType.CONNECT, 0, [(wire.VERSION, HeaderType.STRING, wire.PROTOCOL_VERSION)],
                       json.dumps({"authToken": os.environ["SVCUID"]}).encode()))
    FrameCounter(sock).read(1)
    return sock


def call(stream_id: int, operation: str, request: dict) -> bytes:
    return frame(MessageType.APPLICATION_MESSAGE, stream_id, [
        (wire.OPERATION, HeaderType.STRING, f"aws.greengrass#{operation}"),
        (wire.CONTENT_TYPE, HeaderType.STRING, wire.JSON),
        (wire.SERVICE_MODEL_TYPE, HeaderType.STRING, f"aws.greengrass#{operation}Request")],
        json.dumps(request).encode())


class FrameCounter:
    """Counts whole frames arriving on a socket (keeps partial frames between calls)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.last = time.monotonic()

    def read(self, want: int) -> int:
        """Read until `want` frames arrived, the socket closed, or (with a socket timeout) they stopped coming."""
        got = 0
        while got < want:
            try:
                data = self.sock.recv(1 << 20)
            except TimeoutError:
                break
            if not data:
                break
            self.last = time.monotonic()
            self.buf += data
            offset = 0
            while len(self.buf) - offset >= 4:
                size = int.from_bytes(self.buf[offset:offset + 4], "big")
                if len(self.buf) - offset < size:
                    break
                offset += size
                got += 1
            del self.buf[:offset]
        return got


topic, count, role = os.environ["RAW_TOPIC"], int(os.environ["RAW_COUNT"]), os.environ["RAW_ROLE"]
sock = connect()
if role == "sub":
    decoder = wire.Decoder()
    sock.sendall(call(1, "SubscribeToTopic", {"topic": topic}))
    while not decoder.feed(sock.recv(65536)):
        pass
    open("ready", "w").close()
    latencies_us: list[float] = []
    while len(latencies_us) < LATENCY_COUNT:  # one message at a time, each stamped by the sender
        for message in decoder.feed(sock.recv(65536)):
            now = time.monotonic_ns()
            body = json.loads(message.payload)["jsonMessage"]["message"]
            latencies_us.append((now - body["sent_ns"]) / 1000)
    frames = FrameCounter(sock)
    first = frames.read(1)  # the first event starts the clock
    started = time.monotonic()
    sock.settimeout(3.0)  # events the server dropped for a slow reader never come
    got = first + frames.read(count - first)
    elapsed = frames.last - started
    with open("raw_results.json", "w") as f:
        json.dump({"events": got, "seconds": elapsed, "latencies_us": latencies_us}, f)
else:
    while not os.path.exists(os.environ["RAW_START_FILE"]):
        time.sleep(0.05)
    pad = "x" * 960
    answers = FrameCounter(sock)
    for i in range(LATENCY_COUNT):
        sock.sendall(call(i + 1, "PublishToTopic", {"topic": topic, "publishMessage": {
            "jsonMessage": {"message": {"sent_ns": time.monotonic_ns(), "pad": pad}}}}))
        answers.read(1)
        time.sleep(0.002)
    time.sleep(0.5)
    # Batches of `window` frames, each sent once the previous batch was answered: what a client
    # with bounded in-flight calls does, so the subscriber is never flooded beyond that.
    window = int(os.environ.get("RAW_WINDOW", "256"))
    frames = [call(LATENCY_COUNT + i + 1, "PublishToTopic", {"topic": topic, "publishMessage": {
        "jsonMessage": {"message": {"i": i, "pad": pad}}}}) for i in range(count)]
    batches = [b"".join(frames[i:i + window]) for i in range(0, count, window)]
    responses = [0]
    for i, batch in enumerate(batches):
        sock.sendall(batch)
        responses[0] += answers.read(min(window, count - i * window))
    with open("raw_published.json", "w") as f:
        json.dump({"responses": responses[0]}, f)
while True:
    time.sleep(3600)
