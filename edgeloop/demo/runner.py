"""The demo's orchestration: one local cloud, one local core device, the plant and the wearables.

Both scenarios (plant.py, wearables.py) share the gateway, the cloud broker, the cloud home (one
experiment store, one registry, one promotion path) and a time budget, all in one Session
(session.py). Their phases interleave so that both models are retrained and promoted while their
devices keep streaming.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from .plant import PlantScenario
from .session import DemoOptions, Session
from .wearables import WearableScenario


class Demo:
    """`edgeloop demo`: run both scenarios in one session; `run()` returns the summary."""

    def __init__(self, options: DemoOptions) -> None:
        self.session = Session(options)

    @property
    def work(self) -> Path:
        """The workspace: logs, the core's root, the cloud home (removed at the end unless kept)."""
        return self.session.work

    def run(self) -> dict[str, Any]:
        try:
            self._run()
        finally:
            self.session.teardown()
        return self.session.summary

    def _run(self) -> None:
        s = self.session
        s.start()
        plant, wearables = PlantScenario(s), WearableScenario(s)
        plant.setup()
        wearables.setup()
        plant.start()
        wearables.start()
        live_until = time.monotonic() + max(20.0, s.remaining() * 0.4)
        while time.monotonic() < live_until:
            time.sleep(5)
            s.say(plant.progress())
            for line in wearables.progress():
                s.say(line)
        plant.retrain()       # both new models are approved while the devices keep streaming
        wearables.retrain()
        time.sleep(5)
        s.summary.update(plant.finish())
        wearables.finish()
        s.summary["core_components"] = {
            c["name"]: f"{c['version']} {c['state']}"
            for c in json.loads(s.core.paths.services_file.read_text())["components"]
            if c["name"].startswith("com.edgeloop")}
