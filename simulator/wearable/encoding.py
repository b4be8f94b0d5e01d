"""JSON text of many 4-decimal sample values at once, byte-identical to what json.dumps writes.

1,000 wearables publish 500,000 samples a second; json.dumps formats each float through
float.__repr__ (~0.5 us each), which alone costs a quarter of a core. A value rounded to 4
decimals, v = rint(x * 1e4) / 1e4 (as np.round does it), is the double nearest to the decimal
q / 10^4, so its repr is that decimal without trailing zeros ("0.12", "-1.0", "-0.0"). This module
writes those decimals for a whole block with table look-ups (sign, integer part 0..999, fraction
0..9999, each packed into 16 bytes with NUL padding that is deleted at the end), about 10x faster.
Values of 1,000 or more in magnitude are not in the tables; `encodable` tells the caller to
fall back to json.dumps for such a block.
"""

from __future__ import annotations

import itertools

import numpy as np

DECIMALS = 4
_SCALE = 10.0 ** DECIMALS
_MAX_INT = 1000
SEPARATOR = b", "  # json.dumps' item separator


def _packed(texts: list[str], offset: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each text placed at byte `offset` of a NUL-filled 16-byte row, as two little-endian
    uint64 words, and the texts' lengths."""
    words = np.zeros((len(texts), 2), dtype="<u8")
    raw = words.view(np.uint8).reshape(len(texts), 16)
    for i, text in enumerate(texts):
        data = text.encode()
        raw[i, offset:offset + len(data)] = np.frombuffer(data, dtype=np.uint8)
    return words[:, 0].copy(), words[:, 1].copy(), np.array([len(t) for t in texts])


# Row layout: byte 0 sign, bytes 1-3 integer part, bytes 4-10 ".dddd, " (fraction and separator).
_SIGN, _, _SIGN_LEN = _packed(["", "-"], 0)
_INT, _, _INT_LEN = _packed([str(i) for i in range(_MAX_INT)], 1)
_FRAC0, _FRAC1, _FRAC_LEN = _packed(
    ["." + (f"{i:0{DECIMALS}d}".rstrip("0") or "0") + SEPARATOR.decode() for i in range(10 ** DECIMALS)], 4)


def encodable(rounded: np.ndarray) -> bool:
    """True when every value is finite and below 1,000 in magnitude (inside the tables)."""
    return bool(np.all(np.abs(rounded) < _MAX_INT - 0.5 / _SCALE))


def decimal_texts(rounded: np.ndarray, ends: np.ndarray) -> list[bytes]:
    """For values already rounded to 4 decimals (float64, as np.round(x, 4)), the JSON texts of
    the runs rounded[0:ends[0]], rounded[ends[0]:ends[1]], ...: each is
    b", ".join(repr(v) for v in run), exactly as json.dumps writes the list's inside.
    Callers check `encodable` first.
    """
    q = np.rint(np.abs(rounded) * _SCALE).astype(np.int64)
    whole, frac = np.divmod(q, 10 ** DECIMALS)
    neg = np.signbit(rounded).view(np.uint8)
    rows = np.empty((rounded.size, 2), dtype="<u8")
    rows[:, 0] = _SIGN.take(neg) | _INT.take(whole) | _FRAC0.take(frac)
    rows[:, 1] = _FRAC1.take(frac)
    text = rows.tobytes().translate(None, b"\0")
    lengths = _SIGN_LEN.take(neg) + _INT_LEN.take(whole) + _FRAC_LEN.take(frac)
    offsets = np.concatenate(([0], np.cumsum(lengths)))[np.concatenate(([0], ends))].tolist()
    cut = len(SEPARATOR)
    return [text[a:b - cut] for a, b in itertools.pairwise(offsets)]
