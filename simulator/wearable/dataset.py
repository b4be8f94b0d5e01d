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


def write_labels(path: str | Path, labels: dict[str, list[tuple[float, float, str]]]) -> None:
    """labels.csv for a live run: device_id -> [start_s, end_s) intervals."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(LABELS_HEADER)
        for device_id, intervals in labels.items():
            writer.writerows((device_id, f"{a:.3f}", f"{b:.3f}", lab) for a, b, lab in intervals)
