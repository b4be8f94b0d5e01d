"""Window analysis in separate processes (screening.ProcessScreener) against the same analysis in
the calling thread: identical verdicts, the verified model loaded in the process, a killed process
costing only the windows it held, and the service keeping each device's window order."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from edgeloop.components.ecg_prefilter.screening import InlineScreener, ModelRef, ProcessScreener
from edgeloop.components.ecg_prefilter.service import PrefilterService, load_verified
from edgeloop.components.errors import ScreenerError
from edgeloop.errors import ModelRefused
from edgeloop.simulator.wearable.rhythm import Episode
from edgeloop.simulator.wearable.simulator import WearableSimulator
from tests.kits.ecg import chunks, install_model, plan, trained_model_dir

FS = 250.0


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> ModelRef:
    root = tmp_path_factory.mktemp("gg-root")
    return load_verified(root, install_model(root, trained_model_dir())).ref


@pytest.fixture(scope="module")
def screener():
    with_processes = ProcessScreener(1).start()
    yield with_processes
    with_processes.close()


def windows(*episodes: Episode) -> list[np.ndarray]:
    sim = WearableSimulator(FS, seed=4)
    return [sim.record(1.0, [e], device_id=f"w-{i}").ecg for i, e in enumerate(episodes)]


def test_a_process_screens_exactly_as_the_calling_thread_does(model: ModelRef, screener: ProcessScreener) -> None:
    ecgs = windows(Episode("sinus", 90, hr=64), Episode("af", 90, hr=120), Episode("bigeminy", 90, hr=70))
    inline = [InlineScreener().submit(x, FS, model).result() for x in ecgs]
    futures = [screener.submit(x, FS, model) for x in ecgs]
    remote = [f.result(timeout=60) for f in futures]
    for a, b in zip(inline, remote, strict=False):
        assert a.verdict == b.verdict
        assert json.dumps(a.analysis.features) == json.dumps(b.analysis.features)   # NaNs included
        assert np.array_equal(a.analysis.summary, b.analysis.summary)
    assert [r.verdict.forward for r in remote] == [False, True, True]


def test_a_window_that_cannot_be_analysed_fails_alone(model: ModelRef, screener: ProcessScreener) -> None:
    broken, good = np.full(15000, np.nan), windows(Episode("sinus", 90))[0]
    bad, ok = screener.submit(broken, FS, model), screener.submit(good, FS, model)
    with pytest.raises(Exception) as failed:
        bad.result(timeout=60)
    assert type(failed.value).__name__ == "SignalError"
    assert ok.result(timeout=60).verdict.label == "normal"


def test_a_model_that_does_not_match_its_digest_is_refused_in_the_process(model: ModelRef, tmp_path: Path,
                                                                           screener: ProcessScreener) -> None:
    tampered = tmp_path / "model"
    shutil.copytree(model.directory, tampered)
    metadata = tampered / "metadata.json"
    metadata.write_text(metadata.read_text().replace("{", "{ ", 1))
    future = screener.submit(windows(Episode("sinus", 90))[0], FS, ModelRef(model.classifier, tampered, model.sha256))
    with pytest.raises(ModelRefused, match="SHA-256"):
        future.result(timeout=60)


def test_a_killed_analysis_process_costs_only_the_windows_it_held(model: ModelRef) -> None:
    done: list[int] = []
    screener = ProcessScreener(1, on_done=lambda: done.append(1)).start()
    try:
        ecg = windows(Episode("sinus", 90))[0]
        assert screener.submit(ecg, FS, model).result(timeout=60).verdict.label == "normal"
        in_hand = [screener.submit(ecg, FS, model) for _ in range(40)]
        (pid,) = screener._executor._processes           # the one analysis process
        os.kill(pid, signal.SIGKILL)
        outcomes = []
        for future in in_hand:
            try:
                outcomes.append(future.result(timeout=60).verdict.label)
            except ScreenerError as exc:
                assert "died" in str(exc)
                outcomes.append("lost")
        assert "lost" in outcomes and set(outcomes) <= {"normal", "lost"}
        assert screener.submit(ecg, FS, model).result(timeout=60).verdict.label == "normal"   # a new process
        assert screener.restarts == 1 and len(done) == 42
        (pid,) = screener._executor._processes
        os.kill(pid, signal.SIGKILL)                       # killed while idle: the next window is still screened
        time.sleep(0.5)
        assert screener.submit(ecg, FS, model).result(timeout=60).verdict.label == "normal"
    finally:
        screener.close()


def test_the_service_keeps_window_order_with_windows_in_analysis(model: ModelRef, tmp_path: Path) -> None:
    """Two devices' windows go through an analysis process; every alert and summary comes out,
    each device's in order, once the results are collected."""
    root = tmp_path / "gg"
    screener = ProcessScreener(1)
    service = PrefilterService(thing="gw-1", screener=screener.start())
    service.install(load_verified(root, install_model(root, trained_model_dir())))
    try:
        out = []
        feeds = {"af-1": chunks("af-1", plan("af", hr=115), 180), "n-1": chunks("n-1", plan("sinus"), 180)}
        for i in range(180):
            for device, feed in feeds.items():
                out += service.handle_payload(f"dt/sensor/{device}", json.dumps(next(feed)).encode(), 1000.0 + i)
        deadline = time.monotonic() + 60
        while service.in_analysis and time.monotonic() < deadline:
            time.sleep(0.05)
            out += service.collect(2000.0)
        assert service.in_analysis == 0
        alerts = [m.body for m in out if m.iot == "dt/ecg/af-1/alert"]
        assert [a["start"] for a in alerts] == sorted(a["start"] for a in alerts) and len(alerts) == 3
        assert not [m for m in out if m.iot == "dt/ecg/n-1/alert"]
        assert service.totals()["windows_screened"] == 6
        assert service.status("periodic")[0].body["windows_in_analysis"] == 0
    finally:
        service.close()
