"""Event-stream framing: round trips of every header type, incremental decoding, and rejection of
frames that cannot be trusted. One test decodes what the real awscrt client puts on a socket."""

from __future__ import annotations

import datetime as dt
import json
import socket
import struct
import tempfile
import threading
import uuid
import zlib
from pathlib import Path

import pytest

from edgeloop.simulator.core.errors import FrameError
from edgeloop.simulator.core.ipc import wire
from edgeloop.simulator.core.ipc.wire import Decoder, Header, HeaderType, MessageType

ALL_TYPES = [
    Header("t", HeaderType.BOOL_TRUE, True),
    Header("f", HeaderType.BOOL_FALSE, False),
    Header("byte", HeaderType.BYTE, -7),
    Header("int16", HeaderType.INT16, -30000),
    Header("int32", HeaderType.INT32, 2_000_000_000),
    Header("int64", HeaderType.INT64, -(2 ** 62)),
    Header("bytes", HeaderType.BYTE_BUF, b"\x00\xffraw"),
    Header("string", HeaderType.STRING, "hällo/wörld"),
    Header("ts", HeaderType.TIMESTAMP, dt.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=dt.UTC)),
    Header("id", HeaderType.UUID, uuid.UUID("12345678-1234-5678-1234-567812345678")),
]


def test_every_header_type_round_trips_with_its_type() -> None:
    data = wire.encode_message(ALL_TYPES, b'{"x": 1}')
    [message] = Decoder().feed(data)
    assert message.headers == ALL_TYPES
    assert message.payload == b'{"x": 1}'


def test_frame_layout_matches_the_specification() -> None:
    data = wire.encode_message([Header("a", HeaderType.INT32, 5)], b"hi")
    total, headers_len, prelude_crc = struct.unpack(">III", data[:12])
    assert total == len(data) == 12 + headers_len + 2 + 4
    assert headers_len == 1 + 1 + 1 + 4
    assert prelude_crc == zlib.crc32(data[:8])
    assert struct.unpack(">I", data[-4:])[0] == zlib.crc32(data[:-4])


def test_timestamp_accepts_epoch_millis_and_integers_keep_sign() -> None:
    data = wire.encode_message([("ts", HeaderType.TIMESTAMP, 1_700_000_000_123), ("b", HeaderType.BYTE, 127)])
    [message] = Decoder().feed(data)
    values = message.header_map()
    assert values["ts"] == dt.datetime.fromtimestamp(1_700_000_000.123, dt.UTC)
    assert values["b"] == 127


def test_value_out_of_range_for_its_type_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'small'"):
        wire.encode_header("small", HeaderType.INT16, 40_000)


def test_decoder_is_incremental_across_arbitrary_splits() -> None:
    frames = [wire.encode_message([("n", HeaderType.INT32, i)], bytes([i]) * i) for i in range(1, 6)]
    stream = b"".join(frames)
    decoder = Decoder()
    got = []
    for i in range(0, len(stream), 3):
        got.extend(decoder.feed(stream[i:i + 3]))
    assert [m.header_map()["n"] for m in got] == [1, 2, 3, 4, 5]
    assert [m.payload for m in got] == [bytes([i]) * i for i in range(1, 6)]
    assert decoder.buffered == 0


def _corrupt(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1:]


def test_bad_prelude_crc_is_rejected() -> None:
    data = wire.encode_message([("a", HeaderType.STRING, "x")], b"payload")
    with pytest.raises(FrameError, match="prelude CRC"):
        Decoder().feed(_corrupt(data, 9))


def test_bad_message_crc_is_rejected() -> None:
    data = wire.encode_message([("a", HeaderType.STRING, "x")], b"payload")
    with pytest.raises(FrameError, match="message CRC"):
        Decoder().feed(_corrupt(data, len(data) - 6))  # a payload byte


def test_oversized_message_is_rejected_from_the_prelude_alone() -> None:
    prelude = struct.pack(">II", 1 << 30, 0)
    prelude += struct.pack(">I", zlib.crc32(prelude))
    decoder = Decoder(max_message_size=1024)
    with pytest.raises(FrameError, match="exceeds the maximum of 1024"):
        decoder.feed(prelude)  # only 12 bytes: nothing of the body was needed
    assert decoder.buffered == 0


def test_malformed_headers_are_rejected() -> None:
    bad_type = b"\x01a\x0f"  # a header of unknown type 15
    with pytest.raises(FrameError, match="unknown type 15"):
        Decoder().feed(wire.frame(bad_type, b""))
    truncated = b"\x01s\x07\x00\x09abc"  # says 9 bytes, has 3
    with pytest.raises(FrameError, match="runs past"):
        Decoder().feed(wire.frame(truncated, b""))
    not_utf8 = b"\x01s\x07\x00\x02\xff\xfe"
    with pytest.raises(FrameError, match="UTF-8"):
        Decoder().feed(wire.frame(not_utf8, b""))


def test_decoder_stays_failed_after_an_error() -> None:
    decoder = Decoder()
    good = wire.encode_message([("a", HeaderType.INT32, 1)])
    with pytest.raises(FrameError):
        decoder.feed(_corrupt(good, 2))
    with pytest.raises(FrameError):
        decoder.feed(good)


def test_decodes_the_connect_frame_the_real_awscrt_client_sends() -> None:
    """Our decoder against independent bytes: the official client's CONNECT on a raw Unix socket."""
    from awsiot.greengrasscoreipc import connect

    path = Path(tempfile.mkdtemp(prefix="elwire")) / "s"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    received: list[wire.EventStreamMessage] = []

    def serve() -> None:
        conn, _ = listener.accept()
        decoder = Decoder()
        while not received:
            received.extend(decoder.feed(conn.recv(4096)))
        conn.sendall(wire.encode_message([(wire.MESSAGE_TYPE, HeaderType.INT32, MessageType.CONNECT_ACK),
                                          (wire.MESSAGE_FLAGS, HeaderType.INT32, 1),
                                          (wire.STREAM_ID, HeaderType.INT32, 0)]))
        conn.recv(1)  # until the client goes away
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = connect(ipc_socket=str(path), authtoken="secret-token", timeout=5)
    client.close().result(5)
    thread.join(5)
    listener.close()
    [message] = received
    headers = message.header_map()
    assert headers[wire.MESSAGE_TYPE] == MessageType.CONNECT
    assert headers[wire.STREAM_ID] == 0
    assert headers[wire.VERSION] == "0.1.0"
    assert json.loads(message.payload) == {"authToken": "secret-token"}
