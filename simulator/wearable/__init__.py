"""Wearable ECG/PPG simulator: many devices publishing `dt/sensor/<device_id>`, or a labelled
dataset on disk, with ground truth kept apart from what the gateway sees.

Module map (one concern each):
  mix        --mix parser: fraction of stream time per condition (normal, af, pvc, noisy)
  rhythm     Episode (rhythm, duration, rate, artifact), the 4-class label policy, random plans
  beats      beat timing: sinus with bimodal-spectrum HRV, AF, PVC episodes (burden, couplets,
             coupling, compensatory / interpolated / reset)
  waves      ECGSYN-derived Gaussian PQRST per beat (multiform wide PVCs), PPG pulse; rendering
  artifacts  mild noise everywhere; f-waves; mains hum, baseline wander, motion bursts
  device     DeviceGenerator: one device's traits, plan and seamless signal blocks
  simulator  WearableSimulator.record / .stream, SimulatedRecording
  dataset    --out DIR: .npy per device, labels.csv, manifest.json
  encoding   chunk JSON a block at a time (byte-identical to json.dumps, ~9x cheaper)
  publisher  WearablePublisher: few paho connections on behalf of many device ids
  truth      window_label: the ground truth of a window (transition windows apart)
"""

from edgeloop.simulator.errors import MixError

from .mix import Mix, parse_mix
from .rhythm import Episode, label_for
from .simulator import SimulatedRecording, WearableSimulator, device_ids

__all__ = ["Episode", "Mix", "MixError", "SimulatedRecording", "WearableSimulator", "device_ids",
           "label_for", "parse_mix"]
