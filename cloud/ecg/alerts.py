"""Alert fan-out: every alert a gateway raised goes to a local log at once and to slower sinks
(a webhook here, SNS on AWS later) in the background.

The log line is written synchronously (a local append is microseconds and is the record of what
arrived). Every other sink gets its own thread and bounded queue, so a webhook that hangs for its
whole timeout delays neither the receiver nor another sink; when a queue is full the alert is
dropped for that sink and counted (it is still in the log). Failures are retried, counted and
logged, never raised. A sink is anything with `name` and `send(record)` (AlertSink); the webhook is
POSTed with the standard library's urllib because one JSON POST needs no HTTP client dependency.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol, Self, TextIO, runtime_checkable
from urllib.parse import urlsplit

Log = Callable[[str], None]


@runtime_checkable
class AlertSink(Protocol):
    """Somewhere alerts go; `send` raises on failure (the fan-out retries and counts)."""

    name: str

    def send(self, record: dict[str, Any]) -> None: ...


class WebhookSink:
    """POST each alert as JSON; any non-2xx answer, timeout or connection error is a failure."""

    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"webhook URL {url!r}: expected http(s)://HOST[:PORT]/PATH")
        self.url = url
        self.name = f"webhook {parts.scheme}://{parts.netloc}{parts.path}"
        self.timeout_s = timeout_s

    def send(self, record: dict[str, Any]) -> None:
        request = urllib.request.Request(self.url, data=json.dumps(record).encode(), method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "User-Agent": "edgeloop-alerts"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise RuntimeError(str(getattr(exc, "reason", exc))) from None


class _SinkWorker:
    """One sink's queue and thread: retries with a doubling delay, counts what became of each alert."""

    def __init__(self, sink: AlertSink, retries: int, retry_delay_s: float, queue_size: int, log: Log) -> None:
        self.sink, self.retries, self.retry_delay_s, self.log = sink, retries, retry_delay_s, log
        self.queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=queue_size)
        self.delivered = self.failed = self.dropped = self.retried = 0
        self.last_error: str | None = None
        self._closing = threading.Event()
        self._abandon = threading.Event()
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name=f"alerts: {sink.name}", daemon=True)
        self.thread.start()

    def offer(self, record: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            with self._lock:
                self.dropped += 1
            self.log(f"alert {_what(record)} dropped for {self.sink.name}: "
                     f"{self.queue.maxsize} alerts already waiting")

    def _run(self) -> None:
        while not (self._closing.is_set() and self.queue.empty()):
            try:
                record = self.queue.get(timeout=0.1)
            except queue.Empty:
                continue
            self._deliver(record)
            if self._abandon.is_set():
                break

    def _deliver(self, record: dict[str, Any]) -> None:
        delay = self.retry_delay_s
        for attempt in range(1 + self.retries):
            if self._abandon.is_set():
                with self._lock:
                    self.dropped += 1
                return
            try:
                self.sink.send(record)
            except Exception as exc:  # noqa: BLE001 - a sink's failure must never stop the fan-out
                error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, RuntimeError) else str(exc)
                with self._lock:
                    self.last_error = error
                if attempt < self.retries:
                    with self._lock:
                        self.retried += 1
                    self._abandon.wait(delay)
                    delay *= 2
                    continue
                with self._lock:
                    self.failed += 1
                self.log(f"alert {_what(record)} not delivered to {self.sink.name} after "
                         f"{attempt + 1} attempts: {error}")
                return
            with self._lock:
                self.delivered += 1
            return

    def close(self, deadline: float) -> None:
        self._closing.set()
        self.thread.join(max(0.0, deadline - time.monotonic()))
        if self.thread.is_alive():
            self._abandon.set()
            self.thread.join(self.retry_delay_s + 0.5)
        left = 0
        while True:
            try:
                self.queue.get_nowait()
                left += 1
            except queue.Empty:
                break
        if left:
            with self._lock:
                self.dropped += left
            self.log(f"{left} alerts not delivered to {self.sink.name}: closed before the queue drained")

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {"delivered": self.delivered, "failed": self.failed, "dropped": self.dropped,
                    "retried": self.retried, "queued": self.queue.qsize(), "last_error": self.last_error}


class JsonLines:
    """An append-only JSON-lines file, one whole line per `write` under a lock (kept open)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: TextIO | None = None
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"), default=str) + "\n"
        with self._lock:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open, close()
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def _what(record: dict[str, Any]) -> str:
    return f"{record.get('device_id')}/{record.get('window_id')} ({record.get('label')})"


class AlertFanout:
    """`publish(alert)` appends one JSON line (the alert plus received_at) to `log_path` and hands
    the same record to every sink (the webhook if given, plus `sinks`) without waiting for them."""

    def __init__(self, log_path: str | Path, webhook_url: str | None = None, timeout_s: float = 5.0,
                 retries: int = 2, *, sinks: Iterable[AlertSink] = (), queue_size: int = 1000,
                 retry_delay_s: float = 0.5, log: Log = lambda line: None) -> None:
        if retries < 0 or queue_size < 1:
            raise ValueError(f"retries {retries} must be >= 0 and queue_size {queue_size} >= 1")
        all_sinks = ([WebhookSink(webhook_url, timeout_s)] if webhook_url else []) + list(sinks)
        for sink in all_sinks:
            if not isinstance(sink, AlertSink):
                raise TypeError(f"{sink!r} is not an AlertSink (needs .name and .send(record))")
        self.log_path = Path(log_path)
        self._file = JsonLines(self.log_path)
        self._lock = threading.Lock()
        self.log = log
        self.alerts = 0
        self.log_failures = 0
        self._workers = [_SinkWorker(s, retries, retry_delay_s, queue_size, log) for s in all_sinks]
        self._closed = False

    def publish(self, alert: dict[str, Any], received_at: float | None = None) -> dict[str, Any]:
        """Log and fan out one alert; returns the record sent. Never raises."""
        record = dict(alert, received_at=time.time() if received_at is None else received_at)
        with self._lock:
            self.alerts += 1
        try:
            if self._closed:
                raise OSError("the fan-out is closed")
            self._file.append(record)
        except (OSError, ValueError) as exc:
            with self._lock:
                self.log_failures += 1
            self.log(f"alert {_what(record)} not written to {self.log_path}: {exc}")
        if not self._closed:
            for worker in self._workers:
                worker.offer(record)
        return record

    @property
    def sinks(self) -> list[str]:
        return [w.sink.name for w in self._workers]

    def stats(self) -> dict[str, Any]:
        sinks = {w.sink.name: w.stats() for w in self._workers}
        totals = {key: sum(s[key] for s in sinks.values()) for key in ("delivered", "failed", "dropped")}
        return {"alerts": self.alerts, "log": str(self.log_path), "log_failures": self.log_failures,
                **totals, "sinks": sinks}

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop taking alerts, give the sinks up to `timeout_s` to drain, count what is left."""
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + timeout_s
        for worker in self._workers:
            worker.close(deadline)
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
