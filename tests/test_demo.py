"""The README's first command: `edgeloop demo` runs the whole loop and exits 0 with a summary."""

from __future__ import annotations

import json
import subprocess
import sys


def test_demo_promotes_a_second_model_while_the_plant_runs() -> None:
    result = subprocess.run([sys.executable, "-m", "edgeloop.cli", "demo", "--minutes", "2", "--json"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
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
    assert "v1:" in result.stderr and "plant running" in result.stderr  # progress as it goes
