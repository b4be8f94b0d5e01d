"""Shared pieces of the ECG cloud tests: gateway-shaped window and alert bodies from real simulated
ECG, a real loopback webhook, `edgeloop ecg archive` run in-process, and the renderer processes
this process has running."""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from datetime import UTC, datetime
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from edgeloop import cli as edgeloop_cli
from edgeloop.cloud.ecg import archive_cli
from edgeloop.components.ecg_prefilter.features import analyse_window
from edgeloop.contracts.ecg import alert_message, window_message
from edgeloop.simulator.wearable.rhythm import Episode
from edgeloop.simulator.wearable.simulator import WearableSimulator

FS = 250.0
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC).timestamp()
RHYTHM = {"af": Episode("af", 60, hr=115), "other": Episode("bigeminy", 60, hr=70),
          "noisy": Episode("sinus", 60, hr=75, artifact="motion"), "normal": Episode("sinus", 60, hr=70)}


@cache
def recording(device_id: str, condition: str) -> np.ndarray:
    return WearableSimulator(FS, seed=7).record(1, [RHYTHM[condition]], device_id=device_id).ecg


def window_body(device_id: str = "wearable-0001", window_id: str = "wearable-0001-1709294400000", *,
                condition: str = "af", start: float = T0, label: str | None = None) -> dict:
    """A `dt/ecg/<id>/window` body as a gateway builds it: simulated ECG, real features and summary."""
    ecg = recording(device_id, condition)
    analysis = analyse_window(ecg, FS)
    label = label or condition
    return window_message(device_id=device_id, window_id=window_id, start=start, fs=FS, ecg_mv=ecg,
                          label=label, score=0.91, probabilities={label: 0.91, "normal": 0.09},
                          model_version="1.0.3", features=analysis.features, summary=analysis.summary)


def alert_body(body: dict) -> dict:
    return alert_message(device_id=body["device_id"], window_id=body["window_id"], start=body["start"],
                         end=body["end"], label=body["label"], score=body["score"],
                         model_version=body["model_version"], hr_bpm=112.0, quality=0.9)


class Webhook:
    """A real HTTP server on loopback recording POSTed JSON; `status` and `delay_s` shape its answers."""

    def __init__(self, status: int = 200, delay_s: float = 0.0) -> None:
        self.bodies: list[dict] = []
        self.requests = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.requests += 1
                time.sleep(delay_s)
                if status == 200:
                    hook.bodies.append(json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()



def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="edgeloop")
    ecg = root.add_subparsers(dest="command", required=True).add_parser("ecg")
    archive_cli.register(ecg.add_subparsers(dest="ecg_command", required=True))
    return root


def run(capsys, *args: str) -> tuple[int, str, str]:
    root = parser()
    code = edgeloop_cli.run(root, root.parse_args(["ecg", "archive", *map(str, args)]))
    out = capsys.readouterr()
    return code, out.out, out.err


def spawned_children() -> list[int]:
    """Live children of this process started by multiprocessing's spawn (the archive's renderer
    workers), from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z" and b"spawn_main" in cmdline:
            found.append(int(stat.parent.name))
    return found
