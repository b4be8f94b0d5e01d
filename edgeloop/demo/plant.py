"""The factory half of the demo: the compressed-air plant, its digital twin and the twin's model loop.

  setup    the plant historian -> v1 (pipeline run twin, approve: TwinModel 1.0.0), DigitalTwin and its
           bridge routes, cloud ingest into the data lake, the plant HMI and a cloud application
  start    the plant simulator publishes as a client device; the twin recommends back
  retrain  v2 on historian + the lake's new telemetry, approved while the plant runs; timed from the
           approval to the first IoT Core reply carrying the new model
  finish   energy on the true plant physics: what ran (staging rule), what the twin advised, the oracle
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from edgeloop.cloud.errors import PromotionRefused
from edgeloop.cloud.ingest import TelemetryIngest
from edgeloop.cloud.pipeline import TwinParams, run_twin_pipeline
from edgeloop.components.digital_twin.packaging import build_twin_component
from edgeloop.contracts.plant import (
    LIVE_ERROR_FILTER,
    LIVE_ERROR_TOPIC,
    RECOMMENDATION_FILTER,
    RECOMMENDATION_TOPIC,
    TELEMETRY_FILTER,
    TELEMETRY_TOPIC,
)
from edgeloop.contracts.topics import topic_levels
from edgeloop.contracts.twin import IOT_REQUEST_TOPIC, IOT_RESPONSE_TOPIC, iot_response_filter
from edgeloop.simulator.plant import Plant
from edgeloop.simulator.plant.telemetry import history_batch, write_csv_file

from .session import DemoError, Session

THING_PLANT_ID = "plant-1"
TWIN = "com.edgeloop.DigitalTwin"
MODEL = "com.edgeloop.TwinModel"
REFERENCE_EVENT = {"flow": "[280, 300]", "pressure": "[69, 70]", "simulations": "10", "no_of_trials": "10",
                   "train_error_weight": "1.0"}
BRIDGE_ROUTES = {
    "TelemetryToTwin": {"topic": TELEMETRY_FILTER, "source": "LocalMqtt", "target": "Pubsub"},
    "TelemetryToCloud": {"topic": TELEMETRY_FILTER, "source": "LocalMqtt", "target": "IotCore"},
    "RecommendationToPlant": {"topic": RECOMMENDATION_FILTER, "source": "Pubsub", "target": "LocalMqtt"},
    "TwinErrorToCloud": {"topic": LIVE_ERROR_FILTER, "source": "Pubsub", "target": "IotCore"},
}


@dataclass
class Observer:
    """The plant's HMI and a cloud application: what they saw, for the summary."""

    plant: Any
    telemetry: dict[str, dict] = field(default_factory=dict)      # timestamp -> sample
    recommendations: list[dict] = field(default_factory=list)
    replies: dict[str, dict] = field(default_factory=dict)         # request_id -> reply
    errors: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_local(self, client: Any, userdata: Any, message: Any) -> None:
        body = json.loads(message.payload)
        with self.lock:
            if topic_levels(TELEMETRY_TOPIC, message.topic) is not None:
                self.telemetry[body["timestamp"]] = body
            elif topic_levels(RECOMMENDATION_TOPIC, message.topic) is not None:
                self.recommendations.append(body)

    def on_cloud(self, client: Any, userdata: Any, message: Any) -> None:
        body = json.loads(message.payload)
        with self.lock:
            if topic_levels(IOT_RESPONSE_TOPIC, message.topic) is not None:
                body["received"] = time.monotonic()
                self.replies[body.get("request_id", "?")] = body
            elif topic_levels(LIVE_ERROR_TOPIC, message.topic) is not None:
                self.errors.append(body)

    def energy(self) -> dict[str, Any]:
        """True power of what ran (mostly the staging rule) against what the twin recommended."""
        with self.lock:
            pairs = [(self.telemetry.get(r["timestamp"]), r) for r in self.recommendations]
        ran, advised, oracle = [], [], []
        for sample, rec in pairs:
            if sample is None:
                continue
            flow, pressure = np.array([sample["flow"]]), np.array([sample["pressure"]])
            ran_kw = self.plant.true_power(rec["running"], flow, pressure)[0]
            rec_kw = self.plant.true_power(rec["recommended"], flow, pressure)[0]
            best = self.plant.oracle_config(float(flow[0]), float(pressure[0]))
            best_kw = self.plant.true_power(best, flow, pressure)[0]
            if np.isfinite(ran_kw) and np.isfinite(rec_kw) and np.isfinite(best_kw):
                ran.append(ran_kw)
                advised.append(rec_kw)
                oracle.append(best_kw)
        if not ran:
            return {"samples": 0}
        ran_total, advised_total, oracle_total = float(sum(ran)), float(sum(advised)), float(sum(oracle))
        return {"samples": len(ran), "running_kw_mean": ran_total / len(ran),
                "twin_kw_mean": advised_total / len(ran), "oracle_kw_mean": oracle_total / len(ran),
                "saving_pct": 100 * (ran_total - advised_total) / ran_total,
                "regret_pct": 100 * (advised_total - oracle_total) / oracle_total}


class PlantScenario:
    def __init__(self, demo: Session) -> None:
        self.demo = demo
        self.plant = Plant.default(0)
        self.observer = Observer(self.plant)
        self.historian = demo.work / "historian.csv"
        self.ingest: Any = None
        self.versions: dict[str, str] = {}

    def setup(self) -> None:

        demo = self.demo
        hours = demo.o.history_hours
        start = datetime.now(UTC) - timedelta(hours=hours)
        write_csv_file(history_batch(self.plant, hours, 1, start), self.historian)
        demo.say(f"historian export: {hours:g} h of plant telemetry -> {self.historian.name}")
        self.versions["v1"] = self._train_and_approve([self.historian], "v1")

        build_twin_component("1.0.0", demo.home.recipe_dir, demo.home.artifact_dir)
        demo.deploy({TWIN: "1.0.0"}, {TWIN: {"MERGE": {"python": sys.executable}}}, BRIDGE_ROUTES)
        demo.say(f"{TWIN} 1.0.0 deployed; bridge routes: {', '.join(BRIDGE_ROUTES)}")
        self.ingest = TelemetryIngest(demo.cloud_url, demo.home.lake).start()
        demo.on_teardown(self.ingest.stop)
        local = demo.client(demo.device_url, "plant-hmi", self.observer.on_local,
                            TELEMETRY_TOPIC.format(plant_id=THING_PLANT_ID),
                            RECOMMENDATION_TOPIC.format(plant_id=THING_PLANT_ID))
        demo.on_teardown(local.loop_stop)
        self.cloud_app = demo.client(demo.cloud_url, "cloud-app", self.observer.on_cloud,
                                     iot_response_filter(demo.thing), LIVE_ERROR_FILTER)
        demo.on_teardown(self.cloud_app.loop_stop)
        reply = self._ask_until(lambda r: r.get("model_version") == self.versions["v1"], 60,
                                "the twin to answer with v1")
        demo.say(f"twin answers the reference event over IoT Core: {reply['ranking'][:3]} ...")

    def start(self) -> None:
        demo = self.demo
        proc = subprocess.Popen(
            [sys.executable, "-m", "edgeloop.cli", "simulate", "plant", "--plant-id", THING_PLANT_ID, "--broker",
             demo.device_url, "--speedup", str(demo.o.speedup), "--seed", "7"],
            stdout=subprocess.DEVNULL, stderr=open(demo.work / "plant.log", "w"))
        def stop() -> None:
            proc.terminate()
            proc.wait(20)
        demo.on_teardown(stop)
        demo.say(f"plant simulator publishing as client device `{THING_PLANT_ID}` "
                 f"({60 / demo.o.speedup * 1000:.0f} ms per simulated minute)")

    def progress(self) -> str:
        return (f"plant: {len(self.observer.telemetry)} samples at the HMI, "
                f"{len(self.observer.recommendations)} recommendations, lake {self.ingest.accepted} rows")

    def retrain(self) -> None:
        lake_files = list(self.demo.home.lake.glob("telemetry/**/*.csv"))
        self.versions["v2"] = self._train_and_approve([self.historian, *lake_files], "v2", serving_check=True)

    def finish(self) -> dict[str, Any]:
        observer = self.observer
        return {"energy_live": observer.energy(),
                "ingest": {"accepted": self.ingest.accepted, "rejected": self.ingest.rejected},
                "recommendations": len(observer.recommendations),
                "live_error": observer.errors[-1] if observer.errors else None,
                "model_versions": dict(self.versions)}

    # -- steps ------------------------------------------------------------------------------
    def _train_and_approve(self, data: list[Path], label: str, serving_check: bool = False) -> str:
        demo = self.demo
        demo.say(f"[bold]twin {label}[/bold]: pipeline run twin on {len(data)} file(s) ...")
        params = TwinParams(plant_id=None, n_estimators=demo.o.n_estimators)
        run = run_twin_pipeline(demo.home, demo.registry, params, data=data, console=demo.console)
        ref = run.artifacts["model_package"]["ref"]
        metrics = {k: run.metrics[k] for k in ("mean_regret_pct", "savings_capture", "baseline_savings_pct",
                                               "infeasible")}
        demo.say(f"twin {label}: registered {ref} (PendingManualApproval): regret "
                 f"{metrics['mean_regret_pct']:.2f} %, capture {100 * metrics['savings_capture']:.1f} %; approving ...")
        approved_at = time.monotonic()
        models = demo.summary.setdefault("models", {})
        try:
            promotion = demo.promoter.approve(ref, description=f"edgeloop demo {label}")
        except PromotionRefused as exc:  # the quality gate: a worse model is not deployed
            demo.say(f"twin {label}: [bold]refused[/bold]: {exc}")
            models[label] = {"model": ref, "refused": str(exc), "metrics": metrics}
            return ref
        demo.say(f"twin {label}: {MODEL} {promotion.component_version} deployed "
                 f"{promotion.seconds_to_serving:.1f} s after approval ({promotion.status})")
        entry = {"model": ref, "component_version": promotion.component_version,
                 "deployment_seconds": promotion.seconds_to_serving, "metrics": metrics}
        if serving_check:
            reply = self._ask_until(lambda r: r.get("model_version") == ref, 60, f"the twin to serve {label}")
            entry["approval_to_serving_seconds"] = reply["received"] - approved_at
            demo.say(f"twin {label}: the twin answers with {ref} "
                     f"{entry['approval_to_serving_seconds']:.1f} s after approval")
        models[label] = entry
        return ref

    def _ask_until(self, accept: Any, timeout: float, what: str) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            request_id = uuid.uuid4().hex[:12]
            self.cloud_app.publish(IOT_REQUEST_TOPIC.format(thing=self.demo.thing),
                                   json.dumps({"request_id": request_id, "event": REFERENCE_EVENT}), qos=1)
            until = time.monotonic() + 1.0
            while time.monotonic() < until:
                reply = self.observer.replies.get(request_id)
                if reply is not None:
                    if accept(reply):
                        return reply
                    break
                time.sleep(0.02)
            time.sleep(0.2)
        raise DemoError(f"timed out waiting for {what}")
