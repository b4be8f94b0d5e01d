"""The ECG pre-filter gateway end to end, at capacity, on this machine.

    python bench/ecg_gateway_bench.py [--devices 1000] [--seconds 240] [--join 60]
                                      [--broker mosquitto|amqtt] [--model DIR] [--mix ...] [--keep]

Path: N simulated wearables (`edgeloop simulate wearables` in its own process: real time, 1 chunk/s of
~4.1 KB JSON each, QoS 1, switched on one by one over the first --join seconds as wearables put on at
different times) -> the site MQTT broker (Mosquitto with max_queued_messages 0, or the core's embedded
amqtt) -> the real local core's bridge -> local pub/sub -> IPC -> com.edgeloop.EcgPrefilter (the real
component with a real EcgModel: parse, reassemble, screen every 60 s window) -> alerts, windows and
summaries over the core's IoT Core link -> a cloud broker -> the cloud receiver (pathology archive with
PNGs, alert log: `edgeloop ecg archive serve` in its own process, as a cloud service would run).

Reported, with the machine:
  chunks    published by the wearables vs received by the pre-filter (lost = the difference), and the
            pre-filter's gap, duplicate and late counts        target: >= 1,000 wearables, zero lost
  windows   screened, forwarded; bytes in vs bytes sent up     target: bytes up <= 5 % of the raw stream
  latency   window end (its last sample) -> alert at the cloud broker (a subscriber there) and at
            the cloud receiver (its alert log), p50/p99, against a baseline measured in the same
            run: a 100-byte probe over the same device -> broker -> bridge -> IoT Core link -> cloud
            path                                               target: p99 <= 2 s
  screening every window cut, scored against the wearables' ground truth (their --labels file,
            which the gateway never sees): sensitivity, normal windows forwarded
  CPU       every process over the steady state (all devices on, windows flowing), and the gateway's
            (site broker + core + pre-filter) CPU per device
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

sys.path.insert(0, str(Path(__file__).parent))
from machine import cpu_seconds, descendants, describe, find_processes, start_mosquitto, wait_for  # noqa: E402

from edgeloop.cloud.ecg.receiver import percentiles  # noqa: E402
from edgeloop.components.ecg_prefilter.packaging import (  # noqa: E402
    MODEL_COMPONENT,
    PREFILTER_COMPONENT,
    build_ecg_model_component,
    build_prefilter_component,
)
from edgeloop.contracts.ecg import ALERT_FILTER, IOT_STATUS_TOPIC, SENSOR_FILTER  # noqa: E402
from edgeloop.simulator.core.client import CoreClient  # noqa: E402
from edgeloop.simulator.core.launcher import launch_core  # noqa: E402
from edgeloop.simulator.core.mqtt.broker import EmbeddedBroker  # noqa: E402
from edgeloop.simulator.core.status import read_status  # noqa: E402
from edgeloop.simulator.wearable.dataset import read_labels  # noqa: E402
from edgeloop.simulator.wearable.truth import score_forwarding  # noqa: E402

THING = "bench-gw"
STATUS_S = 5


class Cloud:
    """The cloud side's observers: the pre-filter's status, alerts as they reach the cloud broker
    and the probe round trips."""

    def __init__(self, url: str) -> None:
        self.status: dict = {}
        self.probe_ms: list[float] = []
        self.alerts: list[dict] = []          # each with "arrived": epoch seconds at this subscriber
        host, port = url.split("://", 1)[1].rsplit(":", 1)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-cloud")
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(
            [(IOT_STATUS_TOPIC.format(thing=THING), 1), ("bench/probe/+", 1), (ALERT_FILTER, 1)])
        self.client.connect(host, int(port))
        self.client.loop_start()

    def _on_message(self, client, userdata, message) -> None:
        arrived = time.time()
        if message.topic.startswith("bench/probe/"):
            self.probe_ms.append(1000 * (arrived - float(message.payload)))
        elif message.topic.endswith("/alert"):
            self.alerts.append(dict(json.loads(message.payload), arrived=arrived))
        else:
            self.status = json.loads(message.payload)

    def counters(self) -> dict:
        return dict(self.status.get("counters") or {})


def probe(url: str, stop: threading.Event) -> None:
    """A client device sending a timestamp every 0.5 s on a route bridged straight to the cloud."""
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-probe")
    client.connect(host, int(port))
    client.loop_start()
    n = 0
    while not stop.wait(0.5):
        client.publish(f"bench/probe/{n}", f"{time.time():.6f}".ljust(100), qos=1)
        n += 1
    client.loop_stop()


def prefilter_processes(core_pid: int) -> list[int]:
    """The pre-filter's shell, interpreter and everything they started (its analysis processes)."""
    found = find_processes(core_pid, "edgeloop.components.ecg_prefilter")
    return sorted({*found, *(child for pid in found for child in descendants(pid))})


def train_model(out: Path) -> Path:
    from edgeloop.cloud.ecg.train import train_classifier
    t0 = time.monotonic()
    result = train_classifier(out, devices=16, minutes=10, workers=2, progress=False)
    print(f"model: trained in {time.monotonic() - t0:.0f} s (16 devices x 10 min); held-out sensitivity "
          f"{result.metrics['sensitivity_non_normal']:.3f}, normal forwarded "
          f"{result.metrics['normal_forwarded_fraction']:.3f}", flush=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=240, help="wall seconds the wearables stream")
    parser.add_argument("--join", type=float, default=60.0, help="seconds over which devices switch on")
    parser.add_argument("--broker", choices=["mosquitto", "amqtt"], default="mosquitto", help="site broker")
    parser.add_argument("--model", type=Path, help="an EcgClassifier directory (default: train a small one)")
    parser.add_argument("--mix", default=None, help="wearables' --mix (default: the simulator's)")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--analysis-processes", type=int, default=None,
                        help="the pre-filter's analysisProcesses (default: the recipe's)")
    parser.add_argument("--keep", action="store_true", help="keep every folder (logs, archive) afterwards")
    args = parser.parse_args()
    if args.seconds < args.join + 90:
        raise SystemExit("--seconds must leave at least 90 s after --join (steady state with windows)")
    print(f"machine: {describe()}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="el-ecg-gw-"))
    model = args.model or train_model(tmp / "model")
    dev = tmp / "dev"
    build_ecg_model_component(model, "1.0.0", dev / "recipes", dev / "artifacts", model_version="bench/1")
    build_prefilter_component("1.0.0", dev / "recipes", dev / "artifacts")

    stack: list = []
    try:
        cloud_broker = EmbeddedBroker("127.0.0.1", 0, tmp / "cloud-broker.log")
        cloud_url = cloud_broker.start()
        stack.append(cloud_broker.stop)
        site_args, mosquitto = ["--mqtt-port", "0"], None
        if args.broker == "mosquitto":
            mosquitto, site_url = start_mosquitto(tmp)
            stack.append(lambda: (mosquitto.terminate(), mosquitto.wait(10)))
            site_args = ["--mqtt-url", site_url]
        core = launch_core(tmp / "root", *site_args, "--cloud-url", cloud_url, "--thing-name", THING,
                           "--log-level", "WARNING")
        stack.append(core.stop)
        site_url = read_status(core.paths)["mqtt_url"]
        routes = {"Wearables": {"topic": SENSOR_FILTER, "source": "LocalMqtt", "target": "Pubsub"},
                  "Probe": {"topic": "bench/probe/+", "source": "LocalMqtt", "target": "IotCore"}}
        prefilter_config = {"python": sys.executable, "statusIntervalS": STATUS_S}
        if args.analysis_processes is not None:
            prefilter_config["analysisProcesses"] = args.analysis_processes
        with CoreClient(core.paths) as client:
            deployment = client.create_deployment(
                recipe_dir=str(dev / "recipes"), artifact_dir=str(dev / "artifacts"),
                merge={MODEL_COMPONENT: "1.0.0", PREFILTER_COMPONENT: "1.0.0"}, remove=[], failure_policy="ROLLBACK",
                configuration={PREFILTER_COMPONENT: {"MERGE": prefilter_config},
                               "aws.greengrass.clientdevices.mqtt.Bridge": {"MERGE": {"mqttTopicMapping": routes}}})
            outcome = client.wait_for_deployment(deployment, timeout_s=300)
        if outcome["status"] != "SUCCEEDED":
            raise SystemExit(f"deployment failed: {outcome}")
        cloud = Cloud(cloud_url)
        stack.append(cloud.client.loop_stop)
        wait_for(lambda: cloud.status.get("serving"), 120, "the pre-filter to serve its model")
        receiver = subprocess.Popen([sys.executable, "-m", "edgeloop.cli", "ecg", "archive", "serve", "--broker",
                                     cloud_url, "--archive", str(tmp / "archive")], stdout=subprocess.PIPE,
                                    stderr=open(tmp / "receiver.log", "w"), text=True)
        stack.append(lambda: (receiver.terminate(), receiver.wait(30)))
        if not receiver.stdout.readline().startswith("receiving"):
            raise SystemExit("the cloud receiver did not start")
        stop_probe = threading.Event()
        threading.Thread(target=probe, args=(site_url, stop_probe), daemon=True).start()
        stack.append(stop_probe.set)

        procs = {"site broker": [mosquitto.pid] if mosquitto else find_processes(core.proc.pid, "mqtt.broker"),
                 "core": [core.proc.pid],
                 "pre-filter": prefilter_processes(core.proc.pid),
                 "cloud broker": [cloud_broker.pid] if getattr(cloud_broker, "pid", None) else [],
                 "cloud receiver": [receiver.pid]}
        cmd = [sys.executable, "-m", "edgeloop.cli", "simulate", "wearables", "--devices", str(args.devices),
               "--broker", site_url, "--duration", str(args.seconds), "--join", str(args.join),
               "--connections", str(args.connections), "--labels", str(tmp / "labels.csv")] + (
                   ["--mix", args.mix] if args.mix else [])
        print(f"{args.devices} wearables via {args.broker} for {args.seconds} s (switched on over {args.join:g} s) ...",
              flush=True)
        sim = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        procs["wearables"] = [sim.pid]
        steady_from = time.monotonic() + args.join + 60     # every device on, its first window cut
        before = after = None

        def sample() -> tuple:
            return time.monotonic(), {k: sum(cpu_seconds(p) for p in v) for k, v in procs.items()}, cloud.counters()

        while sim.poll() is None:     # the last sample while the wearables still run ends the steady state
            if time.monotonic() >= steady_from:
                after = sample()
                before = before or after
            time.sleep(0.5)
        err = sim.stderr.read()
        match = re.search(r"published (\d+) chunks \(", err)
        if sim.returncode != 0 or not match:
            raise SystemExit(f"wearables failed ({sim.returncode}): {err[-2000:]}")
        published = int(match.group(1))
        last, since = -1, time.monotonic()
        while time.monotonic() - since < 3 * STATUS_S + 5:   # the pre-filter drains and reports
            got = cloud.counters().get("chunks", 0)
            if got != last:
                last, since = got, time.monotonic()
            if got >= published:
                time.sleep(STATUS_S + 1)
                break
            time.sleep(0.5)
        counters = cloud.counters()
        time.sleep(3)
        status = dict(cloud.status)
        at_broker = [a["arrived"] - a["end"] for a in cloud.alerts]
        on_gateway = [a["detected_at"] - a["end"] for a in cloud.alerts]
        truth, stream_starts = read_labels(tmp / "labels.csv")
        forwarded = {(a["device_id"], round(a["start"] - stream_starts[a["device_id"]])) for a in cloud.alerts}
        screening = score_forwarding(truth, {d: intervals[-1][1] for d, intervals in truth.items()}, forwarded)
        receiver.terminate()
        receiver.wait(30)
        alert_log = [json.loads(line) for line in (tmp / "archive" / "alerts.jsonl").read_text().splitlines()]
        at_receiver = [a["received_at"] - a["end"] for a in alert_log]
        stored = len(list((tmp / "archive" / "windows").glob("*/*/*/*/window.json")))
    finally:
        for stop in reversed(stack):
            try:
                stop()
            except Exception as exc:
                print(f"teardown: {exc}")
    if args.keep:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)

    received = counters.get("chunks", 0)
    lost = published - received
    span = after[0] - before[0]
    cpu = {k: 100 * (after[1][k] - before[1][k]) / span for k in procs}
    gateway = cpu["site broker"] + cpu["core"] + cpu["pre-filter"]
    windows = after[2].get("windows_screened", 0) - before[2].get("windows_screened", 0)
    broker_pct, receiver_pct, gateway_pct = percentiles(at_broker), percentiles(at_receiver), percentiles(on_gateway)
    probe_pct = percentiles(cloud.probe_ms)
    bytes_in, bytes_up = counters.get("bytes_in", 0), counters.get("bytes_up", 0)
    print(f"\nchunks: published {published}, received by the pre-filter {received}, lost {lost} "
          f"(gaps {counters.get('gaps', 0)}, missing {counters.get('missing_chunks', 0)}, duplicates "
          f"{counters.get('duplicates', 0)}, late {counters.get('late', 0)}, malformed "
          f"{counters.get('chunks_malformed', 0)})  target zero lost: {'met' if lost == 0 else 'NOT met'}")
    print(f"pre-filter work queue: high-water {status.get('queue_high_water')} of {status.get('queue_limit')}, "
          f"dropped busy {status.get('chunks_dropped_busy')}")
    print(f"windows: screened {counters.get('windows_screened', 0)}, forwarded {counters.get('windows_forwarded', 0)} "
          f"{json.dumps(cloud.status.get('forwarded_by_label', {}))}, failed {counters.get('windows_failed', 0)}; "
          f"archive stored {stored}")
    print(f"screening against ground truth: sensitivity {screening['sensitivity_non_normal']}, normal forwarded "
          f"{screening['normal_forwarded_fraction']}; windows by truth {json.dumps(screening['windows_by_truth'])}, "
          f"forwarded {json.dumps(screening['forwarded_by_truth'])}")
    print(f"bytes: in {bytes_in:,}, up {bytes_up:,} = {100 * bytes_up / max(bytes_in, 1):.2f} % of the raw stream  "
          f"target <= 5 %: {'met' if bytes_up <= 0.05 * bytes_in else 'NOT met'}")
    for where, pct in (("cloud broker", broker_pct), ("cloud receiver", receiver_pct)):
        print(f"window end -> alert at the {where}: n {pct['n']}, p50 {pct['p50']} s, p99 {pct['p99']} s, "
              f"max {pct['max']} s  target p99 <= 2 s: {'met' if pct['p99'] is not None and pct['p99'] <= 2 else 'NOT met'}")
    print(f"  of which on the gateway (window end -> verdict ready, its clock): p50 {gateway_pct['p50']} s, "
          f"p99 {gateway_pct['p99']} s")
    print(f"baseline, same path without the pre-filter (100-byte probe, device -> cloud): n {probe_pct['n']}, "
          f"p50 {probe_pct['p50']} ms, p99 {probe_pct['p99']} ms")
    print(f"steady state {span:.0f} s ({windows} windows screened in it): CPU % " +
          ", ".join(f"{k} {v:.0f}" for k, v in cpu.items()))
    print(f"gateway (site broker + core + pre-filter) {gateway:.0f} % of one core for {args.devices} wearables = "
          f"{10 * gateway / args.devices:.2f} ms CPU per device-second ({gateway / args.devices:.3f} % of a core per device)")
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
