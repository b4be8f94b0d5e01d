"""AWS event-stream framing: the binary message format under the Greengrass IPC protocol.

Hand-written because awscrt ships only the *client* side of event-stream RPC (the encoder and
decoder live in C behind `awscrt.eventstream.rpc.ClientConnection` and are not exposed to
Python), and a Greengrass core is the server. The format is small and fully specified:

    total_len:u32 | headers_len:u32 | prelude_crc:u32 | headers | payload | message_crc:u32

big-endian; `prelude_crc` is CRC32 of the first 8 bytes, `message_crc` CRC32 of everything
before it. A header is `name_len:u8 | name | type:u8 | value` with ten value types.

`Decoder` is incremental (feed it whatever the socket delivered) and rejects a frame whose
prelude announces more than `max_message_size` from the prelude alone, so a hostile length
never makes us buffer it.
"""

from __future__ import annotations

import datetime as _dt
import struct
import uuid
import zlib
from collections.abc import Iterable
from enum import IntEnum, IntFlag
from typing import Any, NamedTuple

from edgeloop.simulator.core.errors import FrameError

PRELUDE_LEN = 12
MESSAGE_CRC_LEN = 4
MIN_MESSAGE_LEN = PRELUDE_LEN + MESSAGE_CRC_LEN
DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024

# Header names the RPC layer uses.
MESSAGE_TYPE = ":message-type"
MESSAGE_FLAGS = ":message-flags"
STREAM_ID = ":stream-id"
VERSION = ":version"
CONTENT_TYPE = ":content-type"
OPERATION = "operation"
SERVICE_MODEL_TYPE = "service-model-type"

PROTOCOL_VERSION = "0.1.0"
JSON = "application/json"


class MessageType(IntEnum):
    APPLICATION_MESSAGE = 0
    APPLICATION_ERROR = 1
    PING = 2
    PING_RESPONSE = 3
    CONNECT = 4
    CONNECT_ACK = 5
    PROTOCOL_ERROR = 6
    INTERNAL_ERROR = 7


class MessageFlag(IntFlag):
    NONE = 0
    CONNECTION_ACCEPTED = 1
    TERMINATE_STREAM = 2


class HeaderType(IntEnum):
    BOOL_TRUE = 0
    BOOL_FALSE = 1
    BYTE = 2
    INT16 = 3
    INT32 = 4
    INT64 = 5
    BYTE_BUF = 6
    STRING = 7
    TIMESTAMP = 8
    UUID = 9


class Header(NamedTuple):
    name: str
    type: HeaderType
    value: Any  # bool | int | bytes | str | datetime (TIMESTAMP) | uuid.UUID


class EventStreamMessage(NamedTuple):
    headers: list[Header]
    payload: bytes

    def header_map(self) -> dict[str, Any]:
        """Header values by name (a later duplicate wins, as the awscrt client does not care)."""
        return {h.name: h.value for h in self.headers}


_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")
_I8 = struct.Struct(">b")
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")
_PRELUDE = struct.Struct(">II")
_PRELUDE_FULL = struct.Struct(">III")
_U32 = struct.Struct(">I")
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)

_INT_TYPES = {HeaderType.BYTE: _I8, HeaderType.INT16: _I16, HeaderType.INT32: _I32, HeaderType.INT64: _I64}


# -- encoding ------------------------------------------------------------------------------

def encode_header(name: str, type_: HeaderType, value: Any = None) -> bytes:
    """One header's bytes; raises ValueError naming the header when the value does not fit its type."""
    raw_name = name.encode()
    if not 0 < len(raw_name) <= 255:
        raise ValueError(f"header name {name!r} must be 1-255 bytes")
    out = _U8.pack(len(raw_name)) + raw_name + _U8.pack(type_)
    try:
        if type_ in (HeaderType.BOOL_TRUE, HeaderType.BOOL_FALSE):
            return out
        if type_ in _INT_TYPES:
            return out + _INT_TYPES[type_].pack(value)
        if type_ in (HeaderType.BYTE_BUF, HeaderType.STRING):
            raw = value.encode() if type_ == HeaderType.STRING else bytes(value)
            return out + _U16.pack(len(raw)) + raw
        if type_ == HeaderType.TIMESTAMP:
            millis = value if isinstance(value, int) else _datetime_to_millis(value)
            return out + _I64.pack(millis)
        if type_ == HeaderType.UUID:
            raw = value.bytes if isinstance(value, uuid.UUID) else bytes(value)
            if len(raw) != 16:
                raise ValueError("a UUID is 16 bytes")
            return out + raw
    except (struct.error, AttributeError, TypeError) as exc:
        raise ValueError(f"header {name!r}: {value!r} does not fit type {HeaderType(type_).name}: {exc}") from exc
    raise ValueError(f"header {name!r}: unknown header type {type_!r}")


def bool_header(name: str, value: bool) -> bytes:
    return encode_header(name, HeaderType.BOOL_TRUE if value else HeaderType.BOOL_FALSE)


def int32_header(name: str, value: int) -> bytes:
    return encode_header(name, HeaderType.INT32, value)


def string_header(name: str, value: str) -> bytes:
    return encode_header(name, HeaderType.STRING, value)


def encode_headers(headers: Iterable[Header | tuple[str, HeaderType, Any]]) -> bytes:
    return b"".join(encode_header(h[0], h[1], h[2]) for h in headers)


def frame(header_bytes: bytes, payload: bytes = b"") -> bytes:
    """A complete message from already-encoded headers and a payload (the hot path of the server)."""
    prelude = _PRELUDE.pack(len(header_bytes) + len(payload) + MIN_MESSAGE_LEN, len(header_bytes))
    prelude += _U32.pack(zlib.crc32(prelude))
    crc = zlib.crc32(payload, zlib.crc32(header_bytes, zlib.crc32(prelude)))
    return b"".join((prelude, header_bytes, payload, _U32.pack(crc)))


def encode_message(headers: Iterable[Header | tuple[str, HeaderType, Any]], payload: bytes = b"") -> bytes:
    return frame(encode_headers(headers), payload)


def _datetime_to_millis(value: _dt.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


# -- decoding ------------------------------------------------------------------------------

_HEADER_TYPES = tuple(HeaderType)


def decode_headers(data: bytes, start: int = 0, end: int | None = None) -> list[Header]:
    """Parse the headers block data[start:end]; FrameError names what is malformed."""
    end = len(data) if end is None else end
    pos = start
    headers: list[Header] = []
    try:
        while pos < end:
            name_len = data[pos]
            pos += 1
            if name_len == 0:
                raise FrameError(f"header at byte {pos - 1 - start} has an empty name")
            if pos + name_len + 1 > end:
                raise FrameError("header name runs past the end of the headers block")
            name = data[pos:pos + name_len].decode()
            pos += name_len
            type_ = data[pos]
            pos += 1
            if type_ == 7 or type_ == 6:
                if pos + 2 > end:
                    raise FrameError(f"header {name!r}: value length truncated")
                length = (data[pos] << 8) | data[pos + 1]
                pos += 2
                if pos + length > end:
                    raise FrameError(f"header {name!r}: value of {length} bytes runs past the headers block")
                value: Any = data[pos:pos + length]
                if type_ == 7:
                    value = value.decode()
                pos += length
            elif type_ == 4:
                if pos + 4 > end:
                    raise FrameError(f"header {name!r}: integer value truncated")
                value = _I32.unpack_from(data, pos)[0]
                pos += 4
            elif type_ == 0 or type_ == 1:
                value = type_ == 0
            elif type_ == 2 or type_ == 3 or type_ == 5:
                fmt = _INT_TYPES[_HEADER_TYPES[type_]]
                if pos + fmt.size > end:
                    raise FrameError(f"header {name!r}: integer value truncated")
                value = fmt.unpack_from(data, pos)[0]
                pos += fmt.size
            elif type_ == 8:
                if pos + 8 > end:
                    raise FrameError(f"header {name!r}: timestamp truncated")
                value = _EPOCH + _dt.timedelta(milliseconds=_I64.unpack_from(data, pos)[0])
                pos += 8
            elif type_ == 9:
                if pos + 16 > end:
                    raise FrameError(f"header {name!r}: UUID truncated")
                value = uuid.UUID(bytes=bytes(data[pos:pos + 16]))
                pos += 16
            else:
                raise FrameError(f"header {name!r} has unknown type {type_}")
            headers.append(Header(name, _HEADER_TYPES[type_], value))
    except UnicodeDecodeError as exc:
        raise FrameError(f"header text is not UTF-8: {exc}") from exc
    except OverflowError as exc:
        raise FrameError(f"header timestamp out of range: {exc}") from exc
    return headers


class Decoder:
    """Incremental decoder: `feed(bytes)` returns the complete messages so far.

    After a FrameError the stream cannot be resynchronised (lengths are untrusted), so the decoder
    stays failed and the owner must close the connection.
    """

    def __init__(self, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        if max_message_size < MIN_MESSAGE_LEN:
            raise ValueError(f"max_message_size must be at least {MIN_MESSAGE_LEN} bytes")
        self.max_message_size = max_message_size
        self._buf = bytearray()
        self._failed: FrameError | None = None

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[EventStreamMessage]:
        if self._failed is not None:
            raise self._failed
        buf = self._buf
        buf += data
        out: list[EventStreamMessage] = []
        pos = 0
        size = len(buf)
        try:
            while size - pos >= PRELUDE_LEN:
                total, headers_len, prelude_crc = _PRELUDE_FULL.unpack_from(buf, pos)
                if zlib.crc32(buf[pos:pos + 8]) != prelude_crc:
                    raise FrameError("prelude CRC mismatch")
                if total > self.max_message_size:
                    raise FrameError(f"message of {total} bytes exceeds the maximum of {self.max_message_size}")
                if total < MIN_MESSAGE_LEN or headers_len > total - MIN_MESSAGE_LEN:
                    raise FrameError(f"inconsistent prelude: total length {total}, headers length {headers_len}")
                if size - pos < total:
                    break
                raw = bytes(buf[pos:pos + total])
                body_end = total - MESSAGE_CRC_LEN
                if zlib.crc32(memoryview(raw)[:body_end]) != _U32.unpack_from(raw, body_end)[0]:
                    raise FrameError("message CRC mismatch")
                payload_start = PRELUDE_LEN + headers_len
                headers = decode_headers(raw, PRELUDE_LEN, payload_start)
                out.append(EventStreamMessage(headers, raw[payload_start:body_end]))
                pos += total
        except FrameError as exc:
            self._failed = exc
            self._buf = bytearray()
            raise
        if pos:
            del buf[:pos]
        return out
