"""Compressed-air plant simulator: a four-compressor plant whose true physics the twin must learn.

Module map (one concern each):
  units      one compressor: control types, part-load curves, pressure effect, derating, wear
  sets       a configuration (running set), its boundary and how its sequencer shares load
  spec       the standard plant as data (sizes, control types, operating range)
  staging    the switch-point staging rule (the plant's default behaviour, the baseline)
  plant      Plant: configurations, boundaries, true_power, staging_config, oracle_config, history
  demand     demand (shifts, weekends) and discharge pressure over time
  telemetry  operation with exploration, meter noise, wear drift; CSV history
  publisher  the plant as an MQTT client device (paho-mqtt 2.x)
  plot       picture of every configuration's power curve, the staging and the oracle choice
"""

from .plant import Plant
from .spec import PlantSpec, default_spec
from .telemetry import CSV_HEADER
from .units import Compressor, Control

__all__ = ["CSV_HEADER", "Compressor", "Control", "Plant", "PlantSpec", "default_spec"]
