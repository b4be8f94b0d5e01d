"""Artifact preparation for local deployments: lookup, digest, safe unzip, read-only result, re-deploy."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from edgeloop.simulator.core.errors import ArtifactInstallError
from edgeloop.simulator.core.paths import CorePaths
from edgeloop.simulator.core.recipes import digest_of, parse_recipe, prepare_artifacts

NAME, VERSION = "com.example.Model", "1.0.3"


def b64sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def make_recipe(*artifacts: dict):
    recipe = parse_recipe(json.dumps({
        "RecipeFormatVersion": "2020-01-25", "ComponentName": NAME, "ComponentVersion": VERSION,
        "Manifests": [{"Lifecycle": {"Run": "python3 {artifacts:path}/run.py"}, "Artifacts": list(artifacts)}],
    }), "inline", "json")
    return recipe, recipe.manifests[0]


@pytest.fixture
def env(tmp_path):
    source = tmp_path / "artifacts-in"
    (source / NAME / VERSION).mkdir(parents=True)
    paths = CorePaths.at(tmp_path / "root")
    paths.ensure()
    return source, paths


def put(source: Path, name: str, data: bytes) -> Path:
    path = source / NAME / VERSION / name
    path.write_bytes(data)
    return path


def make_zip(path: Path, entries: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return path.read_bytes()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_digest_of_is_base64_sha256(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"edgeloop model bytes")
    assert digest_of(path) == b64sha256(b"edgeloop model bytes")
    (tmp_path / "empty").write_bytes(b"")
    assert digest_of(tmp_path / "empty") == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


def test_s3_and_bare_uris_are_found_by_file_name_and_made_read_only(env):
    source, paths = env
    put(source, "model.ubj", b"MODEL")
    put(source, "run.py", b"print('hi')\n")
    recipe, manifest = make_recipe(
        {"URI": "s3://bucket/models/com.example.Model/1.0.3/model.ubj", "Digest": b64sha256(b"MODEL")},
        {"URI": "run.py", "Permission": {"Read": "ALL", "Execute": "OWNER"}})
    prepare_artifacts(recipe, manifest, source, paths)
    folder = paths.artifact_dir(NAME, VERSION)
    assert (folder / "model.ubj").read_bytes() == b"MODEL"
    assert mode(folder / "model.ubj") == 0o444
    assert mode(folder / "run.py") == 0o544
    assert mode(folder) == 0o555
    assert sorted(p.name for p in folder.iterdir()) == ["model.ubj", "run.py"]  # no temporary files left


def test_execute_all_sets_every_execute_bit(env):
    source, paths = env
    put(source, "tool.sh", b"#!/bin/sh\necho ok\n")
    recipe, manifest = make_recipe({"URI": "s3://b/tool.sh", "Permission": {"Execute": "ALL"}})
    prepare_artifacts(recipe, manifest, source, paths)
    tool = paths.artifact_dir(NAME, VERSION) / "tool.sh"
    assert mode(tool) == 0o555
    assert subprocess.run([str(tool)], capture_output=True, text=True).stdout == "ok\n"


def test_digest_mismatch_names_file_expected_and_actual(env):
    source, paths = env
    model = put(source, "model.ubj", b"TAMPERED")
    expected = b64sha256(b"ORIGINAL")
    recipe, manifest = make_recipe({"URI": "s3://bucket/model.ubj", "Digest": expected, "Algorithm": "SHA-256"})
    with pytest.raises(ArtifactInstallError) as info:
        prepare_artifacts(recipe, manifest, source, paths)
    message = str(info.value)
    assert str(model) in message and f"expected {expected}" in message and f"actual {b64sha256(b'TAMPERED')}" in message
    assert not (paths.artifact_dir(NAME, VERSION) / "model.ubj").exists()


def test_missing_artifact_names_the_path_looked_for(env):
    source, paths = env
    recipe, manifest = make_recipe({"URI": "s3://bucket/a/b/weights.zip", "Unarchive": "ZIP"})
    with pytest.raises(ArtifactInstallError, match=f"looked for {source / NAME / VERSION / 'weights.zip'}"):
        prepare_artifacts(recipe, manifest, source, paths)


def test_duplicate_file_names_in_a_manifest_are_refused(env):
    source, paths = env
    put(source, "x.bin", b"x")
    recipe, manifest = make_recipe({"URI": "s3://one/x.bin"}, {"URI": "s3://two/x.bin"})
    with pytest.raises(ArtifactInstallError, match="share the file name 'x.bin'"):
        prepare_artifacts(recipe, manifest, source, paths)


def test_zip_is_unpacked_into_a_folder_named_after_it(env):
    source, paths = env
    data = make_zip(source / NAME / VERSION / "app.zip", {"app/main.py": b"print(1)\n", "README": b"r"})
    recipe, manifest = make_recipe({"URI": "s3://bucket/app.zip", "Unarchive": "ZIP", "Digest": b64sha256(data),
                                    "Permission": {"Execute": "OWNER"}})
    prepare_artifacts(recipe, manifest, source, paths)
    unpacked = paths.decompressed_dir(NAME, VERSION) / "app"
    assert (unpacked / "app" / "main.py").read_bytes() == b"print(1)\n"
    assert mode(unpacked / "app" / "main.py") == 0o544
    assert mode(unpacked / "app") == mode(unpacked) == mode(paths.decompressed_dir(NAME, VERSION)) == 0o555
    assert mode(paths.artifact_dir(NAME, VERSION) / "app.zip") == 0o544


@pytest.mark.parametrize("entries, symlinks, problem", [
    ({"../escape.txt": b"x"}, None, "climbs out with '..'"),
    ({"ok/../../escape.txt": b"x"}, None, "climbs out with '..'"),
    ({"/etc/escape.txt": b"x"}, None, "is an absolute path"),
    ({"fine.txt": b"x"}, {"link": "/etc/passwd"}, "is a symbolic link"),
])
def test_zip_slip_is_refused_naming_the_entry(env, tmp_path, entries, symlinks, problem):
    source, paths = env
    make_zip(source / NAME / VERSION / "evil.zip", entries, symlinks)
    recipe, manifest = make_recipe({"URI": "s3://bucket/evil.zip", "Unarchive": "ZIP"})
    with pytest.raises(ArtifactInstallError, match=problem) as info:
        prepare_artifacts(recipe, manifest, source, paths)
    bad = next(iter(symlinks or entries))
    assert f"entry {bad!r}" in str(info.value) and "evil.zip" in str(info.value)
    assert not (tmp_path / "escape.txt").exists() and not (paths.root / "escape.txt").exists()
    unpacked = paths.decompressed_dir(NAME, VERSION) / "evil"
    assert not unpacked.exists(), "nothing is unpacked from a refused archive"


def test_not_a_zip(env):
    source, paths = env
    put(source, "broken.zip", b"not a zip at all")
    recipe, manifest = make_recipe({"URI": "broken.zip", "Unarchive": "ZIP"})
    with pytest.raises(ArtifactInstallError, match="broken.zip: Unarchive is ZIP but the file is not a readable ZIP"):
        prepare_artifacts(recipe, manifest, source, paths)


def test_redeploying_the_same_version_replaces_files(env):
    source, paths = env
    put(source, "model.ubj", b"first")
    make_zip(source / NAME / VERSION / "app.zip", {"old.py": b"old"})
    recipe, manifest = make_recipe({"URI": "model.ubj"}, {"URI": "app.zip", "Unarchive": "ZIP"})
    prepare_artifacts(recipe, manifest, source, paths)
    put(source, "model.ubj", b"second")
    make_zip(source / NAME / VERSION / "app.zip", {"new.py": b"new"})
    prepare_artifacts(recipe, manifest, source, paths)
    assert (paths.artifact_dir(NAME, VERSION) / "model.ubj").read_bytes() == b"second"
    assert sorted(p.name for p in (paths.decompressed_dir(NAME, VERSION) / "app").iterdir()) == ["new.py"]
    assert mode(paths.artifact_dir(NAME, VERSION) / "model.ubj") == 0o444


def test_redeploy_and_read_only_hold_without_root_privileges(tmp_path):
    """File modes bind only without CAP_DAC_OVERRIDE, so run the scenario in a process without it."""
    script = textwrap.dedent(f"""
        import json, sys, zipfile
        from pathlib import Path
        from edgeloop.simulator.core.paths import CorePaths
        from edgeloop.simulator.core.recipes import parse_recipe, prepare_artifacts
        base = Path({str(tmp_path)!r})
        source = base / "in" / "{NAME}" / "{VERSION}"
        source.mkdir(parents=True)
        paths = CorePaths.at(base / "root")
        paths.ensure()
        recipe = parse_recipe(json.dumps({{"RecipeFormatVersion": "2020-01-25", "ComponentName": "{NAME}",
            "ComponentVersion": "{VERSION}", "Manifests": [{{"Artifacts": [
                {{"URI": "m.bin"}}, {{"URI": "app.zip", "Unarchive": "ZIP"}}]}}]}}), "r", "json")
        for content in (b"one", b"two"):
            (source / "m.bin").write_bytes(content)
            with zipfile.ZipFile(source / "app.zip", "w") as archive:
                archive.writestr("pkg/" + content.decode() + ".py", content)
            prepare_artifacts(recipe, recipe.manifests[0], base / "in", paths)
        placed = paths.artifact_dir("{NAME}", "{VERSION}") / "m.bin"
        assert placed.read_bytes() == b"two", placed.read_bytes()
        unpacked = paths.decompressed_dir("{NAME}", "{VERSION}") / "app" / "pkg"
        assert [p.name for p in unpacked.iterdir()] == ["two.py"], list(unpacked.iterdir())
        try:
            placed.write_bytes(b"changed by a component")
        except PermissionError:
            print("read-only")
        try:
            (placed.parent / "extra").write_bytes(b"x")
        except PermissionError:
            print("folder read-only")
    """)
    command = [sys.executable, "-c", script]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root and setpriv (util-linux) is missing: cannot drop CAP_DAC_OVERRIDE")
        command = [setpriv, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"] + command
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["read-only", "folder read-only"]


def test_no_artifact_directory(env):
    _, paths = env
    recipe, manifest = make_recipe()
    prepare_artifacts(recipe, manifest, None, paths)  # nothing to fetch: fine
    assert mode(paths.artifact_dir(NAME, VERSION)) == 0o555
    recipe, manifest = make_recipe({"URI": "s3://bucket/m.bin"})
    with pytest.raises(ArtifactInstallError, match="gave no artifact directory"):
        prepare_artifacts(recipe, manifest, None, paths)
