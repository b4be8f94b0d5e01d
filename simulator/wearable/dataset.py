"""A labelled dataset on disk: per device `<id>_ecg.npy` (mV) and `<id>_ppg.npy` (float32),
`labels.csv` (device_id,start_s,end_s,label) and `manifest.json` (fs, devices, mix, seed)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from .rhythm import LABELS
from .simulator import WearableSimulator, device_ids

LABELS_HEADER = ("device_id", "start_s", "end_s", "label")
LABEL_POLICY = ("normal: sinus 40-150 bpm incl. tachy/brady; af: atrial fibrillation; "
                "other: PVCs/bigeminy or sinus <40 or >150 bpm; noisy: heavy artifact or lead off")


def write_dataset(sim: WearableSimulator, out_dir: str | Path, devices: int,
                  minutes: float) -> Path:
    """Write `devices` recordings of `minutes` each; returns the manifest path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ids = device_ids(devices)
    rows: list[tuple[str, str, str, str]] = []
    for device_id in ids:
        rec = sim.record(minutes, device_id=device_id)
        np.save(out / f"{device_id}_ecg.npy", rec.ecg)
        np.save(out / f"{device_id}_ppg.npy", rec.ppg)
        rows += [(device_id, f"{a:.3f}", f"{b:.3f}", label) for a, b, label in rec.labels]
    with open(out / "labels.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(LABELS_HEADER)
        writer.writerows(rows)
    manifest = {"fs": sim.fs, "devices": ids, "minutes": minutes, "mix": sim.mix.as_dict(),
                "seed": sim.seed, "ecg_unit": "mV", "labels": list(LABELS),
                "label_policy": LABEL_POLICY,
                "files": {"ecg": "{device_id}_ecg.npy", "ppg": "{device_id}_ppg.npy",
                          "labels": "labels.csv"}}
    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return path


LIVE_LABELS_HEADER = (*LABELS_HEADER, "stream_start")


def write_labels(path: str | Path, labels: dict[str, list[tuple[float, float, str]]],
                 stream_starts: dict[str, float]) -> None:
    """The ground truth of a live run: device_id -> [start_s, end_s) intervals in stream seconds,
    each row with its device's `stream_start` (epoch seconds of its first sample), so a gateway's
    epoch-stamped windows can be scored: stream seconds = window start - stream_start."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(LIVE_LABELS_HEADER)
        for device_id, intervals in labels.items():
            start = f"{stream_starts[device_id]:.3f}"
            writer.writerows((device_id, f"{a:.3f}", f"{b:.3f}", lab, start) for a, b, lab in intervals)


def read_labels(path: str | Path) -> tuple[dict[str, list[tuple[float, float, str]]], dict[str, float]]:
    """(intervals by device, stream start by device) of a file write_labels wrote; ValueError
    naming the line if it is not one."""
    labels: dict[str, list[tuple[float, float, str]]] = {}
    starts: dict[str, float] = {}
    with open(path, newline="") as f:
        rows = csv.reader(f)
        header = tuple(next(rows, ()))
        if header != LIVE_LABELS_HEADER:
            raise ValueError(f"{path}: header {','.join(header)!r}, expected {','.join(LIVE_LABELS_HEADER)!r}")
        for line, row in enumerate(rows, start=2):
            try:
                device_id, a, b, label, start = row
                labels.setdefault(device_id, []).append((float(a), float(b), label))
                starts[device_id] = float(start)
            except ValueError as exc:
                raise ValueError(f"{path}:{line}: {exc}") from None
    return labels, starts
