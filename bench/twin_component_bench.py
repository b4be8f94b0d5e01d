"""Benchmark: the reference's test event answered by com.edgeloop.DigitalTwin over IPC.

    python bench/twin_component_bench.py [--count 500] [--warmup 50] [--hours 336] [--keep]

Trains the twin on simulated plant history (default parameters, as the cloud pipeline does),
packages TwinModel 1.0.0 and DigitalTwin 1.0.0 with packaging.py, deploys both to a real core
(`edgeloop core start`) with a requester component that uses the unmodified awsiotsdk client,
and measures `count` sequential request/reply round trips (p50, p99). Baselines in the same run,
on the same model: the ranking alone (`Optimizer.rank`) and the twin's whole request handling
(`TwinService.handle_request`), both in-process without IPC. Target: p50 <= 10 ms.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from machine import describe, wait_for  # noqa: E402

from edgeloop.cloud.twin.train import train  # noqa: E402
from edgeloop.components.digital_twin import packaging  # noqa: E402
from edgeloop.components.digital_twin.component import (  # noqa: E402
    TwinService,
    TwinSettings,
    load_verified,
)
from edgeloop.components.digital_twin.request import parse_request  # noqa: E402
from edgeloop.contracts.twin import REQUEST_TOPIC, RESPONSE_FILTER  # noqa: E402
from edgeloop.simulator.core.client import CoreClient  # noqa: E402
from edgeloop.simulator.core.launcher import launch_core  # noqa: E402
from edgeloop.simulator.core.paths import CorePaths  # noqa: E402
from edgeloop.simulator.plant import Plant  # noqa: E402
from edgeloop.simulator.plant.telemetry import history_batch, write_csv_file  # noqa: E402

HERE = Path(__file__).parent
REFERENCE_EVENT = {"flow": "[280, 300]", "pressure": "[69, 70]", "simulations": "10", "no_of_trials": "10",
                   "train_error_weight": "1.0"}
REQUESTER = "bench.TwinRequester"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def write_requester(dev: Path, config: dict) -> None:
    art = dev / "artifacts" / REQUESTER / "1.0.0"
    art.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "components" / "twin_requester.py", art / "main.py")
    policy = {"aws.greengrass.ipc.pubsub": {"bench": {
        "operations": ["aws.greengrass#PublishToTopic", "aws.greengrass#SubscribeToTopic"],
        "resources": [REQUEST_TOPIC, RESPONSE_FILTER]}}}
    recipe = {"RecipeFormatVersion": "2020-01-25", "ComponentName": REQUESTER, "ComponentVersion": "1.0.0",
              "ComponentConfiguration": {"DefaultConfiguration": {**config, "accessControl": policy}},
              "Manifests": [{"Platform": {"os": "linux"}, "Artifacts": [{"URI": f"s3://bench/{REQUESTER}/main.py"}],
                             "Lifecycle": {"Run": f"{sys.executable} -u {{artifacts:path}}/main.py"}}]}
    (dev / "recipes" / f"{REQUESTER}-1.0.0.yaml").write_text(yaml.safe_dump(recipe))


def in_process(root: Path, model_config: dict, count: int, warmup: int) -> tuple[list[float], list[float]]:
    """Latencies (us) of Optimizer.rank and of TwinService.handle_request on the deployed model."""
    service = TwinService(TwinSettings())
    service.install(load_verified(root, model_config))
    request = parse_request(REFERENCE_EVENT)
    message = {"request_id": "local", "event": REFERENCE_EVENT}
    rank, handle = [], []
    for n in range(warmup + count):
        t0 = time.perf_counter()
        service.loaded.optimizer.rank(request)
        t1 = time.perf_counter()
        service.handle_request(message)
        t2 = time.perf_counter()
        if n >= warmup:
            rank.append((t1 - t0) * 1e6)
            handle.append((t2 - t1) * 1e6)
    return rank, handle


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--hours", type=float, default=336.0, help="plant history to train on")
    parser.add_argument("--keep", action="store_true", help="keep the core's root folder (logs) afterwards")
    args = parser.parse_args()
    print(f"machine: {describe()}")

    tmp = Path(tempfile.mkdtemp(prefix="el-twin-bench-"))
    plant = Plant.default(0)
    write_csv_file(history_batch(plant, args.hours, 1), tmp / "history.csv")
    plant.write_boundaries(tmp / "boundaries.json")
    t0 = time.perf_counter()
    trained = train(tmp / "history.csv", tmp / "model", tmp / "boundaries.json")
    model = trained.model
    print(f"model: layout {model.layout}, {model.n_estimators} trees x depth {model.max_depth}, "
          f"{len(model.configurations_)} configurations, trained in {time.perf_counter() - t0:.1f} s")
    dev = tmp / "dev"
    packaging.build_model_component(trained.artifact, "1.0.0", dev / "recipes", dev / "artifacts",
                                    model_version="bench/1")
    packaging.build_twin_component("1.0.0", dev / "recipes", dev / "artifacts")
    start_file = tmp / "go"
    write_requester(dev, {"event": REFERENCE_EVENT, "count": args.count, "warmup": args.warmup,
                          "startFile": str(start_file)})

    root = CorePaths.at(tmp / "root")
    core = launch_core(root.root, "--mqtt-port", "0", "--log-level", "WARNING")
    try:
        with CoreClient(root) as client:
            deployment = client.create_deployment(
                recipe_dir=str(dev / "recipes"), artifact_dir=str(dev / "artifacts"),
                merge={"com.edgeloop.DigitalTwin": "1.0.0", REQUESTER: "1.0.0"}, remove=[],
                configuration={"com.edgeloop.DigitalTwin": {"MERGE": {"python": sys.executable}}},
                failure_policy="ROLLBACK")
            outcome = client.wait_for_deployment(deployment, timeout_s=300)
            assert outcome["status"] == "SUCCEEDED", outcome
        twin_log = root.component_log("com.edgeloop.DigitalTwin")
        wait_for(lambda: twin_log.exists() and "ready: serving" in twin_log.read_text(), 120, "the twin to serve")
        wait_for(lambda: (root.work_dir(REQUESTER) / "ready").exists(), 60, "the requester")
        print(f"IPC: {args.warmup} warm-up + {args.count} requests, one at a time ...", flush=True)
        start_file.touch()
        results_file = root.work_dir(REQUESTER) / "twin_results.json"
        results = json.loads(wait_for(lambda: results_file.exists() and results_file.read_text(), 600,
                                      "the requester's results"))
        config = json.loads(root.effective_config.read_text())["configuration"]["com.edgeloop.TwinModel"]
        rank, handle = in_process(root.root, config, args.count, args.warmup)
    finally:
        core.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    rtt = results["rtt_us"]
    twin_ms = results["twin_elapsed_ms"]
    p50 = percentile(rtt, 50) / 1000
    print(f"through the component over IPC: p50 {p50:.2f} ms, p99 {percentile(rtt, 99) / 1000:.2f} ms "
          f"(target p50 <= 10 ms: {'met' if p50 <= 10 else 'NOT met'}); the twin's own time per reply "
          f"(queue + ranking) p50 {percentile(twin_ms, 50):.2f} ms")
    print(f"baseline in-process, same model: Optimizer.rank p50 {percentile(rank, 50) / 1000:.2f} ms, "
          f"p99 {percentile(rank, 99) / 1000:.2f} ms; TwinService.handle_request p50 "
          f"{percentile(handle, 50) / 1000:.2f} ms, p99 {percentile(handle, 99) / 1000:.2f} ms")
    print(f"IPC and the component add p50 {p50 - percentile(handle, 50) / 1000:.2f} ms per request")
    return 0 if p50 <= 10 else 1


if __name__ == "__main__":
    sys.exit(main())
