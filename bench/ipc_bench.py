"""IPC and bridge benchmark of edgeloop's local core: real core process, real components.

  python bench/ipc_bench.py [--latency-count 2000] [--throughput-count 20000] [--bridge-count 20000]

Measures, between two components that use the unmodified awsiotsdk IPC client:
  - publish-to-subscriber latency (p50, p99) of 1 KB messages, one at a time;
  - throughput of 1 KB messages with publishes in flight;
and client device (paho-mqtt) -> embedded broker -> bridge -> local pub/sub -> component throughput.
The baseline, measured in the same run, is the floor of the transport: the same 1 KB messages
between two processes over a bare Unix socket pair. Targets (issue 2): >= 5,000 msg/s, p50 <= 1 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from machine import describe, wait_for  # noqa: E402

from edgeloop.simulator.core.client import CoreClient  # noqa: E402
from edgeloop.simulator.core.launcher import launch_core  # noqa: E402
from edgeloop.simulator.core.paths import CorePaths  # noqa: E402
from edgeloop.simulator.core.status import read_status  # noqa: E402

HERE = Path(__file__).parent
TOPIC = "bench/ipc"
SIZE = 1024


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def baseline(count: int) -> tuple[float, float]:
    """Throughput (msg/s) and median round trip (us) of 1 KB messages over a bare Unix socket pair."""
    parent, child = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        parent.close()
        buf = b""
        while True:
            data = child.recv(65536)
            if not data:
                os._exit(0)
            buf += data
            while len(buf) >= SIZE:
                msg, buf = buf[:SIZE], buf[SIZE:]
                if msg[0:1] == b"p":
                    child.sendall(b"k")
    child.close()
    payload = b"t" * SIZE
    start = time.perf_counter()
    for _ in range(count):
        parent.sendall(payload)
    parent.sendall(b"p" * SIZE)
    parent.recv(1)
    throughput = count / (time.perf_counter() - start)
    rtts = []
    for _ in range(500):
        t0 = time.perf_counter()
        parent.sendall(b"p" * SIZE)
        parent.recv(1)
        rtts.append((time.perf_counter() - t0) * 1e6)
    parent.close()
    os.waitpid(pid, 0)
    return throughput, percentile(rtts, 50)


def write_component(base: Path, name: str, script: str, config: dict, setenv: dict | None = None) -> None:
    (base / "recipes").mkdir(parents=True, exist_ok=True)
    art = base / "artifacts" / name / "1.0.0"
    art.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "components" / script, art / "main.py")
    recipe = {
        "RecipeFormatVersion": "2020-01-25", "ComponentName": name, "ComponentVersion": "1.0.0",
        "ComponentConfiguration": {"DefaultConfiguration": config},
        "Manifests": [{"Platform": {"os": "linux"}, "Artifacts": [{"URI": f"s3://bench/{name}/main.py"}],
                       "Lifecycle": {"Run": f"{sys.executable} -u {{artifacts:path}}/main.py",
                                     "Setenv": setenv or {}}}]}
    (base / "recipes" / f"{name}.yaml").write_text(yaml.safe_dump(recipe))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-count", type=int, default=2000)
    parser.add_argument("--throughput-count", type=int, default=20000)
    parser.add_argument("--bridge-count", type=int, default=20000)
    parser.add_argument("--window", type=int, default=64, help="IPC publishes in flight in the throughput phase")
    parser.add_argument("--keep", action="store_true", help="keep the core's root folder (logs) afterwards")
    parser.add_argument("--raw-count", type=int, default=50000,
                        help="messages for the wire-level clients that measure the server's own capacity")
    args = parser.parse_args()

    print(f"machine: {describe()}")
    base_tp, base_rtt = baseline(args.throughput_count)
    print(f"baseline (bare Unix socket, 1 KB): {base_tp:,.0f} msg/s, round trip p50 {base_rtt:.0f} us")

    tmp = Path(tempfile.mkdtemp(prefix="el-bench-"))
    root = CorePaths.at(tmp / "root")
    start_file = tmp / "go"
    policy = {"aws.greengrass.ipc.pubsub": {"bench": {"operations": ["*"], "resources": [TOPIC]}}}
    write_component(tmp / "dev", "bench.Subscriber", "ipc_subscriber.py", {"topic": TOPIC, "accessControl": policy})
    write_component(tmp / "dev", "bench.Publisher", "ipc_publisher.py", {
        "topic": TOPIC, "size": SIZE, "latencyCount": args.latency_count, "throughputCount": args.throughput_count,
        "window": args.window, "startFile": str(start_file), "accessControl": policy})
    raw_topic = "bench/raw"
    raw_policy = {"aws.greengrass.ipc.pubsub": {"raw": {"operations": ["*"], "resources": [raw_topic]}}}
    raw_start = tmp / "go-raw"
    for role in ("sub", "pub"):
        write_component(tmp / "dev", f"bench.Raw{role.title()}", "raw_ipc.py", {"accessControl": raw_policy},
                        {"RAW_ROLE": role, "RAW_TOPIC": raw_topic, "RAW_COUNT": str(args.raw_count),
                         "RAW_START_FILE": str(raw_start)})
    core = launch_core(root.root, "--mqtt-port", "0", "--log-level", "WARNING")
    try:
        with CoreClient(root) as client:
            deployment = client.create_deployment(
                recipe_dir=str(tmp / "dev" / "recipes"), artifact_dir=str(tmp / "dev" / "artifacts"),
                merge={"bench.Subscriber": "1.0.0", "bench.Publisher": "1.0.0", "bench.RawSub": "1.0.0",
                       "bench.RawPub": "1.0.0"}, remove=[],
                configuration={"aws.greengrass.clientdevices.mqtt.Bridge": {"MERGE": {"mqttTopicMapping": {
                    "bench": {"topic": TOPIC, "source": "LocalMqtt", "target": "Pubsub"}}}}},
                failure_policy="ROLLBACK")
            outcome = client.wait_for_deployment(deployment, timeout_s=120)
            assert outcome["status"] == "SUCCEEDED", outcome
        sub_work = root.work_dir("bench.Subscriber")
        pub_work = root.work_dir("bench.Publisher")
        wait_for(lambda: (sub_work / "ready").exists(), 60, "the subscriber")
        start_file.touch()
        results_file = sub_work / "results.json"

        def phase(name: str, count: int):
            if not results_file.exists():
                return None
            phases = json.loads(results_file.read_text() or "{}")
            p = phases.get(name)
            return p if p and len(p["latencies_us"]) >= count else None

        total = args.latency_count + args.throughput_count
        print(f"IPC: {args.latency_count:,} latency + {args.throughput_count:,} throughput messages ...", flush=True)
        lat = wait_for(lambda: phase("latency", args.latency_count), 300, "latency phase")
        tput = wait_for(lambda: phase("throughput", args.throughput_count), 300, "throughput phase")
        published = json.loads(wait_for(lambda: (pub_work / "published.json").exists() and
                                        (pub_work / "published.json").read_text(), 60, "publisher"))
        p50, p99 = percentile(lat["latencies_us"], 50), percentile(lat["latencies_us"], 99)
        seconds = (tput["last_ns"] - tput["first_ns"]) / 1e9
        ipc_tp = args.throughput_count / max(seconds, 1e-9)
        print(f"IPC latency 1 KB: p50 {p50 / 1000:.3f} ms, p99 {p99 / 1000:.3f} ms "
              f"(target p50 <= 1 ms: {'met' if p50 <= 1000 else 'NOT met'}); "
              f"{p50 / base_rtt:.1f}x the bare-socket round trip")
        print(f"IPC throughput 1 KB: {ipc_tp:,.0f} msg/s delivered, {published['throughput_count'] / published['publish_seconds']:,.0f} "
              f"msg/s published (target >= 5,000: {'met' if ipc_tp >= 5000 else 'NOT met'}); "
              f"{ipc_tp / base_tp:.3f}x the bare socket; all {total:,} delivered")

        # the server's own capacity, with wire-level clients that cost little
        raw_sub = root.work_dir("bench.RawSub")
        wait_for(lambda: (raw_sub / "ready").exists(), 60, "the wire-level subscriber")
        print(f"IPC, wire-level components: {args.raw_count:,} messages ...", flush=True)
        raw_start.touch()
        raw = json.loads(wait_for(lambda: (raw_sub / "raw_results.json").exists() and
                                  (raw_sub / "raw_results.json").read_text(), 300, "wire-level phase"))
        raw_tp = raw["events"] / max(raw["seconds"], 1e-9)
        raw_p50, raw_p99 = percentile(raw["latencies_us"], 50), percentile(raw["latencies_us"], 99)
        print(f"IPC server, wire-level components 1 KB: latency p50 {raw_p50 / 1000:.3f} ms, p99 {raw_p99 / 1000:.3f} ms; "
              f"throughput {raw_tp:,.0f} msg/s, {raw['events']:,} of {args.raw_count:,} delivered; "
              f"{raw_tp / base_tp:.3f}x the bare socket")

        # client device -> broker -> bridge -> pub/sub -> component
        import paho.mqtt.client as mqtt
        url = read_status(root)["mqtt_url"]
        host, port = url.split("://")[1].rsplit(":", 1)
        device = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-device")
        device.max_queued_messages_set(0)
        device.connect(host, int(port))
        device.loop_start()
        time.sleep(0.5)
        print(f"bridge: {args.bridge_count:,} messages from a paho client device ...", flush=True)
        for _ in range(args.bridge_count):
            head = json.dumps({"phase": "bridge", "sent_ns": time.monotonic_ns()}).encode() + b"|"
            device.publish(TOPIC, head + b"x" * (SIZE - len(head)), qos=1)
        try:
            bridged = wait_for(lambda: phase("bridge", args.bridge_count), 300, "bridge phase")
            seconds = (bridged["last_ns"] - bridged["first_ns"]) / 1e9
            print(f"bridge throughput 1 KB QoS 1: {args.bridge_count / max(seconds, 1e-9):,.0f} msg/s, "
                  f"latency p50 {percentile(bridged['latencies_us'], 50) / 1000:.1f} ms, "
                  f"p99 {percentile(bridged['latencies_us'], 99) / 1000:.1f} ms; all {args.bridge_count:,} delivered")
        finally:
            device.loop_stop()
            device.disconnect()
    finally:
        core.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
