"""The hospital half of the demo: wearables, the ECG pre-filter on the gateway and its model loop.

  setup    ECG v1 (pipeline run ecg on simulated devices, approve: EcgModel 1.0.0), EcgPrefilter and
           its bridge routes, the cloud receiver (pathology archive + alert log), a nurse station on
           the gateway's broker and a care-team application on the cloud
  start    simulated wearables stream faster than real time as client devices; ground truth stays here
  retrain  a stand-in clinician reviews the archived windows against the simulator's ground truth,
           ECG v2 trains on simulated devices plus those reviews and is approved while streams go on;
           timed from the approval to the pre-filter reporting the new model
  finish   windows screened and forwarded, alerts, bytes in and up, and the screening quality of every
           window the gateway cut, scored against the ground truth it never saw
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from edgeloop.brokers import parse_broker
from edgeloop.cloud.ecg.alerts import AlertFanout
from edgeloop.cloud.ecg.archive import PathologyArchive
from edgeloop.cloud.ecg.pipeline import EcgParams, run_ecg_pipeline
from edgeloop.cloud.ecg.receiver import EcgCloudReceiver
from edgeloop.cloud.errors import PromotionRefused
from edgeloop.components.ecg_prefilter.packaging import build_prefilter_component
from edgeloop.contracts.ecg import ALERT_FILTER, IOT_STATUS_TOPIC, SENSOR_FILTER
from edgeloop.simulator.wearable import WearableSimulator, device_ids
from edgeloop.simulator.wearable.publisher import WearablePublisher
from edgeloop.simulator.wearable.truth import score_forwarding, window_label, windows_cut

from .session import DemoError, Session

PREFILTER = "com.edgeloop.EcgPrefilter"
MODEL = "com.edgeloop.EcgModel"
WINDOW_S = 60.0
BRIDGE_ROUTES = {
    "WearablesToPrefilter": {"topic": SENSOR_FILTER, "source": "LocalMqtt", "target": "Pubsub"},
    "EcgAlertsToNurseStation": {"topic": ALERT_FILTER, "source": "Pubsub", "target": "LocalMqtt"},
}
PREFILTER_CONFIG = {"statusIntervalS": 2, "summaryIntervalS": 300}


@dataclass
class CareTeam:
    """What the people downstream saw: alerts at the nurse station (gateway broker) and in the cloud,
    and the pre-filter's status reports (cloud)."""

    cloud_alerts: list[dict] = field(default_factory=list)
    local_alerts: int = 0
    status: dict[str, Any] = field(default_factory=dict)
    versions_seen: dict[str, float] = field(default_factory=dict)   # model version -> first monotonic time
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_local(self, client: Any, userdata: Any, message: Any) -> None:
        with self.lock:
            self.local_alerts += 1

    def on_cloud(self, client: Any, userdata: Any, message: Any) -> None:
        body = json.loads(message.payload)
        now = time.monotonic()
        with self.lock:
            if message.topic.endswith("/alert"):
                self.cloud_alerts.append(body)
            else:
                self.status = body
            version = body.get("model_version")
            if version and version not in self.versions_seen:
                self.versions_seen[version] = now

    def counters(self) -> dict[str, int]:
        with self.lock:
            return dict(self.status.get("counters") or {})


class WearableScenario:
    def __init__(self, demo: Session) -> None:
        self.demo = demo
        self.care = CareTeam()
        self.publisher: Any = None
        self.receiver: Any = None
        self.versions: dict[str, str] = {}
        self.shown_alerts = 0

    # -- phases ------------------------------------------------------------------------------
    def setup(self) -> None:

        demo = self.demo
        self.versions["v1"] = self._train_and_approve("v1")
        build_prefilter_component("1.0.0", demo.home.recipe_dir, demo.home.artifact_dir)
        demo.deploy({PREFILTER: "1.0.0"}, {PREFILTER: {"MERGE": {"python": sys.executable, **PREFILTER_CONFIG}}},
                    BRIDGE_ROUTES)
        demo.say(f"{PREFILTER} 1.0.0 deployed; bridge routes: {', '.join(BRIDGE_ROUTES)}")
        self.archive = PathologyArchive(demo.home.ecg_archive)
        self.fanout = AlertFanout(demo.home.ecg_archive / "alerts.jsonl")
        self.receiver = EcgCloudReceiver(demo.cloud_url, self.archive, self.fanout).start()
        demo.on_teardown(self.fanout.close)
        demo.on_teardown(self.receiver.stop)
        nurse = demo.client(demo.device_url, "nurse-station", self.care.on_local, ALERT_FILTER)
        demo.on_teardown(nurse.loop_stop)
        care = demo.client(demo.cloud_url, "care-team-app", self.care.on_cloud, ALERT_FILTER,
                           IOT_STATUS_TOPIC.format(thing=demo.thing))
        demo.on_teardown(care.loop_stop)
        demo.say(f"cloud receiver archives forwarded windows in {demo.home.ecg_archive}")

    def start(self) -> None:

        demo = self.demo
        sim = WearableSimulator(seed=11)
        self.publisher = WearablePublisher(sim, device_ids(demo.o.wearables), parse_broker(demo.device_url),
                                           speedup=demo.o.wearable_speedup)
        thread = threading.Thread(target=self.publisher.run, name="wearables", daemon=True)
        thread.start()
        def stop() -> None:
            self.publisher.stop()
            thread.join(30)
        demo.on_teardown(stop)
        demo.say(f"{demo.o.wearables} wearables streaming 250 Hz ECG/PPG as client devices at "
                 f"{demo.o.wearable_speedup:g}x real time (a 60 s window every "
                 f"{WINDOW_S / demo.o.wearable_speedup:g} s)")

    def progress(self) -> list[str]:
        """One progress line, plus a line per new alert (the first few; later ones are counted)."""
        lines = []
        with self.care.lock:
            new = self.care.cloud_alerts[self.shown_alerts:]
            self.shown_alerts = len(self.care.cloud_alerts)
        for alert in new[:3]:
            lines.append(f"[red]alert[/red] {alert['device_id']}: {alert['label']} (score {alert['score']:.2f}, "
                         f"model {alert['model_version']})")
        if len(new) > 3:
            lines.append(f"[red]alert[/red] ... and {len(new) - 3} more")
        c = self.care.counters()
        lines.append(f"wearables: {c.get('chunks', 0)} chunks, {c.get('windows_screened', 0)} windows screened, "
                     f"{c.get('windows_forwarded', 0)} forwarded, archive {self.receiver.stats()['windows_stored']}")
        return lines

    def retrain(self) -> None:
        demo = self.demo
        reviewed, unclear = self._review_archive()
        demo.say(f"clinician review (ground truth stand-in): {reviewed} archived windows labelled, "
                 f"{unclear} left unreviewed (an episode starts or ends inside them)")
        self.versions["v2"] = self._train_and_approve("v2", serving_check=True)

    def finish(self) -> dict[str, Any]:
        demo = self.demo
        self.publisher.stop()
        sent = self.publisher.chunks_sent
        expected = sum(windows_cut(n * self.publisher.chunk_s, WINDOW_S) for n in self.publisher.sent.values())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:   # the last windows are screened and their alerts arrive
            c = self.care.counters()
            done = c.get("windows_screened", 0) + c.get("windows_failed", 0) + c.get("windows_unscreened", 0)
            if done >= expected and c.get("chunks", 0) >= sum(self.publisher.sent.values()):
                break
            time.sleep(0.5)
        time.sleep(2 * PREFILTER_CONFIG["statusIntervalS"] + 1)
        counters = self.care.counters()
        receiver = self.receiver.stats()
        quality = self._quality()
        bytes_in, bytes_up = counters.get("bytes_in", 0), counters.get("bytes_up", 0)
        summary = {
            "devices": len(self.publisher.sent), "chunks_per_device": sent,
            "chunks_published": sum(self.publisher.sent.values()), "chunks_in": counters.get("chunks", 0),
            "windows_expected": expected, "windows_screened": counters.get("windows_screened", 0),
            "windows_forwarded": counters.get("windows_forwarded", 0), "alerts": counters.get("alerts", 0),
            "alerts_at_cloud": len(self.care.cloud_alerts), "alerts_at_nurse_station": self.care.local_alerts,
            "archive_windows": receiver["windows_stored"], "bytes_in": bytes_in, "bytes_up": bytes_up,
            "bytes_up_pct": round(100 * bytes_up / bytes_in, 3) if bytes_in else None,
            "chunk_problems": {k: counters.get(k, 0) for k in ("gaps", "duplicates", "late", "chunks_malformed")
                               if k in counters},
            "screening": quality, "model_versions": dict(self.versions),
        }
        demo.summary["wearables"] = summary
        return summary

    # -- steps -------------------------------------------------------------------------------
    def _train_and_approve(self, label: str, serving_check: bool = False) -> str:

        demo = self.demo
        demo.say(f"[bold]ECG {label}[/bold]: pipeline run ecg ...")
        params = EcgParams(devices=demo.o.ecg_devices, minutes=demo.o.ecg_minutes)
        run = run_ecg_pipeline(demo.home, demo.registry, params, console=demo.console)
        ref = run.artifacts["model_package"]["ref"]
        metrics = {k: run.metrics[k] for k in ("sensitivity_non_normal", "normal_forwarded_fraction")}
        archive_windows = (run.lineage.get("archive") or {}).get("windows", 0)
        demo.say(f"ECG {label}: registered {ref}: held-out sensitivity {metrics['sensitivity_non_normal']:.3f}, "
                 f"normal forwarded {100 * metrics['normal_forwarded_fraction']:.1f} %, "
                 f"{archive_windows} reviewed archive windows in training; approving ...")
        approved_at = time.monotonic()
        models = demo.summary.setdefault("ecg_models", {})
        try:
            promotion = demo.promoter.approve(ref, description=f"edgeloop demo ECG {label}")
        except PromotionRefused as exc:
            demo.say(f"ECG {label}: [bold]refused[/bold]: {exc}")
            models[label] = {"model": ref, "refused": str(exc), "metrics": metrics,
                             "archive_windows": archive_windows}
            return ref
        demo.say(f"ECG {label}: {MODEL} {promotion.component_version} deployed "
                 f"{promotion.seconds_to_serving:.1f} s after approval ({promotion.status})")
        entry = {"model": ref, "component_version": promotion.component_version,
                 "deployment_seconds": promotion.seconds_to_serving, "metrics": metrics,
                 "archive_windows": archive_windows}
        if serving_check:
            seen = self._wait_for_version(ref, 60)
            entry["approval_to_serving_seconds"] = seen - approved_at
            demo.say(f"ECG {label}: the pre-filter screens with {ref} "
                     f"{entry['approval_to_serving_seconds']:.1f} s after approval")
        models[label] = entry
        return ref

    def _wait_for_version(self, version: str, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.care.lock:
                seen = self.care.versions_seen.get(version)
            if seen is not None:
                return seen
            time.sleep(0.1)
        raise DemoError(f"timed out waiting for the pre-filter to serve {version}")

    def _truth(self) -> tuple[dict[str, list], dict[str, float]]:
        """Ground-truth intervals (stream seconds) and each device's stream start (epoch)."""
        return self.publisher.labels(), self.publisher.start_times

    def _review_archive(self) -> tuple[int, int]:
        """Label every unreviewed archived window with what the simulator says it was. Transition
        windows (a few seconds of an episode) stay unreviewed: a reviewer would call them unclear, and
        a label either way would teach the screener something false. Returns (reviewed, unclear)."""
        labels, t0 = self._truth()
        reviewed = unclear = 0
        for window in self.archive.windows(reviewed=False):
            start = window.start - t0[window.device_id]
            truth = window_label(labels.get(window.device_id, []), start, start + (window.end - window.start))
            if truth is None:
                unclear += 1
                continue
            self.archive.review(window.window_id, truth, "demo-ground-truth", device_id=window.device_id)
            reviewed += 1
        return reviewed, unclear

    def _quality(self) -> dict[str, Any]:
        """Every window the gateway cut, by ground truth, against whether it was forwarded."""
        labels, t0 = self._truth()
        with self.care.lock:
            forwarded = {(a["device_id"], round(a["start"] - t0[a["device_id"]])) for a in self.care.cloud_alerts}
        seconds = {device: chunks * self.publisher.chunk_s for device, chunks in self.publisher.sent.items()}
        return score_forwarding(labels, seconds, forwarded, WINDOW_S)
