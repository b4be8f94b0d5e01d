"""The pre-filter's service layer without a core: chunks as the bridge delivers them (JSON bytes) in,
messages to publish out, with a real small screener (tests/kits/ecg.py) verified and loaded from where
Greengrass unarchives com.edgeloop.EcgModel."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgeloop.components.ecg_prefilter.service import (
    ECG_MODEL_ON_GATEWAY,
    Outgoing,
    PrefilterService,
    PrefilterSettings,
    load_verified,
)
from edgeloop.contracts.ecg import parse_window
from edgeloop.errors import ModelRefused
from tests.kits.ecg import chunks, install_model, plan, trained_model_dir

T0 = 1_700_000_000.0


@pytest.fixture(scope="module")
def gateway(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("gg-root")
    return root, install_model(root, trained_model_dir())


def make_service(gateway, model: bool = True, **settings) -> PrefilterService:
    root, config = gateway
    service = PrefilterService(PrefilterSettings(**{"summary_interval_s": 60.0, **settings}), thing="gw-1")
    if model:
        service.install(load_verified(root, config))
    return service


def stream(service: PrefilterService, device_id: str, episodes, seconds: int, now: float = 1000.0,
           **kw) -> tuple[list[Outgoing], list[dict], int]:
    """Feed a device's chunks as JSON bytes; (messages out, the chunks, payload bytes in)."""
    out, sent, size = [], [], 0
    for i, chunk in enumerate(chunks(device_id, episodes, seconds, **kw)):
        payload = json.dumps(chunk).encode()
        size += len(payload)
        sent.append(chunk)
        out += service.handle_payload(f"dt/sensor/{device_id}", payload, now + i)
    return out, sent, size


def up_bytes(out: list[Outgoing]) -> int:
    return sum(len(json.dumps(m.body).encode()) for m in out if m.iot)


def test_an_af_window_is_forwarded_after_its_alert(gateway) -> None:
    service = make_service(gateway)
    out, sent, size = stream(service, "af-1", plan("af", hr=110), 60)

    alert, window, summary = out
    assert alert.local == alert.iot == "dt/ecg/af-1/alert"
    assert (window.iot, window.local) == ("dt/ecg/af-1/window", None)
    assert summary.iot == "dt/ecg/af-1/summary"
    decoded = parse_window(json.dumps(window.body))
    assert decoded.label == alert.body["label"] == "af" and decoded.window_id == alert.body["window_id"]
    assert decoded.model_version == alert.body["model_version"] == "edgeloop-ecg/1"
    assert (decoded.start, decoded.end) == (T0, T0 + 60) and alert.body["score"] >= 0.5
    raw = np.concatenate([c["ecg"] for c in sent])
    assert np.max(np.abs(decoded.ecg - raw)) <= 0.0005 + 1e-9      # the forwarded raw window, to 1 uV
    assert decoded.spectrogram.shape == (16, 12)
    assert summary.body["forwarded"] == 1 and summary.body["labels"] == {"af": 1}
    assert summary.body["bpm"]["mean"] is None                        # no normal window to average

    counters = service.totals()
    assert counters["bytes_in"] == size and counters["bytes_up"] == up_bytes(out)
    assert counters["bytes_up"] < 0.2 * size          # the forwarded minute costs a fraction of its raw stream
    assert (counters["windows_forwarded"], counters["alerts"], counters["windows_normal"]) == (1, 1, 0)


def test_normal_windows_only_reach_the_cloud_as_a_summary(gateway) -> None:
    service = make_service(gateway, summary_interval_s=120.0)
    out, _, size = stream(service, "n-1", plan("sinus", hr=72), 120)
    (summary,) = out                                                    # two normal windows, one summary
    assert (summary.iot, summary.local) == ("dt/ecg/n-1/summary", None)
    body = summary.body
    assert (body["start"], body["end"]) == (T0, T0 + 120)
    assert (body["windows"], body["normal"], body["forwarded"], body["unscreened"]) == (2, 2, 0, 0)
    assert 62 <= body["bpm"]["min"] <= body["bpm"]["mean"] <= body["bpm"]["max"] <= 82
    assert body["quality"]["min"] > 0.5 and body["model_version"] == "edgeloop-ecg/1"
    assert body["chunks"]["chunks"] == 120 and body["chunks"]["gaps"] == 0
    assert service.totals()["bytes_up"] == up_bytes(out) < 0.01 * size


def test_malformed_chunks_are_counted_and_reported_without_costing_other_data(gateway) -> None:
    service = make_service(gateway, error_report_interval_s=10.0)
    good = list(chunks("bad-1", plan("sinus", hr=80), 60, seed=4))
    nan_text = json.dumps({**good[0], "ecg": [float("nan")] * 250})   # Python writes NaN into the JSON text
    malformed = [b"{\"device_id\": \"bad-1\", \"seq\": ", json.dumps({**good[0], "ecg": ["0.1"] * 250}),
                 nan_text, json.dumps({**good[0], "fs": 500}), json.dumps({**good[0], "ecg": [0.0] * 5000, "ppg": []}),
                 json.dumps({**good[0], "device_id": "other-9"})]
    out, sizes = [], 0
    for i, chunk in enumerate(good):
        if 5 <= i < 5 + len(malformed):                               # six bad chunks within 6 s
            bad = malformed[i - 5]
            sizes += len(bad)
            out += service.handle_payload("dt/sensor/bad-1", bad, 1000.0 + i)
        payload = json.dumps(chunk)
        sizes += len(payload)
        out += service.handle_payload("dt/sensor/bad-1", payload, 1000.0 + i)
    others, _, other_size = stream(service, "good-2", plan("sinus", hr=65), 60)
    out += service.handle_payload("dt/sensor/bad id", b"{}", 1070.0)   # not a device topic: counted only
    late = service.tick(1070.0)                                        # the held-back errors, aggregated

    errors = [m for m in out if m.iot and m.iot.endswith("/error")] + late
    assert [(m.local, m.iot) for m in errors] == [("dt/ecg/bad-1/error", "dt/ecg/bad-1/error")] * 2
    first, second = (m.body for m in errors)
    assert first["field"] == "payload" and "not JSON" in first["problem"] and first["errors"] == {"payload": 1}
    assert second["errors"] == {"ecg": 3, "fs": 1, "device_id": 1} and second["total"] == 6
    assert second["field"] == "device_id" and "does not match the topic" in second["problem"]
    assert dict(service.malformed) == {"payload": 1, "ecg": 3, "fs": 1, "device_id": 2}

    summaries = {m.body["device_id"]: m.body for m in out + others if m.iot and m.iot.endswith("/summary")}
    assert summaries["bad-1"]["windows"] == 1 and summaries["bad-1"]["normal"] == 1   # its good chunks still count
    assert summaries["bad-1"]["chunks"]["malformed"] == 6 and summaries["bad-1"]["chunks"]["chunks"] == 60
    assert summaries["good-2"]["windows"] == 1 and summaries["good-2"]["chunks"]["malformed"] == 0
    counters = service.totals()
    assert counters["chunks_malformed"] == 7 and counters["error_reports"] == 2
    assert counters["bytes_in"] == sizes + other_size + 2
    assert counters["bytes_up"] == up_bytes(out + others + late)


def test_without_a_model_windows_are_counted_unscreened_never_normal(gateway) -> None:
    service = make_service(gateway, model=False)
    out, _, _ = stream(service, "n-2", plan("sinus", hr=70), 60)
    (summary,) = out
    assert (summary.body["unscreened"], summary.body["normal"], summary.body["model_version"]) == (1, 0, None)
    (status,) = service.status("periodic")
    assert status.body["serving"] is False and status.body["counters"]["windows_unscreened"] == 1
    assert status.body["counters"]["windows_normal"] == 0 and ECG_MODEL_ON_GATEWAY.name in status.body["model_problem"]


def test_a_model_that_does_not_match_its_record_is_refused(gateway, tmp_path: Path) -> None:
    root, config = gateway
    with pytest.raises(ModelRefused, match="modelSha256") as wrong:
        load_verified(root, {**config, "modelSha256": "0" * 64})
    assert config["modelSha256"] in str(wrong.value) and "1.0.0" in str(wrong.value)
    with pytest.raises(ModelRefused, match="cannot read"):
        load_verified(root, {**config, "componentVersion": "9.9.9"})
    copy = tmp_path / "root"
    shutil.copytree(ECG_MODEL_ON_GATEWAY.directory(root, "1.0.0"), ECG_MODEL_ON_GATEWAY.directory(copy, "1.0.0"))
    booster = ECG_MODEL_ON_GATEWAY.directory(copy, "1.0.0") / "ecg-classifier.ubj"
    booster.write_bytes(booster.read_bytes() + b" ")                   # metadata.json intact, model file not
    with pytest.raises(ModelRefused, match="SHA-256"):
        load_verified(copy, config)


def test_a_window_whose_analysis_fails_is_counted_and_reported(gateway) -> None:
    # windows shorter than the analysis' 10 s minimum (the configuration validation would refuse this)
    service = make_service(gateway, window_s=5.0, hop_s=5.0, summary_interval_s=10.0, error_report_interval_s=0.0)
    out, _, _ = stream(service, "s-1", plan("sinus", hr=70), 10)
    reports = [m.body for m in out if m.iot and m.iot.endswith("/error")]
    assert [r["field"] for r in reports] == ["window", "window"] and "10 s needed" in reports[0]["problem"]
    (summary,) = [m.body for m in out if m.iot and m.iot.endswith("/summary")]
    assert (summary["windows"], summary["failed"], summary["normal"]) == (2, 2, 0)
    assert service.totals()["windows_failed"] == 2


def test_bad_configuration_values_are_named_and_their_defaults_kept() -> None:
    settings, problems = PrefilterSettings.from_config({
        "fs": "250", "windowS": 5, "hopS": 30, "reorderChunks": 1.5, "maxGapS": -1, "summaryIntervalS": 0,
        "statusIntervalS": True, "errorReportIntervalS": 5})
    assert [p.split(":")[0] for p in problems] == ["/fs", "/windowS", "/reorderChunks", "/maxGapS",
                                                   "/summaryIntervalS", "/statusIntervalS"]
    assert settings == PrefilterSettings(hop_s=30.0, error_report_interval_s=5.0)
    settings, problems = PrefilterSettings.from_config({"windowS": 30, "hopS": 45})
    assert (settings.window_s, settings.hop_s) == (30.0, 30.0) and problems[0].startswith("/hopS: 45 s is longer")


def test_status_carries_counters_devices_and_its_own_bytes(gateway) -> None:
    service = make_service(gateway)
    stream(service, "n-3", plan("sinus", hr=75), 3)
    service.configure(PrefilterSettings(window_s=30.0, hop_s=30.0))            # new geometry: streams restart
    stream(service, "n-3", plan("sinus", hr=75), 1, now=2000.0, start_time=T0 + 100)
    before = service.totals()["bytes_up"]
    (status,) = service.status("periodic", queue_high_water=7)
    assert (status.local, status.iot) == ("edgeloop/ecg/status", "edgeloop/gw-1/ecg/status")
    body = status.body
    assert body["devices"] == 1 and body["queue_high_water"] == 7 and body["model_version"] == "edgeloop-ecg/1"
    assert body["counters"]["chunks"] == 4 and body["counters"]["streams_reset"] == 1
    assert body["settings"]["windowS"] == 30.0
    assert service.totals()["bytes_up"] == before + len(json.dumps(body).encode())


def test_a_device_that_goes_quiet_after_a_lost_chunk_still_gets_its_window(gateway) -> None:
    service = make_service(gateway)
    sent = [c for c in chunks("q-1", plan("af", hr=100), 61) if c["seq"] != 58]   # chunk 58 is lost
    out = [m for i, c in enumerate(sent) for m in service.handle_payload("dt/sensor/q-1", json.dumps(c), 1000.0 + i)]
    assert out == [] and service.devices["q-1"].stream.held == 2                   # 59 and 60 wait for 58
    assert service.tick(1062.0) == []                                             # not quiet for long yet
    alert, window, summary = service.tick(1070.0)
    assert alert.body["label"] == "af" and window.body["gaps_s"] == 1.0 and summary.body["chunks"]["gaps_filled"] == 1
