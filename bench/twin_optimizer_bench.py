"""Benchmark: edgeloop's vectorised twin optimizer against the reference-style loop.

Both rank the reference's offline grid (70 request ranges, n=100, 10 trials) with the same loaded
model and the same draws; the rankings must be identical (asserted). The loop makes one predict
call per trial and configuration, as the reference did. The edgeloop time includes building the
lookup tables from a freshly loaded model (cold). Target: >= 100x.

    python bench/twin_optimizer_bench.py [--hours 336] [--seed 0] [--baseline-requests N]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time

import numpy as np
import xgboost

from edgeloop.cloud.twin.evaluate import reference_grid
from edgeloop.cloud.twin.train import fit_layouts
from edgeloop.components.digital_twin.loop_optimizer import loop_rank
from edgeloop.components.digital_twin.model import PowerModel
from edgeloop.components.digital_twin.optimizer import Optimizer, draw, feasibility
from edgeloop.components.digital_twin.telemetry import TelemetryFrame
from edgeloop.simulator.plant import Plant


def machine() -> str:
    cpu = platform.processor() or "unknown cpu"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores; Python "
            f"{platform.python_version()}, numpy {np.__version__}, xgboost {xgboost.__version__}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=336.0, help="plant history to train on")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline-requests", type=int, default=None,
                        help="run the loop on the first N requests only (default: all)")
    args = parser.parse_args(argv)
    print(machine())
    plant = Plant.default(args.seed)
    frame = TelemetryFrame.from_rows(plant.history(hours=args.hours, seed=args.seed + 1))
    model, _ = fit_layouts(frame, plant.boundaries)
    with tempfile.TemporaryDirectory() as tmp:
        model.save(tmp)
        loaded = PowerModel.load(tmp)
        # fresh loads: each timed run starts cold (no thresholds, no tables)
        fresh_models = [PowerModel.load(tmp) for _ in range(3)]
    trees = loaded.n_estimators
    print(f"model: layout {loaded.layout}, {trees} trees x depth {loaded.max_depth}, "
          f"{len(loaded.configurations_)} configurations, trained on {len(frame)} rows")
    requests = reference_grid()
    rng = np.random.default_rng(args.seed)
    draws = [draw(r, len(feasibility(loaded, r)[0]), rng) for r in requests]
    count = len(requests) if args.baseline_requests is None else min(args.baseline_requests, len(requests))

    # Best of three cold runs: the machine may be shared, and the fast side is short.
    times = []
    for fresh in fresh_models:
        start = time.perf_counter()
        optimizer = Optimizer(fresh)
        rankings = optimizer.rank_draws(requests, draws)
        times.append(time.perf_counter() - start)
    fast = min(times)
    start = time.perf_counter()
    Optimizer(fresh).rank_draws(requests, draws)   # thresholds cached on the model, tables rebuilt
    fast_warm = time.perf_counter() - start

    calls = 0
    start = time.perf_counter()
    baseline = []
    for request, d in zip(requests[:count], draws[:count], strict=True):
        baseline.append(loop_rank(loaded, request, d))
        k = len(baseline[-1])
        calls += request.no_of_trials * k * (k + 1) // 2
    slow = time.perf_counter() - start

    for k, (mine, reference) in enumerate(zip(rankings, baseline, strict=True)):
        assert mine.ranked == reference, f"request {k} ranks differ:\n{mine.ranked}\n{reference}"
    slow_all = slow * len(requests) / count
    cells = sum(t.cells_predicted for t in optimizer._tables.values())
    print(f"grid: {len(requests)} requests; rankings identical on {count} of them "
          f"(configurations, wins and energies)")
    print(f"reference-style loop: {slow:.2f} s for {count} requests ({calls} predict calls)"
          + ("" if count == len(requests) else f", {slow_all:.1f} s extrapolated to the grid"))
    print(f"edgeloop optimizer:   {fast * 1000:.0f} ms cold incl. lookup tables "
          f"({cells} cells predicted), {fast_warm * 1000:.0f} ms with cached thresholds")
    print(f"speed-up: {slow_all / fast:.0f}x cold, {slow_all / fast_warm:.0f}x warm (target >= 100x)")
    return 0 if slow_all / fast >= 100 else 1


if __name__ == "__main__":
    sys.exit(main())
