"""Test kits: the helpers test modules share, imported as `tests.kits.<kit>` (fixtures that use them
are in the conftest.py files).

brokers: a real Mosquitto on a free port. core: the local core as a real subprocess, test components,
client devices. ipc_harness: an in-process IPC server for the real awsiotsdk client. twin,
synthetic_plant: small twin models and plant data with known physics. ecg, ecg_archive, synthetic_ecg:
small ECG screeners, wearable chunks, gateway-shaped window/alert bodies, ECG with known beat times.
"""
