"""Offline screening: reading recordings (.npy, .csv/.txt, WFDB), cutting windows, and
`edgeloop ecg classify` as a user runs it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import wfdb

from edgeloop.cli import main
from edgeloop.cloud.ecg.readers import read_recording
from edgeloop.cloud.ecg.screen import screen_recording, window_bounds
from edgeloop.cloud.errors import RecordingError
from edgeloop.components.errors import SignalError
from edgeloop.contracts.ecg import LABELS
from edgeloop.simulator.wearable import Episode, WearableSimulator


@pytest.fixture(scope="module")
def af_then_sinus() -> np.ndarray:
    """150 s at 500 Hz: 75 s of atrial fibrillation, then 75 s of sinus rhythm (mV)."""
    plan = [Episode("af", 75.0, hr=120.0), Episode("sinus", 80.0, hr=70.0)]
    return WearableSimulator(fs=500, seed=3).record(2.5, rhythm_plan=plan).ecg.astype(np.float64)


# -- readers --------------------------------------------------------------------------------------

def test_npy_and_text_files_read_in_mv(tmp_path: Path) -> None:
    x = np.sin(np.linspace(0, 20, 3000)) * 1.5
    np.save(tmp_path / "a.npy", x.astype(np.float32))
    rec = read_recording(tmp_path / "a.npy", 250)
    np.testing.assert_allclose(rec.ecg_mv, x, atol=1e-6)
    assert rec.fs == 250.0 and rec.ecg_mv.dtype == np.float64

    lines = ["# exported by a monitor", "ecg_mv", ""] + [f"{v:.6f}" for v in x] + ["", "# end"]
    (tmp_path / "a.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "a.txt").write_text("\n".join(f"{v:.6f}" for v in x))
    for name in ("a.csv", "a.txt"):
        np.testing.assert_allclose(read_recording(tmp_path / name, 360.0).ecg_mv, x, atol=1e-6)


def test_wfdb_record_lead_units_and_rate(tmp_path: Path) -> None:
    t = np.arange(0, 20, 1 / 360)
    v1, mlii = 0.3 * np.sin(2 * np.pi * t), 1.2 * np.cos(2 * np.pi * 1.3 * t)
    # MLII stored in uV: the reader must convert to mV; V1 is first, MLII is still preferred
    wfdb.wrsamp("rec", fs=360, units=["mV", "uV"], sig_name=["V1", "MLII"],
                p_signal=np.column_stack([v1, mlii * 1000]), fmt=["16", "16"], adc_gain=[1000, 1], baseline=[0, 0],
                write_dir=str(tmp_path))
    for path in (tmp_path / "rec.hea", tmp_path / "rec", tmp_path / "rec.dat"):
        rec = read_recording(path, None)
        assert rec.fs == 360.0
        assert "MLII" in rec.source
        np.testing.assert_allclose(rec.ecg_mv, mlii, atol=2e-3)
    v1_rec = read_recording(tmp_path / "rec.hea", 360, lead="V1")
    np.testing.assert_allclose(v1_rec.ecg_mv, v1, atol=2e-3)
    with pytest.raises(RecordingError, match="header says 360 Hz but --fs 250"):
        read_recording(tmp_path / "rec.hea", 250)
    with pytest.raises(RecordingError, match=r"no lead 'II'; the record has \['V1', 'MLII'\]"):
        read_recording(tmp_path / "rec.hea", None, lead="II")
    (tmp_path / "bad.hea").write_text("garbage header\n")
    with pytest.raises(RecordingError, match="bad.hea: cannot read the WFDB record: invalid syntax"):
        read_recording(tmp_path / "bad.hea", None)
    (tmp_path / "nodat.hea").write_text("nodat 1 360 1000\nnodat.dat 16 200/mV 16 0 0 0 0 MLII\n")
    with pytest.raises(RecordingError, match="nodat.hea: cannot read the WFDB record: .*nodat.dat"):
        read_recording(tmp_path / "nodat.hea", None)


@pytest.mark.parametrize(("name", "content", "fs", "message"), [
    ("missing.npy", None, 250, "no such file"),
    ("two.npy", np.zeros((100, 2)), 250, r"one lead \(a 1-D array\), got shape \(100, 2\)"),
    ("nan.npy", np.r_[np.zeros(10), np.nan, np.zeros(5)], 250, "1 samples are NaN or infinite, the first at index 10"),
    ("empty.npy", np.zeros(0), 250, "no samples"),
    ("nofs.npy", np.zeros(100), None, "does not say its sampling rate; pass --fs"),
    ("badfs.npy", np.zeros(100), 5, "outside the supported range"),
    ("cols.csv", "0.1\n0.2\n0.3,0.4\n", 250, "line 3: 2 fields; expected one value per line"),
    ("word.txt", "0.1\n0.2\nlead-off\n", 250, "line 3: 'lead-off' is not a number"),
    ("nan.csv", "ecg\n0.1\nnan\n", 250, "line 3: 'nan' is not a finite number"),
    ("empty.csv", "# nothing\n\n", 250, "no samples"),
    ("rec.edf", "", 250, "unknown format '.edf'"),
    ("orphan.dat", b"\x00\x01", None, "WFDB header .*orphan.hea not found"),
])
def test_bad_recordings_are_refused_with_the_reason(tmp_path: Path, name, content, fs, message) -> None:
    path = tmp_path / name
    if isinstance(content, np.ndarray):
        np.save(path, content)
    elif isinstance(content, str):
        path.write_text(content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(RecordingError, match=message) as err:
        read_recording(path, fs)
    assert name in str(err.value) or name.replace(".dat", "") in str(err.value)


# -- windows --------------------------------------------------------------------------------------

def test_window_bounds_cover_the_recording() -> None:
    fs = 250
    assert window_bounds(150 * fs, fs, 60, 60) == [(0, 60 * fs), (60 * fs, 120 * fs), (90 * fs, 150 * fs)]
    assert window_bounds(125 * fs, fs, 60, 60) == [(0, 60 * fs), (60 * fs, 120 * fs)]   # 5 s left: dropped
    assert window_bounds(30 * fs, fs, 60, 60) == [(0, 30 * fs)]                        # one short window
    assert window_bounds(120 * fs, fs, 60, 30) == [(0, 15000), (7500, 22500), (15000, 30000)]


def test_screen_resamples_and_marks_the_af_minute(tiny_model, af_then_sinus) -> None:
    windows = screen_recording(af_then_sinus, 500.0, tiny_model.model)
    assert [(w["start_s"], w["end_s"]) for w in windows] == [(0.0, 60.0), (60.0, 120.0), (90.0, 150.0)]
    assert windows[0]["label"] == "af" and windows[0]["forward"]          # 60 s of AF
    assert windows[2]["label"] == "normal" and not windows[2]["forward"]  # 60 s of sinus at 70 bpm
    for w in windows:
        assert 0.0 <= w["score"] <= 1.0 and w["forward"] == (w["score"] >= tiny_model.model.threshold_)
    with pytest.raises(SignalError, match="at least 10 s needed"):
        screen_recording(af_then_sinus[:4000], 500.0, tiny_model.model)


# -- the command ----------------------------------------------------------------------------------

def test_classify_json(tiny_model, af_then_sinus, tmp_path: Path, capsys) -> None:
    np.save(tmp_path / "rec.npy", af_then_sinus)
    code = main(["ecg", "classify", "--input", str(tmp_path / "rec.npy"), "--fs", "500",
                 "--model", str(tiny_model.directory), "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fs"] == 500.0 and out["screened_at_hz"] == 250.0
    assert [(w["start_s"], w["end_s"]) for w in out["windows"]] == [(0.0, 60.0), (60.0, 120.0), (90.0, 150.0)]
    for w in out["windows"]:
        assert {"start_s", "end_s", "label", "score", "forward"} <= set(w)
        assert w["label"] in LABELS and isinstance(w["forward"], bool)
    assert out["windows"][0]["forward"] and not out["windows"][2]["forward"]


def test_classify_table(tiny_model, af_then_sinus, tmp_path: Path, capsys) -> None:
    np.savetxt(tmp_path / "rec.csv", af_then_sinus[::2], fmt="%.5f")      # 250 Hz, one value a line
    assert main(["ecg", "classify", "--input", str(tmp_path / "rec.csv"), "--fs", "250",
                 "--model", str(tiny_model.directory)]) == 0
    out = capsys.readouterr().out
    assert "150.0 s at 250 Hz" in out and "resampled" not in out
    assert "3 windows, " in out and "     0.0     60.0  af " in out


def test_classify_errors_exit_2_without_traceback(tiny_model, tmp_path: Path, capsys) -> None:
    np.save(tmp_path / "rec.npy", np.zeros(5000))
    assert main(["ecg", "classify", "--input", str(tmp_path / "rec.npy"), "--fs", "250"]) == 2
    assert "no model: pass --model DIR (edgeloop ecg train --out DIR builds one)" in capsys.readouterr().err
    assert main(["ecg", "classify", "--input", str(tmp_path / "nope.csv"), "--fs", "250",
                 "--model", str(tiny_model.directory)]) == 2
    err = capsys.readouterr().err
    assert "nope.csv: no such file" in err and "Traceback" not in err
    assert main(["ecg", "classify", "--input", str(tmp_path / "rec.npy"),
                 "--model", str(tiny_model.directory)]) == 2
    assert "pass --fs HZ" in capsys.readouterr().err
    assert main(["ecg", "classify", "--input", str(tmp_path / "rec.npy"), "--fs", "1000",
                 "--model", str(tiny_model.directory)]) == 2
    assert "5.00 s of signal at 1000 Hz; at least 10 s needed" in capsys.readouterr().err


def test_classify_refuses_a_modified_model(tiny_model, tmp_path: Path, capsys) -> None:
    model = Path(shutil.copytree(tiny_model.directory, tmp_path / "model"))
    (model / "ecg-classifier.ubj").write_bytes(b"\x00" + (model / "ecg-classifier.ubj").read_bytes()[1:])
    np.save(tmp_path / "rec.npy", np.zeros(5000))
    assert main(["ecg", "classify", "--input", str(tmp_path / "rec.npy"), "--fs", "250",
                 "--model", str(model)]) == 1
    assert "refusing to load a modified or corrupt model" in capsys.readouterr().err
