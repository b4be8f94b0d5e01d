"""The Greengrass IPC server: event-stream RPC over a Unix socket, as the awsiotsdk client expects.

Per connection: the first message must be CONNECT with `{"authToken": ...}`; a known token is
answered with CONNECT_ACK + CONNECTION_ACCEPTED and names the calling component, anything else
gets a CONNECT_ACK without the flag and the connection ends (the client hangs up on it; the core
closes it after a short grace so the client reliably reports AccessDeniedError). Then each client stream (ids 1, 2, ...)
opens with a frame carrying `operation`; the operation table (services/) says how to answer:
one-shot calls get a `...Response` with TERMINATE_STREAM, streaming calls a `...Response` without
it and then events until the client ends the stream (flag 2) or the connection goes away.

Failures never hang a client and never hurt others: an unknown operation, bad arguments, a denied
call or a handler bug become a typed APPLICATION_ERROR on that stream; a malformed frame gets a
PROTOCOL_ERROR and only that connection is closed. Events to a subscriber whose socket buffer is
over `max_write_buffer` are dropped and counted, so a slow reader cannot stall publishers.

Everything runs on one asyncio loop; event sends from other threads (an MQTT client's thread, a
test) are handed to the loop with call_soon_threadsafe.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgeloop.simulator.core.errors import CoreError, FrameError, InvalidArguments

from . import wire
from .authz import Authorizer
from .core_api import CoreApi
from .services import OPERATIONS, CallContext, Operation
from .wire import MessageFlag, MessageType

log = logging.getLogger(__name__)

DEFAULT_MAX_WRITE_BUFFER = 8 * 1024 * 1024
REFUSED_GRACE_SECONDS = 2.0
CONNECT_TIMEOUT_SECONDS = 10.0
SERVICE_NAME = "aws.greengrass#GreengrassCoreIPC"
_TERMINATE = int(MessageFlag.TERMINATE_STREAM)

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_STREAM_ID_PREFIX = wire.int32_header(wire.STREAM_ID, 0)[:-4]
_I32 = struct.Struct(">i")


def _stream_id_header(stream_id: int) -> bytes:
    return _STREAM_ID_PREFIX + _I32.pack(stream_id)


_prefix_cache: dict[tuple[int, int, str | None], bytes] = {}


def _headers(message_type: int, flags: int, stream_id: int, model_type: str | None = None) -> bytes:
    """Encoded headers of an outgoing frame; all but the stream id are cached per combination."""
    key = (message_type, flags, model_type)
    prefix = _prefix_cache.get(key)
    if prefix is None:
        prefix = wire.int32_header(wire.MESSAGE_TYPE, message_type) + wire.int32_header(wire.MESSAGE_FLAGS, flags)
        if model_type is not None:
            prefix += wire.string_header(wire.CONTENT_TYPE, wire.JSON)
            prefix += wire.string_header(wire.SERVICE_MODEL_TYPE, model_type)
        _prefix_cache[key] = prefix
    return prefix + _stream_id_header(stream_id)


def error_payload(shape: str, message: str) -> bytes:
    return _dumps({"message": message, "_message": message, "_errorCode": shape, "_service": SERVICE_NAME}).encode()


class _Stream:
    """One operation's stream on a connection; for streaming calls it is the handler's EventStream."""

    __slots__ = ("conn", "stream_id", "op", "_event_headers", "_cleanups", "_pending", "closed")

    def __init__(self, conn: _Connection, stream_id: int, op: Operation) -> None:
        self.conn = conn
        self.stream_id = stream_id
        self.op = op
        self._event_headers = _headers(0, 0, stream_id, op.event_type) if op.event_type else b""
        self._cleanups: list[Callable[[], None]] = []
        self._pending: list[bytes] | None = []  # events raised before the response went out
        self.closed = False

    # EventStream ---------------------------------------------------------------------------
    def send(self, payload: dict[str, Any]) -> None:
        self.send_json(_dumps(payload).encode())

    def send_json(self, payload: bytes) -> None:
        server = self.conn.server
        if threading.get_ident() == server._loop_thread:
            self._write_event(payload)
        else:
            try:
                server.loop.call_soon_threadsafe(self._write_event, payload)
            except RuntimeError:  # loop closed: the core is shutting down
                pass

    def on_close(self, callback: Callable[[], None]) -> None:
        if self.closed:
            callback()
        else:
            self._cleanups.append(callback)

    # internals -----------------------------------------------------------------------------
    def _write_event(self, payload: bytes) -> None:
        if self.closed:
            return
        if self._pending is not None:
            self._pending.append(payload)
            return
        self.conn.write_event(wire.frame(self._event_headers, payload))

    def opened(self) -> None:
        """The response is on the wire: flush events that arrived meanwhile, then send directly."""
        pending, self._pending = self._pending, None
        for payload in pending or ():
            self._write_event(payload)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        cleanups, self._cleanups = self._cleanups, []
        for cleanup in cleanups:
            try:
                cleanup()
            except Exception:
                log.exception("cleanup of %s stream %d failed", self.op.name, self.stream_id)


class _Connection(asyncio.Protocol):
    def __init__(self, server: IpcServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.decoder = wire.Decoder(server.max_message_size)
        self.component: str | None = None
        self.token: str | None = None
        self.streams: dict[int, _Stream] = {}
        self.last_stream_id = 0
        self.dropped = 0
        self.closing = False
        self.refused = False
        self._out: list[bytes] = []
        self._out_bytes = 0
        self._flush_scheduled = False

    # asyncio.Protocol ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server._connections.add(self)
        self.server.loop.call_later(CONNECT_TIMEOUT_SECONDS, self._connect_deadline)

    def _connect_deadline(self) -> None:
        if self.component is None and not self.closing and not self.refused:
            self.protocol_error(f"no CONNECT within {CONNECT_TIMEOUT_SECONDS:.0f} seconds")

    def data_received(self, data: bytes) -> None:
        if self.closing or self.refused:
            return
        try:
            messages = self.decoder.feed(data)
        except FrameError as exc:
            self.protocol_error(f"malformed frame: {exc}")
            return
        for message in messages:
            if self.closing or self.refused:
                return
            try:
                self.handle(message)
            except Exception:  # a bug of ours: this connection ends, the server stays up
                log.exception("IPC connection of %s failed", self.component or "an unauthenticated client")
                self.internal_error("the core failed to process a message")
                return

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.server._connections.discard(self)
        streams, self.streams = self.streams, {}
        for stream in streams.values():
            stream.close()

    # writing -------------------------------------------------------------------------------
    # Frames are queued and flushed once per loop iteration: a burst of calls or events costs one
    # send() per connection instead of one per frame.
    def write(self, data: bytes) -> None:
        if self.closing:
            return
        self._out.append(data)
        self._out_bytes += len(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.server.loop.call_soon(self._flush)

    def write_event(self, data: bytes) -> None:
        if self.closing:
            return
        if self.transport.get_write_buffer_size() + self._out_bytes > self.server.max_write_buffer:  # type: ignore[union-attr]
            self.dropped += 1
            self.server.dropped_events += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("%s reads too slowly: %d events dropped", self.component, self.dropped)
            return
        self.write(data)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._out:
            return
        data = self._out[0] if len(self._out) == 1 else b"".join(self._out)
        self._out.clear()
        self._out_bytes = 0
        if not self.transport.is_closing():  # type: ignore[union-attr]
            self.transport.write(data)  # type: ignore[union-attr]

    def close(self) -> None:
        if not self.closing:
            self._flush()
            self.closing = True
            self.transport.close()  # type: ignore[union-attr]  # flushes what is buffered, then ends

    def protocol_error(self, message: str) -> None:
        self._connection_error(MessageType.PROTOCOL_ERROR, message)

    def internal_error(self, message: str) -> None:
        self._connection_error(MessageType.INTERNAL_ERROR, message)

    def _connection_error(self, kind: MessageType, message: str) -> None:
        log.warning("IPC %s for %s: %s", kind.name, self.component or "an unauthenticated client", message)
        headers = _headers(kind, 0, 0) + wire.string_header(wire.CONTENT_TYPE, wire.JSON)
        self.write(wire.frame(headers, _dumps({"message": message}).encode()))
        self.close()

    # reading -------------------------------------------------------------------------------
    def handle(self, message: wire.EventStreamMessage) -> None:
        headers = {h.name: h.value for h in message.headers}
        numbers: list[int] = []
        for name in (wire.MESSAGE_TYPE, wire.MESSAGE_FLAGS, wire.STREAM_ID):
            value = headers.get(name)
            if type(value) is not int:
                self.protocol_error(f"header {name} is missing or not an int32")
                return
            numbers.append(value)
        message_type, flags, stream_id = numbers
        if self.component is None:
            self.handle_connect(message_type, stream_id, headers, message.payload)
            return
        if message_type == MessageType.APPLICATION_MESSAGE or message_type == MessageType.APPLICATION_ERROR:
            if stream_id <= 0:
                self.protocol_error(f"application message on stream {stream_id}")
                return
            self.handle_stream_message(message_type, stream_id, flags, headers, message.payload)
        elif message_type == MessageType.PING:
            self.write(wire.frame(_headers(MessageType.PING_RESPONSE, 0, 0), message.payload))
        elif message_type == MessageType.PING_RESPONSE:
            pass
        elif message_type == MessageType.CONNECT:
            self.protocol_error("CONNECT received on an established connection")
        elif message_type in (MessageType.PROTOCOL_ERROR, MessageType.INTERNAL_ERROR):
            log.warning("IPC client %s reported %s: %r", self.component, MessageType(message_type).name,
                        message.payload[:200])
            self.close()
        else:
            self.protocol_error(f"unexpected message type {message_type}")

    def handle_connect(self, message_type: int, stream_id: int, headers: dict[str, Any], payload: bytes) -> None:
        if message_type != MessageType.CONNECT or stream_id != 0:
            self.protocol_error("the first message must be CONNECT on stream 0")
            return
        version = headers.get(wire.VERSION)
        if version != wire.PROTOCOL_VERSION:
            self.protocol_error(f"unsupported :version {version!r}; this core speaks {wire.PROTOCOL_VERSION}")
            return
        token = None
        try:
            body = json.loads(payload) if payload else {}
            if isinstance(body, dict) and isinstance(body.get("authToken"), str):
                token = body["authToken"]
        except ValueError:
            pass
        component = self.server._tokens.get(token) if token is not None else None
        ack = _headers(MessageType.CONNECT_ACK, 1 if component else 0, 0) \
            + wire.string_header(wire.VERSION, wire.PROTOCOL_VERSION)
        self.write(wire.frame(ack))
        if component is None:
            log.warning("IPC connection refused: %s", "unknown authToken" if token else "no authToken in CONNECT")
            # The awsiotsdk client raises AccessDeniedError only if it sees the refusal before the socket
            # closes, so let it hang up first; we end the connection ourselves after a grace period.
            self.refused = True
            asyncio.get_running_loop().call_later(REFUSED_GRACE_SECONDS, self.close)
            return
        self.component, self.token = component, token
        log.debug("IPC connection accepted for %s", component)

    def handle_stream_message(self, message_type: int, stream_id: int, flags: int, headers: dict[str, Any],
                              payload: bytes) -> None:
        stream = self.streams.get(stream_id)
        if stream is not None:
            if flags & _TERMINATE:
                del self.streams[stream_id]
                stream.close()
            # Greengrass IPC has no client-to-server stream events; anything else is ignored.
            return
        if stream_id <= self.last_stream_id:
            return  # a late message on a stream that already ended (e.g. the client closing it)
        self.last_stream_id = stream_id
        name = headers.get(wire.OPERATION)
        if message_type != MessageType.APPLICATION_MESSAGE:
            self.protocol_error(f"stream {stream_id} opened with an application error")
            return
        if not isinstance(name, str):
            self.protocol_error(f"stream {stream_id} opened without an operation header")
            return
        self.server.calls += 1
        op = self.server.operations.get(name)
        if op is None:
            self.send_error(stream_id, "ServiceError", f"Operation {name} is not supported by this core")
            return
        stream = _Stream(self, stream_id, op)
        try:
            request = _parse_request(name, payload)
            if op.policy_service is not None:
                resource = op.resource(request) if op.resource is not None else None
                self.server.authorizer.check(self.component, op.policy_service, name, resource)  # type: ignore[arg-type]
            ctx = CallContext(self.component, self.server.core)  # type: ignore[arg-type]
            if op.streaming:
                self.streams[stream_id] = stream
                response = op.handler(ctx, request, stream)  # type: ignore[call-arg]
            else:
                response = op.handler(ctx, request)  # type: ignore[call-arg]
            body = _dumps(response).encode() if response else b"{}"
        except CoreError as exc:
            self._fail(stream, exc)
            return
        except Exception as exc:
            log.exception("%s failed for %s", name, self.component)
            self._fail(stream, exc)
            return
        if not op.streaming:
            self.write(wire.frame(_headers(0, _TERMINATE, stream_id, op.response_type), body))
            return
        self.write(wire.frame(_headers(0, 0, stream_id, op.response_type), body))
        if flags & _TERMINATE:  # opened and closed in one frame
            self.streams.pop(stream_id, None)
            stream.close()
            return
        stream.opened()

    def _fail(self, stream: _Stream, exc: Exception) -> None:
        self.streams.pop(stream.stream_id, None)
        stream.close()
        if isinstance(exc, CoreError):
            shape, message = exc.error_shape, exc.message
        else:
            shape, message = "ServiceError", f"{stream.op.name} failed in the core: {type(exc).__name__}: {exc}"
        self.send_error(stream.stream_id, shape, message)

    def send_error(self, stream_id: int, shape: str, message: str) -> None:
        self.server.errors += 1
        self.write(wire.frame(_headers(MessageType.APPLICATION_ERROR, _TERMINATE, stream_id,
                                       "aws.greengrass#" + shape), error_payload(shape, message)))


def _parse_request(operation: str, payload: bytes) -> dict[str, Any]:
    try:
        request = json.loads(payload) if payload else {}
    except ValueError as exc:
        raise InvalidArguments(f"the {operation} request is not valid JSON: {exc}") from None
    if not isinstance(request, dict):
        raise InvalidArguments(f"the {operation} request must be a JSON object, got {type(request).__name__}")
    return request


class IpcServer:
    """Serves the Greengrass IPC API of `core` on `socket_path` to components holding a registered token."""

    def __init__(self, socket_path: str | Path, core: CoreApi, authorizer: Authorizer, *,
                 operations: dict[str, Operation] | None = None,
                 max_message_size: int = wire.DEFAULT_MAX_MESSAGE_SIZE,
                 max_write_buffer: int = DEFAULT_MAX_WRITE_BUFFER) -> None:
        self.socket_path = Path(socket_path)
        self.core = core
        self.authorizer = authorizer
        self.operations = OPERATIONS if operations is None else operations
        self.max_message_size = max_message_size
        self.max_write_buffer = max_write_buffer
        self._tokens: dict[str, str] = {}
        self._connections: set[_Connection] = set()
        self._server: asyncio.AbstractServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self.calls = 0
        self.errors = 0
        self.dropped_events = 0

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop the server runs on; connections exist only after start() set it."""
        if self._loop is None:
            raise RuntimeError("the IPC server is not started")
        return self._loop

    async def start(self) -> None:
        if len(str(self.socket_path).encode()) > 107:
            raise ValueError(f"IPC socket path {self.socket_path} is longer than the 107 bytes a Unix socket allows")
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        if self.socket_path.exists() or self.socket_path.is_symlink():
            self.socket_path.unlink()  # a stale socket from a previous run
        self._server = await self._loop.create_unix_server(lambda: _Connection(self), str(self.socket_path))
        # Every component runs as the core's own user here (RunWithInfo is not applied), so only
        # that user needs the socket; the token still names the caller.
        os.chmod(self.socket_path, 0o600)
        log.info("IPC server listening on %s", self.socket_path)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for conn in list(self._connections):
                conn.close()
            await self._server.wait_closed()
            self._server = None
        try:
            self.socket_path.unlink()
        except FileNotFoundError:
            pass

    def register_token(self, token: str, component_name: str) -> None:
        """Let a client presenting `token` (its SVCUID) act as `component_name`."""
        if not token:
            raise ValueError("an IPC token must not be empty")
        self._tokens[token] = component_name

    def revoke_token(self, token: str) -> None:
        """Forget `token` and end connections that authenticated with it (the component is gone)."""
        self._tokens.pop(token, None)
        for conn in list(self._connections):
            if conn.token == token:
                if self._loop is not None and threading.get_ident() != self._loop_thread:
                    self._loop.call_soon_threadsafe(conn.close)
                else:
                    conn.close()

    def connection_count(self) -> int:
        return len(self._connections)

    def stream_count(self) -> int:
        return sum(len(conn.streams) for conn in self._connections)
