"""The README's first command: `edgeloop demo` runs the whole loop and exits 0 with a summary."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


# A budget of 1 minute: the demo streams for at least 20 s whatever the budget (its setup takes
# about 20 s alone), which is about 2,000 plant samples, 400 recommendations and 24 screened windows.
@pytest.mark.long           # started first (tests/conftest.py): the suite ends no earlier than it does
@pytest.mark.timeout(900)   # training under the load of the other workers can double the demo's time
def test_demo_promotes_new_models_while_the_plant_and_the_wearables_stream() -> None:
    result = subprocess.run([sys.executable, "-m", "edgeloop.cli", "demo", "--minutes", "1", "--wearables", "8",
                             "--json"], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)

    # the plant and its twin
    models = summary["models"]
    assert models["v1"]["component_version"] == "1.0.0"
    v2 = models["v2"]
    assert "refused" in v2 or v2["component_version"] == "1.0.1"
    if "refused" not in v2:
        assert v2["approval_to_serving_seconds"] <= 30
    assert summary["ingest"]["accepted"] > 1000          # the plant's telemetry reached the data lake
    assert summary["recommendations"] > 100              # and the twin answered it on the gateway
    energy = summary["energy_live"]
    assert energy["twin_kw_mean"] < energy["running_kw_mean"]  # following the twin beats the staging rule

    # the wearables and the ECG pre-filter
    ecg = summary["ecg_models"]
    assert ecg["v1"]["component_version"] == "1.0.0"
    assert "refused" in ecg["v2"] or (ecg["v2"]["component_version"] == "1.0.1"
                                      and ecg["v2"]["approval_to_serving_seconds"] <= 30)
    wear = summary["wearables"]
    assert wear["chunks_in"] == wear["chunks_published"] > 0            # nothing lost on the way
    assert wear["windows_screened"] >= wear["windows_expected"] > 0
    assert wear["alerts"] == wear["windows_forwarded"] == wear["alerts_at_cloud"] > 0
    assert wear["archive_windows"] == wear["windows_forwarded"]          # every forwarded window archived
    assert wear["bytes_up_pct"] < 5                                      # only what matters goes up
    quality = wear["screening"]
    assert sum(quality["windows_by_truth"].values()) == wear["windows_expected"]
    assert quality["sensitivity_non_normal"] is None or quality["sensitivity_non_normal"] >= 0.8

    assert "twin v1:" in result.stderr and "plant:" in result.stderr and "wearables:" in result.stderr
