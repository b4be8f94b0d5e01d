"""Registry semantics: per-group version numbers, approval transitions and clear refusals."""

from __future__ import annotations

import threading

import pytest

from edgeloop.cloud.errors import RegistryError
from edgeloop.cloud.registry import APPROVED, PENDING, REJECTED, LocalRegistry, parse_ref


@pytest.fixture
def registry(tmp_path) -> LocalRegistry:
    registry = LocalRegistry(tmp_path / "registry.sqlite")
    registry.ensure_group("twin")
    registry.ensure_group("ecg")
    return registry


def test_versions_count_per_group_even_when_registered_concurrently(registry):
    threads = [threading.Thread(target=registry.create_version, args=("twin", f"file:///m/{n}", {}, f"run-{n}"))
               for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    registry.create_version("ecg", "file:///e/1", {"f1": 0.8}, "run-e")
    assert [p.version for p in registry.list("twin")] == list(range(1, 9))
    ecg = registry.list("ecg")
    assert [(p.ref, p.status, p.arn) for p in ecg] == [("ecg/1", PENDING, "arn:edgeloop:local:model-package/ecg/1")]


def test_approval_transitions(registry):
    for _ in range(3):
        registry.create_version("twin", "file:///m", {"mean_regret_pct": 2.0}, "run")
    approved = registry.set_status("twin", 1, APPROVED, "looks good")
    assert approved.status == APPROVED and approved.approval_description == "looks good" and approved.updated_at
    with pytest.raises(RegistryError, match=r"twin/1 is already Approved since .* \(looks good\); pass --force"):
        registry.set_status("twin", 1, APPROVED)
    assert registry.set_status("twin", 1, APPROVED, "again", force=True).approval_description == "again"
    assert registry.set_status("twin", 1, REJECTED, "drifted").status == REJECTED   # Approved -> Rejected

    registry.set_status("twin", 2, REJECTED, "too few rows")
    with pytest.raises(RegistryError, match=r"twin/2 was Rejected on .* \(too few rows\); register a new version"):
        registry.set_status("twin", 2, APPROVED)
    with pytest.raises(RegistryError, match="twin/2 is already Rejected"):
        registry.set_status("twin", 2, REJECTED, "still")
    with pytest.raises(RegistryError, match="cannot go back to PendingManualApproval"):
        registry.set_status("twin", 2, PENDING)
    with pytest.raises(RegistryError, match="approval status must be one of"):
        registry.set_status("twin", 3, "Deployed")
    assert registry.get("twin", 3).status == PENDING


def test_unknown_things_are_named(registry):
    registry.create_version("twin", "file:///m", {}, "run")
    with pytest.raises(RegistryError, match="no model package twin/7: group 'twin' has versions 1..1"):
        registry.get("twin", 7)
    with pytest.raises(RegistryError, match="no model package nope/1: there is no model package group 'nope'"):
        registry.get("nope", 1)
    with pytest.raises(RegistryError, match="model package group 'nope' does not exist"):
        registry.create_version("nope", "file:///m", {}, None)
    with pytest.raises(RegistryError, match="there is no model package group 'nope'"):
        registry.list("nope")
    for text in ("twin", "twin/0", "twin/x", "/3"):
        with pytest.raises(RegistryError, match="expected GROUP/VERSION"):
            parse_ref(text)
    with pytest.raises(RegistryError, match="SageMaker's rule"):
        parse_ref("bad_name/1")


def test_cli_list_show_reject(trained_home, cli, tmp_path):
    code, out, _ = cli("registry", "list", "--home", trained_home, "--group", "edgeloop-twin")
    assert code == 0 and "edgeloop-twin/1" in out and "PendingManualApproval" in out
    code, out, _ = cli("registry", "show", "edgeloop-twin/2", "--home", trained_home)
    assert code == 0 and "model data url  file://" in out and "mean_regret_pct" in out
    code, _, err = cli("registry", "show", "edgeloop-twin/99", "--home", trained_home)
    assert code == 2 and "group 'edgeloop-twin' has versions 1..2" in err
    code, _, err = cli("registry", "list", "--group", "nope", "--home", trained_home)
    assert code == 2 and "no model package group 'nope'" in err
    scratch = LocalRegistry(tmp_path / "registry.sqlite")
    scratch.ensure_group("g")
    scratch.create_version("g", "file:///m", {}, None)
    code, out, _ = cli("registry", "reject", "g/1", "--reason", "bad data", "--home", tmp_path)
    assert code == 0 and scratch.get("g", 1).approval_description == "bad data"
    code, _, err = cli("registry", "approve", "g/1", "--home", tmp_path)
    assert code == 1 and "g/1 was Rejected on" in err
