"""Single-lead ECG recordings from files, in mV, for offline screening (`edgeloop ecg classify`).

Formats, chosen by the file name:
  .npy           a 1-D numeric array in mV (loaded without pickle); `fs` required.
  .csv / .txt    one value in mV per line; `fs` required. Blank lines and lines starting with `#`
                 are skipped; the first other line may be a column header (e.g. `ecg_mv`) when it
                 is not a number. Any later line that is not exactly one finite number is an error
                 naming its line number, so a file with several columns or a stray word is refused
                 rather than read wrongly.
  WFDB           `NAME.hea` (or NAME.dat, or NAME without extension when NAME.hea exists), read with
                 wfdb.rdrecord in physical units. The lead is `lead` when given, else MLII when the
                 record has it, else the first signal. Units mV, uV and V are converted to mV; others
                 are refused. The header's sampling rate is used; an `fs` that contradicts it is an
                 error (a silently wrong rate would shift every heart rate).
Every problem raises RecordingError naming the file and what is wrong.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeloop.cloud.errors import RecordingError
from edgeloop.components.ecg_prefilter.filters import validate_recording_fs
from edgeloop.components.errors import SignalError

_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3}
TEXT_SUFFIXES = (".csv", ".txt")
PREFERRED_LEAD = "MLII"


@dataclass(frozen=True)
class Recording:
    ecg_mv: np.ndarray      # float64, 1-D
    fs: float
    source: str             # file and, for WFDB, the lead used


def _fs(path: Path, fs: float | None, kind: str) -> float:
    if fs is None:
        raise RecordingError(f"{path}: a {kind} file does not say its sampling rate; pass --fs HZ")
    try:
        return validate_recording_fs(fs)
    except SignalError as exc:
        raise RecordingError(f"{path}: {exc}") from None


def _checked(path: Path, x: np.ndarray, where: str = "index") -> np.ndarray:
    if x.dtype == bool or x.dtype.kind not in "iuf":
        raise RecordingError(f"{path}: expected numeric samples, got dtype {x.dtype}")
    if x.ndim != 1:
        raise RecordingError(f"{path}: expected one lead (a 1-D array), got shape {x.shape}; "
                             "save a single column, e.g. np.save(path, signal[:, 0])")
    if x.size == 0:
        raise RecordingError(f"{path}: no samples")
    x = x.astype(np.float64)
    bad = ~np.isfinite(x)
    if bad.any():
        raise RecordingError(f"{path}: {int(bad.sum())} samples are NaN or infinite, the first at "
                             f"{where} {int(np.flatnonzero(bad)[0])}")
    return x


def _read_npy(path: Path, fs: float | None) -> Recording:
    rate = _fs(path, fs, ".npy")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise RecordingError(f"{path}: not a readable .npy array: {exc}") from None
    if not isinstance(arr, np.ndarray):
        raise RecordingError(f"{path}: holds several arrays (.npz?); expected one 1-D array")
    return Recording(_checked(path, arr), rate, str(path))


def _read_text(path: Path, fs: float | None) -> Recording:
    rate = _fs(path, fs, path.suffix)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RecordingError(f"{path}: not UTF-8 text") from None
    values: list[float] = []
    header_allowed = True
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            value = float(line)
        except ValueError:
            if header_allowed and "," not in line and ";" not in line and "\t" not in line:
                header_allowed = False
                continue
            fields = len([f for f in line.replace(";", ",").replace("\t", ",").split(",")])
            why = (f"{fields} fields; expected one value per line" if fields > 1
                   else f"{line[:40]!r} is not a number")
            raise RecordingError(f"{path}: line {number}: {why}") from None
        if not math.isfinite(value):
            raise RecordingError(f"{path}: line {number}: {line!r} is not a finite number")
        header_allowed = False
        values.append(value)
    if not values:
        raise RecordingError(f"{path}: no samples (only blank lines, comments or a header)")
    return Recording(np.asarray(values, dtype=np.float64), rate, str(path))


def _wfdb_base(path: Path) -> Path | None:
    """The record path without extension when `path` names a WFDB record, else None."""
    if path.suffix in (".hea", ".dat"):
        base = path.with_suffix("")
    elif path.suffix == "":
        base = path
    else:
        return None
    return base if base.with_suffix(".hea").is_file() else None


def _read_wfdb(base: Path, fs: float | None, lead: str | None) -> Recording:
    import wfdb  # lazy: wfdb is the optional 'cloud' extra

    try:
        record = wfdb.rdrecord(str(base), physical=True)
    except (OSError, ValueError, IndexError, KeyError, TypeError, AttributeError) as exc:
        # what wfdb raises for a malformed header or a short/missing signal file
        raise RecordingError(f"{base}.hea: cannot read the WFDB record: {exc}") from None
    names = list(record.sig_name or [])
    if lead is not None:
        if lead not in names:
            raise RecordingError(f"{base}.hea: no lead {lead!r}; the record has {names}")
        channel = names.index(lead)
    else:
        channel = names.index(PREFERRED_LEAD) if PREFERRED_LEAD in names else 0
    unit = (record.units[channel] if record.units else "mV") or "mV"
    scale = _TO_MV.get(unit.strip().lower())
    if scale is None:
        raise RecordingError(f"{base}.hea: lead {names[channel]!r} is in {unit!r}; expected mV, uV or V")
    rate = float(record.fs)
    if fs is not None and not math.isclose(float(fs), rate, rel_tol=1e-6):
        raise RecordingError(f"{base}.hea: the header says {rate:g} Hz but --fs {float(fs):g} was given; "
                             "leave --fs out for WFDB records")
    try:
        rate = validate_recording_fs(rate)
    except SignalError as exc:
        raise RecordingError(f"{base}.hea: {exc}") from None
    signal = _checked(Path(f"{base}.dat"), np.asarray(record.p_signal[:, channel]), "sample") * scale
    return Recording(signal, rate, f"{base} lead {names[channel]}")


def read_recording(path: str | Path, fs: float | None = None, lead: str | None = None) -> Recording:
    """One ECG lead in mV from .npy, .csv/.txt or a WFDB record (see the module docstring)."""
    path = Path(path)
    base = _wfdb_base(path)
    if base is not None:
        return _read_wfdb(base, fs, lead)
    if not path.exists():
        raise RecordingError(f"{path}: no such file")
    if not path.is_file():
        raise RecordingError(f"{path}: not a file")
    if lead is not None:
        raise RecordingError(f"{path}: --lead applies to WFDB records only")
    if path.suffix.lower() == ".npy":
        return _read_npy(path, fs)
    if path.suffix.lower() in TEXT_SUFFIXES:
        return _read_text(path, fs)
    if path.suffix in (".hea", ".dat"):
        raise RecordingError(f"{path}: WFDB header {path.with_suffix('.hea')} not found")
    raise RecordingError(f"{path}: unknown format {path.suffix or '(no extension)'!r}; "
                         "expected .npy, .csv, .txt or a WFDB record (.hea)")
