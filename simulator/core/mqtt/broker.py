"""The embedded MQTT broker that client devices connect to, run as its own process.

Why a process: amqtt relays about 2-4k msg/s inside a busy event loop and 5-7k msg/s on a loop of
its own (DESIGN.md), and the core's loop is busy with IPC. The parent (`EmbeddedBroker`) starts

    python -m edgeloop.simulator.core.mqtt.broker --host 127.0.0.1 --port 0 [--port-file F]

and learns the bound port from the child's first stdout line, `LISTENING <host>:<port>` (also written
to `--port-file` when given). SIGTERM/SIGINT shut the broker down cleanly (exit status 0); a port that
cannot be bound exits with status 2 and a one-line reason on stderr.

Access is anonymous and meant for loopback. A deliberate difference from Greengrass: there, client
devices authenticate with X.509 certificates through the client device auth component
(aws.greengrass.clientdevices.Auth) and the broker listens with TLS on 8883.

Bursts: amqtt 0.12's per-session delivery queues and its broadcast queue are unbounded asyncio
queues, so the broker does not drop messages under a burst (the memory grows instead). We load only
the anonymous-auth plugin: amqtt's default packet/event logger and $SYS plugins cost time per packet.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

from edgeloop.simulator.core.errors import BrokerStartError

READY_PREFIX = "LISTENING "
EXIT_BIND_FAILED = 2


# ---------------------------------------------------------------------------------------------
# Child side: the broker process.


def broker_config(host: str, port: int) -> dict:
    """amqtt 0.12 configuration: one TCP listener, anonymous access, no per-packet logging plugins."""
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


def _bound_port(broker: object) -> int:
    # amqtt 0.12 has no public accessor for the bound address; `_servers[name].instance` is the
    # asyncio.Server it created, whose socket knows the port chosen for port 0.
    server = broker._servers["default"].instance  # type: ignore[attr-defined]
    return int(server.sockets[0].getsockname()[1])


async def _serve(host: str, port: int, port_file: Path | None) -> int:
    from amqtt.broker import (  # lazy: amqtt runs in the broker's process, not the core's
        Broker,  # imported here: the parent side must not pay for amqtt
    )
    from amqtt.errors import BrokerError  # lazy: amqtt runs in the broker's process, not the core's

    broker = Broker(broker_config(host, port))
    try:
        await broker.start()
    except BrokerError as exc:
        cause = exc.__cause__ or exc
        print(f"edgeloop broker: cannot listen on {host}:{port}: {cause}", file=sys.stderr, flush=True)
        return EXIT_BIND_FAILED
    bound = _bound_port(broker)
    if port_file is not None:
        tmp = port_file.with_name(port_file.name + ".tmp")
        tmp.write_text(f"{bound}\n")
        os.replace(tmp, port_file)
    print(f"{READY_PREFIX}{host}:{bound}", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await broker.shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgeloop.simulator.core.mqtt.broker",
                                     description="edgeloop's embedded MQTT broker for client devices")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883, help="0 picks a free port")
    parser.add_argument("--port-file", type=Path, help="write the bound port here once listening")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"--port {args.port} is outside 0..65535")
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(_serve(args.host, args.port, args.port_file))


# ---------------------------------------------------------------------------------------------
# Parent side.


class EmbeddedBroker:
    """Starts and stops the broker process; its stderr goes to `log_file`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, log_file: str | Path | None = None,
                 *, start_timeout: float = 20.0) -> None:
        self.host = host
        self.requested_port = port
        self.log_file = Path(log_file) if log_file else None
        self.start_timeout = start_timeout
        self.port: int | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None
        self._log_start = 0

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the embedded broker is not running")
        return f"mqtt://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> str:
        """Start the process and return its URL once it accepts connections."""
        if self.running():
            return self.url
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_file, "a+", encoding="utf-8")
        else:  # a pipe nobody reads could fill up and stall the broker; a file cannot
            self._log = tempfile.TemporaryFile("w+", encoding="utf-8")
        self._log_start = self._log.tell()
        cmd = [sys.executable, "-m", "edgeloop.simulator.core.mqtt.broker",
               "--host", self.host, "--port", str(self.requested_port)]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                      stderr=self._log,
                                      text=True, start_new_session=True)
        line = self._first_line(self._proc, self.start_timeout)
        if not line.startswith(READY_PREFIX):
            reason = self._failure_reason(line)
            self.stop()
            raise BrokerStartError(
                f"embedded MQTT broker failed to start on {self.host}:{self.requested_port}: {reason}")
        self.port = int(line[len(READY_PREFIX):].rsplit(":", 1)[1])
        return self.url

    @staticmethod
    def _first_line(proc: subprocess.Popen[str], timeout: float) -> str:
        # readline() blocks; a helper thread lets us give up after `timeout`.
        result: list[str] = []
        stdout = proc.stdout
        if stdout is None:
            raise ValueError("the broker process was started without stdout=PIPE")
        reader = threading.Thread(target=lambda: result.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if reader.is_alive():
            return ""
        return result[0].strip() if result else ""

    def _failure_reason(self, line: str) -> str:
        assert self._proc is not None
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return f"no '{READY_PREFIX.strip()}' line within {self.start_timeout:.0f} s"
        assert self._log is not None
        self._log.seek(self._log_start)
        text = self._log.read()
        lines = [ln for ln in text.splitlines() if ln.startswith("edgeloop broker:")]
        detail = lines[-1].removeprefix("edgeloop broker: ") if lines else (text.strip().splitlines() or [line])[-1]
        return f"{detail} (exit status {self._proc.returncode})"

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if the broker has not exited within `timeout` seconds."""
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None
        self.port = None

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_port_file(path: Path, timeout: float = 10.0) -> int:
    """The port a broker started with --port-file wrote, waiting up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return int(path.read_text().strip())
        except (FileNotFoundError, ValueError):
            time.sleep(0.05)
    raise TimeoutError(f"no port written to {path} within {timeout} s")


if __name__ == "__main__":
    sys.exit(main())
