"""A minimal UBJSON reader for XGBoost's native model format (read-only).

Why hand-written: no maintained UBJSON package is a dependency here, and we need only decoding
of what XGBoost writes (objects, arrays, typed/counted containers, big-endian numbers). Typed
numeric arrays decode through numpy in one call, so reading the split thresholds of a 200-tree
model takes milliseconds and keeps float32 values bit-exact (no decimal round trip as with JSON).
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from edgeloop.components.errors import UBJSONError

_SCALARS = {b"i": ">i1", b"U": ">u1", b"I": ">i2", b"l": ">i4", b"L": ">i8", b"d": ">f4", b"D": ">f8"}
_STRUCTS = {m: struct.Struct(">" + code) for m, code in
            {b"i": "b", b"U": "B", b"I": "h", b"l": "i", b"L": "q", b"d": "f", b"D": "d"}.items()}


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def marker(self) -> bytes:
        while True:
            if self.pos >= len(self.data):
                raise UBJSONError("truncated UBJSON")
            m = bytes(self.data[self.pos:self.pos + 1])
            self.pos += 1
            if m != b"N":
                return m

    def number(self, m: bytes) -> Any:
        unpacker = _STRUCTS[m]
        (value,) = unpacker.unpack_from(self.data, self.pos)
        self.pos += unpacker.size
        return value

    def length(self) -> int:
        m = self.marker()
        if m not in _SCALARS or m in (b"d", b"D"):
            raise UBJSONError(f"expected an integer length at byte {self.pos - 1}, got {m!r}")
        return int(self.number(m))

    def text(self) -> str:
        n = self.length()
        value = bytes(self.data[self.pos:self.pos + n]).decode("utf-8")
        self.pos += n
        return value

    def value(self, m: bytes | None = None) -> Any:
        m = m or self.marker()
        if m in _SCALARS:
            return self.number(m)
        if m in (b"S", b"H"):
            return self.text()
        if m == b"C":
            self.pos += 1
            return chr(self.data[self.pos - 1])
        if m in (b"T", b"F", b"Z"):
            return {b"T": True, b"F": False, b"Z": None}[m]
        if m == b"[":
            return self.container(array=True)
        if m == b"{":
            return self.container(array=False)
        raise UBJSONError(f"unknown UBJSON marker {m!r} at byte {self.pos - 1}")

    def container(self, array: bool) -> Any:
        kind, count = None, None
        if bytes(self.data[self.pos:self.pos + 1]) == b"$":
            kind = bytes(self.data[self.pos + 1:self.pos + 2])
            self.pos += 2
        if bytes(self.data[self.pos:self.pos + 1]) == b"#":
            self.pos += 1
            count = self.length()
        if array and kind in _SCALARS and count is not None:
            dtype = np.dtype(_SCALARS[kind])
            values = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
            self.pos += count * dtype.itemsize
            return values.astype(dtype.newbyteorder("="))
        items: Any = [] if array else {}
        index = 0
        while count is None or index < count:
            if count is None:
                if bytes(self.data[self.pos:self.pos + 1]) in (b"]", b"}"):
                    self.pos += 1
                    break
            if array:
                items.append(self.value(kind))
            else:
                key = self.text()
                items[key] = self.value(kind)
            index += 1
        return items


def loads(data: bytes) -> Any:
    """Decode one UBJSON value; typed numeric arrays come back as numpy arrays."""
    reader = _Reader(bytes(data))
    return reader.value()
