"""`edgeloop demo`: the whole loop on one machine, on the embedded defaults.

  local cloud broker (stands in for AWS IoT Core)  <-- IoT Core link --  local core device
  plant simulator (client device) --MQTT--> core's broker --bridge--> DigitalTwin (IPC)
                                                        \\--bridge--> cloud --> ingest --> data lake

1. start the cloud broker and the local core;
2. train v1 on the plant's historian export, register it, approve it: promotion deploys
   com.edgeloop.TwinModel 1.0.0; deploy com.edgeloop.DigitalTwin and the bridge routes;
3. run the plant: telemetry flows to the twin (recommendations come back to the plant) and to the
   cloud's data lake; cloud applications ask the twin for rankings over IoT Core;
4. retrain on historian + new telemetry, approve v2 while the plant keeps running, and time
   approval -> the twin answering with the new model;
5. summarise: energy against the staging baseline (true plant physics), regret, model versions,
   time from approval to the new model serving. `--json` prints the summary as JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from rich.console import Console

THING = "plant-gw-1"
PLANT_ID = "plant-1"
TWIN = "com.edgeloop.DigitalTwin"
MODEL = "com.edgeloop.TwinModel"
REFERENCE_EVENT = {"flow": "[280, 300]", "pressure": "[69, 70]", "simulations": "10", "no_of_trials": "10",
                   "train_error_weight": "1.0"}
BRIDGE_ROUTES = {
    "TelemetryToTwin": {"topic": "dt/compressor/+/telemetry", "source": "LocalMqtt", "target": "Pubsub"},
    "TelemetryToCloud": {"topic": "dt/compressor/+/telemetry", "source": "LocalMqtt", "target": "IotCore"},
    "RecommendationToPlant": {"topic": "dt/compressor/+/recommendation", "source": "Pubsub", "target": "LocalMqtt"},
    "TwinErrorToCloud": {"topic": "dt/compressor/+/twin/error", "source": "Pubsub", "target": "IotCore"},
}


@dataclass
class DemoOptions:
    minutes: float = 6.0
    history_hours: float = 168.0     # v1 learns from a week of historian data; v2 adds what the gateway saw
    speedup: float = 7200.0          # simulated seconds per wall second: 2 samples per 1/60 s
    workdir: Path | None = None
    keep: bool = False
    as_json: bool = False
    n_estimators: int = 150


class DemoError(RuntimeError):
    pass


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
            if message.topic.endswith("/telemetry"):
                self.telemetry[body["timestamp"]] = body
            elif message.topic.endswith("/recommendation"):
                self.recommendations.append(body)

    def on_cloud(self, client: Any, userdata: Any, message: Any) -> None:
        body = json.loads(message.payload)
        with self.lock:
            if "/twin/response/" in message.topic:
                body["received"] = time.monotonic()
                self.replies[body.get("request_id", "?")] = body
            elif message.topic.endswith("/twin/error"):
                self.errors.append(body)

    def energy(self) -> dict[str, Any]:
        """True power of what ran (mostly the staging rule) against what the twin recommended."""
        import numpy as np
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


def _client(url: str, client_id: str, on_message: Any, *topics: str) -> Any:
    import paho.mqtt.client as mqtt
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    client.on_message = on_message
    client.on_connect = lambda c, u, f, rc, p: [c.subscribe(t, qos=1) for t in topics]
    client.connect(host, int(port))
    client.loop_start()
    return client


class Demo:
    def __init__(self, options: DemoOptions) -> None:
        self.o = options
        self.console = Console(stderr=True, soft_wrap=True)
        self.started = time.monotonic()
        self.deadline = self.started + options.minutes * 60
        self.work = options.workdir or Path(tempfile.mkdtemp(prefix="el-demo-"))
        self.summary: dict[str, Any] = {"thing": THING, "plant_id": PLANT_ID}
        self._stack: list[Any] = []

    def say(self, text: str) -> None:
        self.console.print(f"[dim]{time.monotonic() - self.started:6.1f}s[/dim] {text}")

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    # -- the run ---------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        try:
            self._run()
        finally:
            self._teardown()
        return self.summary

    def _run(self) -> None:
        from edgeloop.cloud.home import CloudHome
        from edgeloop.cloud.ingest import TelemetryIngest
        from edgeloop.cloud.promotion import LocalCoreTarget, Promoter
        from edgeloop.cloud.registry.local import LocalRegistry
        from edgeloop.simulator.core.launcher import launch_core
        from edgeloop.simulator.core.mqtt.broker import EmbeddedBroker
        from edgeloop.simulator.plant import Plant

        self.say(f"workspace {self.work}")
        cloud = EmbeddedBroker("127.0.0.1", 0, self.work / "cloud-broker.log")
        cloud_url = cloud.start()
        self._stack.append(cloud.stop)
        self.say(f"local cloud broker (stands in for AWS IoT Core) at {cloud_url}")
        core = launch_core(self.work / "core", "--thing-name", THING, "--mqtt-port", "0", "--cloud-url", cloud_url,
                           "--stable-time", "2", "--update-timeout", "5")
        self._stack.append(core.stop)
        self.say(f"local core device up: client devices at {core.mqtt_url}, logs in {core.paths.logs}")

        home = CloudHome.at(self.work / "cloud")
        registry = LocalRegistry(home.registry_db)
        promoter = Promoter(home, registry, LocalCoreTarget(core.root))
        plant = Plant.default(0)
        self.observer = Observer(plant)

        # v1 from the plant historian
        start = datetime.now(timezone.utc) - timedelta(hours=self.o.history_hours)
        historian = self.work / "historian.csv"
        self._write_history(plant, historian, start)
        self.say(f"historian export: {self.o.history_hours:g} h of plant telemetry -> {historian.name}")
        v1 = self._train_and_approve(home, registry, promoter, [historian], "v1")

        self._deploy_twin(home, core)
        ingest = TelemetryIngest(cloud_url, home.lake).start()
        self._stack.append(ingest.stop)
        local = _client(core.mqtt_url, "plant-hmi", self.observer.on_local,
                        f"dt/compressor/{PLANT_ID}/telemetry", f"dt/compressor/{PLANT_ID}/recommendation")
        self._stack.append(local.loop_stop)
        cloud_app = _client(cloud_url, "cloud-app", self.observer.on_cloud,
                            f"edgeloop/{THING}/twin/response/+", "dt/compressor/+/twin/error")
        self._stack.append(cloud_app.loop_stop)
        self.cloud_app = cloud_app
        self.first_reply = self._ask_until(lambda r: r.get("model_version") == v1, 60, "the twin to answer with v1")
        self.say(f"twin answers the reference event over IoT Core: {self.first_reply['ranking'][:3]} ...")

        # the plant runs; telemetry reaches the twin and the data lake
        plant_proc = subprocess.Popen(
            [sys.executable, "-m", "edgeloop.cli", "simulate", "plant", "--plant-id", PLANT_ID, "--broker",
             core.mqtt_url, "--speedup", str(self.o.speedup), "--seed", "7"],
            stdout=subprocess.DEVNULL, stderr=open(self.work / "plant.log", "w"))
        self._stack.append(lambda: (plant_proc.terminate(), plant_proc.wait(20)))
        self.say(f"plant simulator publishing as client device `{PLANT_ID}` "
                 f"({60 / self.o.speedup * 1000:.0f} ms per simulated minute)")
        budget = max(20.0, self.remaining() * 0.45)
        live_until = time.monotonic() + budget
        while time.monotonic() < live_until:
            time.sleep(5)
            self.say(f"plant running: {len(self.observer.telemetry)} samples at the HMI, "
                     f"{len(self.observer.recommendations)} recommendations, lake {ingest.accepted} rows")
        # v2 on historian + the new telemetry, approved while the plant keeps running
        lake_files = list(home.lake.glob("telemetry/**/*.csv"))
        v2 = self._train_and_approve(home, registry, promoter, [historian, *lake_files], "v2",
                                     serving_check=True)
        time.sleep(5)
        self.summary["energy_live"] = self.observer.energy()
        self.summary["ingest"] = {"accepted": ingest.accepted, "rejected": ingest.rejected}
        self.summary["recommendations"] = len(self.observer.recommendations)
        self.summary["live_error"] = self.observer.errors[-1] if self.observer.errors else None
        self.summary["model_versions"] = {"v1": v1, "v2": v2}
        self.summary["core_components"] = {c["name"]: f"{c['version']} {c['state']}"
                                           for c in json.loads((core.paths.services_file).read_text())["components"]
                                           if c["name"].startswith("com.edgeloop")}

    def _write_history(self, plant: Any, path: Path, start: datetime) -> None:
        from edgeloop.simulator.plant.telemetry import history_batch, write_csv_file
        write_csv_file(history_batch(plant, self.o.history_hours, 1, start), path)

    def _train_and_approve(self, home: Any, registry: Any, promoter: Any, data: list[Path], label: str,
                           serving_check: bool = False) -> str:
        from edgeloop.cloud.pipeline import TwinParams, run_twin_pipeline
        from edgeloop.cloud.promotion import PromotionRefused
        self.say(f"[bold]{label}[/bold]: pipeline run twin on {len(data)} file(s) ...")
        params = TwinParams(plant_id=None, n_estimators=self.o.n_estimators)
        run = run_twin_pipeline(home, registry, params, data=data, console=self.console)
        ref = run.artifacts["model_package"]["ref"]
        metrics = run.metrics
        self.say(f"{label}: registered {ref} (PendingManualApproval): regret {metrics['mean_regret_pct']:.2f} %, "
                 f"capture {100 * metrics['savings_capture']:.1f} %; approving ...")
        approved_at = time.monotonic()
        try:
            promotion = promoter.approve(ref, description=f"edgeloop demo {label}")
        except PromotionRefused as exc:  # the quality gate: a worse model is not deployed
            self.say(f"{label}: [bold]refused[/bold]: {exc}")
            self.summary.setdefault("models", {})[label] = {"model": ref, "refused": str(exc), "metrics": {
                k: metrics[k] for k in ("mean_regret_pct", "savings_capture", "baseline_savings_pct", "infeasible")}}
            return ref
        self.say(f"{label}: {MODEL} {promotion.component_version} deployed "
                 f"{promotion.seconds_to_serving:.1f} s after approval ({promotion.status})")
        entry = {"model": ref, "component_version": promotion.component_version,
                 "deployment_seconds": promotion.seconds_to_serving, "metrics": {
                     k: metrics[k] for k in ("mean_regret_pct", "savings_capture", "baseline_savings_pct",
                                             "infeasible")}}
        if serving_check:
            reply = self._ask_until(lambda r: r.get("model_version") == ref, 60, f"the twin to serve {label}")
            entry["approval_to_serving_seconds"] = reply["received"] - approved_at
            self.say(f"{label}: the twin answers with {ref} {entry['approval_to_serving_seconds']:.1f} s after approval")
        self.summary.setdefault("models", {})[label] = entry
        return ref

    def _deploy_twin(self, home: Any, core: Any) -> None:
        from edgeloop.components.digital_twin.packaging import build_twin_component
        from edgeloop.simulator.core.client import CoreClient
        recipes, artifacts = home.components / "recipes", home.components / "artifacts"
        build_twin_component("1.0.0", recipes, artifacts)
        with CoreClient(core.paths) as client:
            deployment = client.create_deployment(
                recipe_dir=str(recipes), artifact_dir=str(artifacts), merge={TWIN: "1.0.0"}, remove=[],
                configuration={TWIN: {"MERGE": {"python": sys.executable}},
                               "aws.greengrass.clientdevices.mqtt.Bridge": {"MERGE": {"mqttTopicMapping": BRIDGE_ROUTES}}},
                failure_policy="ROLLBACK")
            outcome = client.wait_for_deployment(deployment, timeout_s=180)
        if outcome.get("status") != "SUCCEEDED":
            raise DemoError(f"deploying {TWIN} failed: {outcome}")
        self.say(f"{TWIN} 1.0.0 deployed; bridge routes: {', '.join(BRIDGE_ROUTES)}")

    def _ask_until(self, accept: Any, timeout: float, what: str) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            request_id = uuid.uuid4().hex[:12]
            self.cloud_app.publish(f"edgeloop/{THING}/twin/request",
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

    def _teardown(self) -> None:
        for stop in reversed(self._stack):
            try:
                stop()
            except Exception as exc:  # keep tearing down
                self.console.print(f"teardown: {exc}")
        self.summary["elapsed_s"] = round(time.monotonic() - self.started, 1)
        if not self.o.keep and self.o.workdir is None:
            shutil.rmtree(self.work, ignore_errors=True)


def render(summary: dict[str, Any]) -> str:
    lines = ["", "edgeloop demo summary"]
    for label, model in summary.get("models", {}).items():
        m = model["metrics"]
        if "refused" in model:
            lines.append(f"  {label}: {model['model']} refused by the quality gate: {model['refused']}")
            continue
        line = (f"  {label}: {model['model']} -> {MODEL} {model['component_version']}: regret "
                f"{m['mean_regret_pct']:.2f} % of oracle energy, savings capture {100 * m['savings_capture']:.1f} %, "
                f"infeasible {m['infeasible']}")
        if "approval_to_serving_seconds" in model:
            line += f"; approval -> serving {model['approval_to_serving_seconds']:.1f} s"
        lines.append(line)
    energy = summary.get("energy_live", {})
    if energy.get("samples"):
        lines.append(f"  live plant ({energy['samples']} recommendations, true physics): running {energy['running_kw_mean']:.1f} kW, "
                     f"twin {energy['twin_kw_mean']:.1f} kW ({energy['saving_pct']:.1f} % less than the staging rule), "
                     f"oracle {energy['oracle_kw_mean']:.1f} kW (twin regret {energy['regret_pct']:.2f} %)")
    if "ingest" in summary:
        rejected = summary["ingest"]["rejected"]
        count = sum(rejected.values()) if isinstance(rejected, dict) else rejected
        lines.append(f"  data lake: {summary['ingest']['accepted']} rows ingested, {count} rejected")
    if summary.get("live_error"):
        err = summary["live_error"]
        lines.append(f"  twin live error: MAE {err.get('mae_kw')} kW over the last {err.get('window')} samples")
    lines.append(f"  done in {summary.get('elapsed_s')} s")
    return "\n".join(lines)


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="the whole loop on this machine: plant, gateway, cloud, two models",
                                 description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--minutes", type=float, default=6.0, help="time budget (default %(default)s)")
    demo.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    demo.add_argument("--workdir", type=Path, help="keep everything here (default: a temporary folder, removed)")
    demo.add_argument("--keep", action="store_true", help="keep the temporary folder")
    demo.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    options = DemoOptions(minutes=args.minutes, workdir=args.workdir, keep=args.keep, as_json=args.json)
    demo = Demo(options)
    try:
        summary = demo.run()
    except Exception as exc:
        print(f"edgeloop demo failed: {exc} (logs: {demo.work})", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2, default=str) if args.json else render(summary))
    return 0
