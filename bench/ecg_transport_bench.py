"""Can the gateway carry N wearables' chunks from the site broker into a Python component?

  python bench/ecg_transport_bench.py [--devices 250,500,1000] [--seconds 30] [--burst 1000]
                                      [--brokers amqtt,mosquitto] [--connections 4]

Path measured: simulated wearables (`WearablePublisher`, its own process, 1 chunk/s per device of
~4.1 KB JSON, QoS 1) -> site MQTT broker -> the real local core's MQTT bridge (dt/sensor/+ from
LocalMqtt to Pubsub) -> local pub/sub -> IPC event stream -> a component using the unmodified
awsiotsdk client (bench/components/ecg_sink.py: decodes each chunk's JSON and its ecg array, as the
pre-filter must). Site brokers compared: the core's embedded amqtt broker, and Mosquitto
(`max_queued_messages 0`, no persistence) passed to the core as --mqtt-url.

Each phase publishes for --seconds at real rate, the devices spread evenly over each second, and
the --burst phase publishes every device's chunk in the same instant each second. Reported per
phase: chunks delivered / published (and duplicates), latency publish -> component (p50, p99),
CPU% of each process over the phase (from /proc/<pid>/stat, all threads), and the gateway's CPU
(broker + core + component) per device. First, the generator's own cost per 1,000 chunks: the
chunk-at-a-time path with json.dumps (the original) vs the block path the publisher now uses.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from ipc_bench import percentile, write_component
from machine import cpu_seconds, describe, find_processes, start_mosquitto, wait_for

from edgeloop.contracts.ecg import SENSOR_FILTER
from edgeloop.simulator.core.client import CoreClient
from edgeloop.simulator.core.launcher import CoreProcess, launch_core
from edgeloop.simulator.core.status import read_status

TOPIC = SENSOR_FILTER
SINK = "bench.EcgSink"


# -- the load generator's own cost ---------------------------------------------------------------

def generator_cost(devices: int = 200, chunks: int = 30) -> tuple[float, float]:
    """CPU ms per 1,000 chunks (generate + JSON) of the chunk-at-a-time path with json.dumps
    and of the block path (30 s blocks, staggered, block-encoded JSON), measured now."""
    from edgeloop.simulator.wearable import WearableSimulator, device_ids
    from edgeloop.simulator.wearable.simulator import stream_json, stream_payloads

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    sim = WearableSimulator(seed=0)
    ids = device_ids(devices)
    out = []
    for make in (lambda i, d: (json.dumps(p).encode() for p in stream_payloads(sim.device(d), d, 1.0, 1.7e9)),
                 lambda i, d: stream_json(sim.device(d), d, 1.0, 1.7e9, 30, 1 + i % 30)):
        streams = [make(i, d) for i, d in enumerate(ids)]
        for s in streams:  # first chunk (and first block) before timing, as the publisher does
            next(s)
        start = cpu()
        for _ in range(chunks):
            for s in streams:
                next(s)
        out.append((cpu() - start) / (devices * chunks) * 1e6)  # ms per 1,000 chunks
    return out[0], out[1]


# -- the publisher process -----------------------------------------------------------------------

def publish_main(args: argparse.Namespace) -> int:
    """Child mode: publish `seconds` chunks per device and save when each was handed to paho."""
    from edgeloop.brokers import BrokerAddress
    from edgeloop.simulator.wearable import WearableSimulator
    from edgeloop.simulator.wearable.publisher import WearablePublisher

    host, port = args.broker.split("://", 1)[1].rsplit(":", 1)
    pub_ns = np.zeros((args.seconds, args.devices), dtype=np.int64)

    def on_publish(index: int, seq: int) -> None:
        pub_ns[seq, index] = time.monotonic_ns()

    ids = [f"{args.prefix}-{i:04d}" for i in range(args.devices)]
    publisher = WearablePublisher(WearableSimulator(seed=1), ids, BrokerAddress(host, int(port)),
                                  connections=args.connections, spread=not args.burst, on_publish=on_publish)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    start_cpu = usage.ru_utime + usage.ru_stime
    start = time.monotonic()
    sent = publisher.run(count=args.seconds)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    np.savez(args.out, pub_ns=pub_ns[:sent], run_cpu_s=usage.ru_utime + usage.ru_stime - start_cpu,
             run_wall_s=time.monotonic() - start)
    return 0


# -- processes and their CPU ---------------------------------------------------------------------

# -- one gateway, several phases -----------------------------------------------------------------

@dataclass
class Phase:
    broker: str
    devices: int
    mode: str
    published: int
    delivered: int
    duplicates: int
    p50_ms: float
    p99_ms: float
    cpu: dict[str, float]   # process -> CPU% over the phase
    generator_ms_per_1000: float
    ipc_dropped: int        # events the IPC server dropped for a slow reader (from core.log)

    @property
    def gateway_pct(self) -> float:
        return sum(v for k, v in self.cpu.items() if k != "simulator")


def start_gateway(tmp: Path, broker: str) -> tuple[CoreProcess, subprocess.Popen | None, str]:
    mosquitto, args = None, ["--mqtt-port", "0"]
    if broker == "mosquitto":
        mosquitto, url = start_mosquitto(tmp)
        args = ["--mqtt-url", url]
    core = launch_core(tmp / "root", *args, "--log-level", "WARNING")
    policy = {"aws.greengrass.ipc.pubsub": {"sink": {"operations": ["aws.greengrass#SubscribeToTopic"],
                                                     "resources": [TOPIC]}}}
    write_component(tmp / "dev", SINK, "ecg_sink.py", {"topic": TOPIC, "accessControl": policy})
    with CoreClient(core.paths) as client:
        deployment = client.create_deployment(
            recipe_dir=str(tmp / "dev" / "recipes"), artifact_dir=str(tmp / "dev" / "artifacts"),
            merge={SINK: "1.0.0"}, remove=[], failure_policy="ROLLBACK",
            configuration={"aws.greengrass.clientdevices.mqtt.Bridge": {"MERGE": {"mqttTopicMapping": {
                "wearables": {"topic": TOPIC, "source": "LocalMqtt", "target": "Pubsub"}}}}})
        outcome = client.wait_for_deployment(deployment, timeout_s=120)
        if outcome["status"] != "SUCCEEDED":
            raise SystemExit(f"deployment failed: {outcome}")
    wait_for(lambda: (core.paths.work_dir(SINK) / "ready").exists(), 60, "the sink component")
    return core, mosquitto, read_status(core.paths)["mqtt_url"]


def run_phase(core: CoreProcess, mosquitto: subprocess.Popen | None, url: str, broker: str, devices: int,
              seconds: int, burst: bool, connections: int, tmp: Path) -> Phase:
    prefix = f"{broker[:3]}{devices}{'b' if burst else 's'}"
    sink_dir = core.paths.work_dir(SINK)
    procs = {"core": [core.proc.pid], "component": find_processes(core.proc.pid, SINK),
             "broker": [mosquitto.pid] if mosquitto else find_processes(core.proc.pid, "mqtt.broker")}

    def used(name: str) -> float:
        return sum(cpu_seconds(pid) for pid in procs[name])

    out = tmp / f"{prefix}-published.npz"
    samples: list[tuple[int, dict[str, float]]] = []  # (monotonic ns, CPU s per process)

    def sample() -> None:
        samples.append((time.monotonic_ns(), {name: used(name) for name in procs}))

    cmd = [sys.executable, __file__, "_publish", "--broker", url, "--devices", str(devices),
           "--seconds", str(seconds), "--prefix", prefix, "--connections", str(connections), "--out", str(out)]
    sim = subprocess.Popen(cmd + (["--burst"] if burst else []))
    while sim.poll() is None:
        sample()
        time.sleep(0.25)
    if sim.returncode != 0:
        raise SystemExit(f"publisher exited {sim.returncode}")
    published = np.load(out)
    pub_ns = published["pub_ns"]
    expected = int((pub_ns > 0).sum())
    last_count, last_change = -1, time.monotonic()
    while True:  # until all are delivered, or nothing new came for 10 s
        sample()
        progress = json.loads((sink_dir / "progress.json").read_text() or "{}")
        count = progress.get("phases", {}).get(prefix, 0)
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        if count >= expected or time.monotonic() - last_change > 10.0:
            break
        time.sleep(0.25)
    (sink_dir / f"dump-{prefix}").touch()
    got = np.load(wait_for(lambda: (sink_dir / f"{prefix}.npz").exists() and sink_dir / f"{prefix}.npz",
                           30, "the sink's records"))
    device, seq, recv = got["device"], got["seq"], got["recv_ns"]
    keys = seq * devices + device
    unique, first = np.unique(keys, return_index=True)
    latency_ms = (recv[first] - pub_ns[seq[first], device[first]]) / 1e6
    # CPU% over the span the gateway worked: first publish to last delivery (sampled every 0.25 s)
    t_first, t_last = int(pub_ns[pub_ns > 0].min()), int(recv.max()) if recv.size else int(pub_ns.max())
    a = max((smp for smp in samples if smp[0] <= t_first), default=samples[0], key=lambda smp: smp[0])
    b = min((smp for smp in samples if smp[0] >= t_last), default=samples[-1], key=lambda smp: smp[0])
    span = max(b[0] - a[0], 1) / 1e9
    cpu = {name: 100 * (b[1][name] - a[1][name]) / span for name in procs}
    cpu["simulator"] = 100 * float(published["run_cpu_s"]) / float(published["run_wall_s"])
    drops = [int(m) for m in re.findall(r"reads too slowly: (\d+) events dropped", core.paths.core_log.read_text())]
    return Phase(broker, devices, "burst" if burst else "spread", expected, int(unique.size),
                 int(keys.size - unique.size), percentile(latency_ms.tolist(), 50) if latency_ms.size else float("nan"),
                 percentile(latency_ms.tolist(), 99) if latency_ms.size else float("nan"), cpu,
                 1000 * float(published["run_cpu_s"]) / max(expected, 1), max(drops, default=0))


def print_table(rows: list[Phase]) -> None:
    print(f"\n{'broker':9s} {'devices':>7s} {'mode':6s} {'delivered':>15s} {'dup':>4s} {'p50 ms':>8s} {'p99 ms':>8s} "
          f"{'broker%':>7s} {'core%':>6s} {'comp%':>6s} {'sim%':>5s} {'gateway%':>8s} {'gw ms CPU/dev/s':>15s}")
    for r in rows:
        print(f"{r.broker:9s} {r.devices:7d} {r.mode:6s} {r.delivered:7d}/{r.published:<7d} {r.duplicates:4d} "
              f"{r.p50_ms:8.1f} {r.p99_ms:8.1f} {r.cpu.get('broker', 0):7.0f} {r.cpu.get('core', 0):6.0f} "
              f"{r.cpu.get('component', 0):6.0f} {r.cpu.get('simulator', 0):5.0f} {r.gateway_pct:8.0f} "
              f"{10 * r.gateway_pct / r.devices:15.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", default="250,500,1000", help="comma-separated device counts (spread phases)")
    parser.add_argument("--seconds", type=int, default=30, help="chunks per device in each phase")
    parser.add_argument("--burst", type=int, default=1000, help="devices in the burst phase (0: none)")
    parser.add_argument("--brokers", default="amqtt,mosquitto")
    parser.add_argument("--connections", type=int, default=4, help="MQTT connections of the simulator")
    parser.add_argument("--keep", action="store_true", help="keep the cores' folders (logs) afterwards")
    args = parser.parse_args()
    print(f"machine: {describe()}")
    old_ms, new_ms = generator_cost()
    print(f"load generator, CPU per 1,000 chunks (generate + JSON, no MQTT): chunk-at-a-time + json.dumps "
          f"{old_ms:.0f} ms, 30 s blocks + block JSON {new_ms:.0f} ms ({old_ms / new_ms:.1f}x less)")
    rows: list[Phase] = []
    for broker in args.brokers.split(","):
        tmp = Path(tempfile.mkdtemp(prefix=f"el-ecg-{broker}-"))
        core, mosquitto, url = start_gateway(tmp, broker)
        try:
            phases = [(int(n), False) for n in args.devices.split(",")] + ([(args.burst, True)] if args.burst else [])
            for devices, burst in phases:
                print(f"{broker}: {devices} wearables, {'burst' if burst else 'spread'}, {args.seconds} s ...", flush=True)
                rows.append(run_phase(core, mosquitto, url, broker, devices, args.seconds, burst, args.connections, tmp))
                r = rows[-1]
                print(f"  delivered {r.delivered}/{r.published} (IPC drops logged so far: {r.ipc_dropped}), p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms, "
                      f"CPU% {json.dumps({k: round(v) for k, v in r.cpu.items()})}", flush=True)
        finally:
            core.stop()
            if mosquitto:
                mosquitto.terminate()
                mosquitto.wait(10)
            if args.keep:
                print(f"kept {tmp}")
            else:
                shutil.rmtree(tmp, ignore_errors=True)
    print_table(rows)
    print("gateway% = broker + core + component CPU over the phase (200% = both cores); "
          "gw ms CPU/dev/s = gateway CPU ms per device per second")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_publish":
        p = argparse.ArgumentParser()
        for name in ("--broker", "--prefix", "--out"):
            p.add_argument(name, required=True)
        for name in ("--devices", "--seconds", "--connections"):
            p.add_argument(name, type=int, required=True)
        p.add_argument("--burst", action="store_true")
        sys.exit(publish_main(p.parse_args(sys.argv[2:])))
    sys.exit(main())
