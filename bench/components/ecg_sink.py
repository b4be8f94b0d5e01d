"""Bench component: receives wearable chunks over IPC (dt/sensor/+, bridged from the site broker)
and records which (device, seq) arrived when.

Per message it does what the pre-filter must do before its own work: decode the chunk's JSON and
turn `ecg` into a float32 array. Device ids are `<phase>-<index>`; the bench asks for a phase's
records by creating `dump-<phase>`, and the component answers with `<phase>.npz` (device index,
seq, CLOCK_MONOTONIC receive time in ns). `progress.json` (messages per phase) is rewritten every
0.5 s so the bench can see when a phase has drained.
"""
import json
import os
import threading
import time
from pathlib import Path

import numpy as np
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

# Callbacks on the client's own event-loop thread (executor=None), as a lean component would.
ipc = GreengrassCoreIPCClientV2(executor=None)
config = ipc.get_configuration(key_path=[]).value
lock = threading.Lock()
records: dict[str, list[tuple[int, int, int]]] = {}
errors = 0


def on_message(event) -> None:
    global errors
    now = time.monotonic_ns()
    try:
        chunk = json.loads(event.binary_message.message)
        np.asarray(chunk["ecg"], dtype=np.float32)
        phase, index = chunk["device_id"].rsplit("-", 1)
        row = (int(index), int(chunk["seq"]), now)
    except (ValueError, KeyError, TypeError, AttributeError):
        errors += 1
        return
    with lock:
        records.setdefault(phase, []).append(row)


ipc.subscribe_to_topic(topic=config["topic"], on_stream_event=on_message)
Path("ready").touch()
while True:
    time.sleep(0.5)
    with lock:
        progress = {phase: len(rows) for phase, rows in records.items()}
    Path("progress.tmp").write_text(json.dumps({"phases": progress, "errors": errors}))
    os.replace("progress.tmp", "progress.json")
    for request in Path(".").glob("dump-*"):
        phase = request.name[len("dump-"):]
        with lock:
            rows = np.array(records.pop(phase, []), dtype=np.int64).reshape(-1, 3)
        np.savez(f"{phase}.tmp.npz", device=rows[:, 0], seq=rows[:, 1], recv_ns=rows[:, 2])
        os.replace(f"{phase}.tmp.npz", f"{phase}.npz")
        request.unlink()
