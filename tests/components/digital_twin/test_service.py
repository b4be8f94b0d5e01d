"""The DigitalTwin's service layer without a core: requests, model verification and swaps, telemetry.

Models are real (trained on simulated plant history), packaged as TwinModel components and unpacked
where Greengrass puts them; the service is the same object the component runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgeloop.components.digital_twin import packaging
from edgeloop.components.digital_twin.component import TwinService, TwinSettings, load_verified, model_directory
from edgeloop.components.digital_twin.model import PowerModel
from edgeloop.components.digital_twin.optimizer import Optimizer
from edgeloop.components.digital_twin.request import parse_request
from edgeloop.contracts.errors import TelemetryError
from edgeloop.errors import ModelRefused
from tests.kits.twin import REFERENCE_EVENT, install_model


def twin_config(recipe: Path) -> dict:
    import yaml
    return yaml.safe_load(recipe.read_text())["ComponentConfiguration"]["DefaultConfiguration"]


@pytest.fixture(scope="module")
def gateway(model_dirs, tmp_path_factory) -> tuple[Path, dict[str, dict]]:
    """A Greengrass root holding TwinModel 1.0.0 (first model) and 1.0.1 (second), and their configurations."""
    base = tmp_path_factory.mktemp("gateway")
    root, recipes, artifacts = base / "root", base / "recipes", base / "artifacts"
    configs = {}
    for version, name, model_version in (("1.0.0", "first", "edgeloop-twin/1"), ("1.0.1", "second", "edgeloop-twin/2")):
        recipe = packaging.build_model_component(model_dirs[name], version, recipes, artifacts,
                                                 model_version=model_version)
        install_model(root, artifacts, version)
        configs[version] = twin_config(recipe)
    return root, configs


@pytest.fixture
def service(gateway) -> TwinService:
    root, configs = gateway
    service = TwinService(TwinSettings(error_window=20, error_every=5, recommend_every=5))
    service.install(load_verified(root, configs["1.0.0"]))
    return service


def test_the_reference_event_gets_the_optimizers_ranking(service: TwinService, gateway, model_dirs) -> None:
    request_id, body = service.handle_request({"request_id": "r-1", "event": REFERENCE_EVENT, "seed": 7})
    expected = Optimizer(PowerModel.load(model_dirs["first"])).rank(parse_request(REFERENCE_EVENT), 7)
    assert request_id == "r-1"
    assert body["ranking"] == expected.answer()
    assert [list(r)[0] for r in body["ranking"]][:1] == [expected.ranked[0].config]
    assert body["model_version"] == "edgeloop-twin/1" and body["component_version"] == "1.0.0"
    assert set(body["estimates"]) == {r.config for r in expected.ranked}
    for estimate in body["estimates"].values():
        assert estimate["low"] <= estimate["expected"] <= estimate["high"]
    assert body["excluded"] == sorted(expected.excluded) and "c1c2" in body["excluded"]   # [120, 297] < 300 cfm
    assert body["elapsed_ms"] >= 0
    json.dumps(body, allow_nan=False)   # what goes on the wire is strict JSON


def test_event_fields_at_top_level_mean_the_same_request(service: TwinService) -> None:
    _, nested = service.handle_request({"request_id": "a", "event": REFERENCE_EVENT, "seed": 3})
    _, flat = service.handle_request(json.dumps({"request_id": "b", "seed": 3, **REFERENCE_EVENT}).encode())
    assert flat["ranking"] == nested["ranking"]


@pytest.mark.parametrize("message, request_id, field", [
    ({"request_id": "r-2", "event": {**REFERENCE_EVENT, "flow": "[300, 280]"}}, "r-2", "flow"),
    ({"request_id": "r-3", "event": {**REFERENCE_EVENT, "flows": "[280, 300]"}}, "r-3", "flows"),
    ({"request_id": "r-4", "event": REFERENCE_EVENT, "priority": 1}, "r-4", "priority"),
    ({"request_id": "r-5", "event": REFERENCE_EVENT, "seed": -1}, "r-5", "seed"),
    ({"event": REFERENCE_EVENT}, "unknown", "request_id"),
    ({"request_id": "a/b", "event": REFERENCE_EVENT}, "unknown", "request_id"),
    (b"{not json", "unknown", "message"),
    ([1, 2], "unknown", "message"),
])
def test_a_bad_request_gets_an_error_naming_the_field_and_the_next_is_served(
        service: TwinService, message, request_id: str, field: str) -> None:
    rid, body = service.handle_request(message)
    assert rid == body["request_id"] == request_id
    assert body["error"]["field"] == field and body["error"]["problem"]
    assert "ranking" not in body
    _, good = service.handle_request({"request_id": "next", "event": REFERENCE_EVENT})
    assert good["ranking"] and "error" not in good
    assert service.counters["request_errors"] == 1 and service.counters["requests"] == 1


def test_without_a_model_requests_get_an_error(gateway) -> None:
    _, body = TwinService().handle_request({"request_id": "early", "event": REFERENCE_EVENT})
    assert body["error"]["field"] == "model"


def test_a_model_that_does_not_match_its_sha256_is_refused(gateway) -> None:
    root, configs = gateway
    wrong = dict(configs["1.0.1"], modelSha256="0" * 64)
    with pytest.raises(ModelRefused, match="does not match its record") as refused:
        load_verified(root, wrong)
    assert configs["1.0.1"]["modelSha256"] in str(refused.value) and "0" * 64 in str(refused.value)


@pytest.mark.parametrize("change, problem", [
    ({"componentVersion": "../../etc"}, "/componentVersion"),
    ({"componentVersion": "9.9.9"}, "cannot read"),
    ({"modelSha256": "ABC"}, "/modelSha256"),
    ({"modelVersion": ""}, "/modelVersion"),
])
def test_a_bad_model_configuration_is_refused_naming_the_problem(gateway, change: dict, problem: str) -> None:
    root, configs = gateway
    with pytest.raises(ModelRefused, match=problem):
        load_verified(root, dict(configs["1.0.0"], **change))


def test_the_model_record_pins_every_model_file(gateway, tmp_path: Path) -> None:
    """modelSha256 covers metadata.json, which records each model file's digest: a swapped booster is caught."""
    import shutil
    root, configs = gateway
    copy = tmp_path / "root"
    source = model_directory(root, "1.0.0")
    target = model_directory(copy, "1.0.0")
    shutil.copytree(source, target)
    booster = sorted(target.glob("*.ubj"))[0]
    booster.chmod(0o644)
    booster.write_bytes(booster.read_bytes() + b" ")
    with pytest.raises(ModelRefused, match="SHA-256"):
        load_verified(copy, configs["1.0.0"])


def test_a_swap_changes_the_model_of_the_next_reply(service: TwinService, gateway) -> None:
    root, configs = gateway
    _, before = service.handle_request({"request_id": "x", "event": REFERENCE_EVENT, "seed": 1})
    service.install(load_verified(root, configs["1.0.1"]))
    _, after = service.handle_request({"request_id": "y", "event": REFERENCE_EVENT, "seed": 1})
    assert (before["model_version"], after["model_version"]) == ("edgeloop-twin/1", "edgeloop-twin/2")
    assert after["component_version"] == "1.0.1"
    assert before["ranking"] != after["ranking"]   # the aged plant's model prices the sets differently


def samples(plant, n: int, plant_id: str = "p1", seed: int = 5) -> list[dict]:
    rows = plant.history(hours=n / 60, seed=seed)[:n]
    return [{"plant_id": plant_id, "timestamp": r["timestamp"], "seq": i, "flow": r["flow"],
             "pressure": r["pressure"], "power": r["power"], "config": r["config"]} for i, r in enumerate(rows)]


def test_telemetry_gives_live_error_and_recommendations(service: TwinService, plant, model_dirs) -> None:
    model = PowerModel.load(model_dirs["first"])
    out = []
    stream = samples(plant, 20)
    for sample in stream:
        out += service.handle_telemetry("dt/compressor/p1/telemetry", json.dumps(sample).encode())
    errors = [body for topic, body in out if topic == "dt/compressor/p1/twin/error"]
    recommendations = [body for topic, body in out if topic == "dt/compressor/p1/recommendation"]
    assert len(errors) == 4 and len(recommendations) == 4   # every 5 samples

    residuals = [s["power"] - float(model.predict(s["config"], s["flow"], s["pressure"])) for s in stream]
    last = errors[-1]
    assert last["window"] == 20 and last["model_version"] == "edgeloop-twin/1"
    assert last["mae_kw"] == pytest.approx(np.mean(np.abs(residuals)), abs=1e-3)
    assert last["last_residual_kw"] == pytest.approx(residuals[-1], abs=1e-3)
    assert last["mape_pct"] == pytest.approx(
        100 * np.mean([abs(r) / s["power"] for r, s in zip(residuals, stream, strict=False)]), abs=1e-3)

    batch = stream[-5:]
    flows = np.array([s["flow"] for s in batch])
    pressures = np.array([s["pressure"] for s in batch])
    feasible = {n: float(np.mean(model.predict(n, flows, pressures), dtype=np.float64))
                for n, (lo, hi) in model.boundaries_.items() if lo <= flows.min() and flows.max() <= hi}
    rec = recommendations[-1]
    assert rec["recommended"] == min(feasible, key=feasible.get)
    assert rec["running"] == batch[-1]["config"] and rec["timestamp"] == batch[-1]["timestamp"]
    assert rec["expected_power_kw"]["recommended"] == pytest.approx(min(feasible.values()), abs=1e-3)
    assert rec["expected_saving_kw"] == pytest.approx(
        rec["expected_power_kw"]["running"] - rec["expected_power_kw"]["recommended"], abs=2e-3)


def test_following_recommendations_saves_true_power_against_the_staging_rule(service: TwinService, plant) -> None:
    """What a plant operator cares about: on the true plant, the recommended sets draw less than the running ones."""
    service.configure(TwinSettings(recommend_every=1, error_every=1000))
    stream = samples(plant, 600, seed=11)
    running_kw = recommended_kw = 0.0
    for sample in stream:
        (_, rec), = service.handle_telemetry("dt/compressor/p1/telemetry", sample)
        f, p = np.array([sample["flow"]]), np.array([sample["pressure"]])
        running_kw += float(plant.true_power(sample["config"], f, p)[0])
        recommended_kw += float(plant.true_power(rec["recommended"], f, p)[0])
    assert recommended_kw < running_kw


@pytest.mark.parametrize("topic, sample, field", [
    ("dt/compressor/p1/telemetry", {"plant_id": "p1", "flow": "300", "pressure": 100, "power": 50, "config": "c1c2"}, "flow"),
    ("dt/compressor/p1/telemetry", {"plant_id": "p2", "flow": 300, "pressure": 100, "power": 50, "config": "c1c2"}, "plant_id"),
    ("dt/compressor/p1/telemetry", {"plant_id": "p1", "flow": 300, "pressure": 100, "power": -1, "config": "c1c2"}, "power"),
    ("dt/compressor/p1/telemetry", {"plant_id": "p1", "flow": 300, "pressure": 100, "power": 50}, "config"),
    ("dt/compressor/p1/telemetry", b"\xff", "message"),
])
def test_malformed_telemetry_is_rejected_naming_the_field(service: TwinService, topic, sample, field) -> None:
    with pytest.raises(TelemetryError) as exc:
        service.handle_telemetry(topic, sample)
    assert exc.value.field == field
    assert service.counters["telemetry_errors"] == 1


@pytest.mark.parametrize("timestamp, problem", [
    ("2024-01-01T00:00:00", "has no timezone"),         # naive: refused (the lake refused it, the gateway did not)
    (None, "expected an ISO-8601 string"),
    ("yesterday", "is not an ISO-8601 timestamp"),
])
def test_telemetry_needs_a_timestamp_with_a_timezone(service: TwinService, timestamp, problem) -> None:
    sample = {"plant_id": "p1", "timestamp": timestamp, "flow": 300, "pressure": 100, "power": 50, "config": "c1c2"}
    with pytest.raises(TelemetryError) as exc:
        service.handle_telemetry("dt/compressor/p1/telemetry", sample)
    assert exc.value.field == "timestamp" and problem in exc.value.problem
    assert service.counters["telemetry_errors"] == 1 and service.counters["telemetry"] == 0


def test_telemetry_takes_the_plant_from_the_topic_and_echoes_the_timestamp_in_utc(service: TwinService) -> None:
    service.configure(TwinSettings(recommend_every=1))
    sample = {"timestamp": "2024-01-01T02:00:00+02:00", "flow": 300, "pressure": 100, "power": 50, "config": "c1c2"}
    (topic, body), = service.handle_telemetry("dt/compressor/p9/telemetry", sample)
    assert topic == "dt/compressor/p9/recommendation"
    assert (body["plant_id"], body["timestamp"]) == ("p9", "2024-01-01T00:00:00Z")


def test_bad_settings_keep_their_defaults_and_are_named() -> None:
    settings, problems = TwinSettings.from_config({"telemetry": {"errorWindow": 0, "errorEvery": 3,
                                                                 "recommendEvery": 2.5},
                                                   "statusIntervalS": "often"})
    assert settings == TwinSettings(error_every=3)
    assert [p.split(":")[0] for p in problems] == ["/telemetry/errorWindow", "/telemetry/recommendEvery",
                                                   "/statusIntervalS"]
