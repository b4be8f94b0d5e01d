"""The local core device end to end: a real `edgeloop core start` process, components that use the
unmodified awsiotsdk IPC client, deployments through `edgeloop core deploy`."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import sys
import time
import zipfile
from pathlib import Path

from tests.kits.core import ComponentKit, RunningCore, wait_for

HERE = Path(__file__).parent / "components"


def script(name: str) -> str:
    return (HERE / name).read_text()


def read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def pubsub_policy(name: str, publish: list[str], subscribe: list[str]) -> dict:
    policies = {}
    if publish:
        policies[f"{name}:pub"] = {"operations": ["aws.greengrass#PublishToTopic"], "resources": publish}
    if subscribe:
        policies[f"{name}:sub"] = {"operations": ["aws.greengrass#SubscribeToTopic"], "resources": subscribe}
    return {"aws.greengrass.ipc.pubsub": policies}


def echo_component(kit: ComponentKit, name: str, version: str = "1.0.0", *, inp: str, out: str,
                   extra_config: dict | None = None, access: dict | None = None, **kwargs) -> Path:
    config = {"in": inp, "out": out, "accessControl": access or pubsub_policy(name, [out], [inp])}
    config.update(extra_config or {})
    return kit.component(name, version, script=script("echo.py"), config=config, **kwargs)


def test_two_components_talk_over_local_pubsub(core: RunningCore, kit: ComponentKit) -> None:
    # Ping and Pong answer each other; each answers two messages, so the exchange ends:
    # kick -> Pong -> Ping -> Pong -> Ping -> Pong (third message, not answered).
    bounded = {"maxReplies": 2}
    echo_component(kit, "com.test.Ping", inp="test/pong", out="test/ping/start", extra_config=bounded)
    echo_component(kit, "com.test.Pong", inp="test/ping/+", out="test/pong", extra_config=bounded)
    # A third component starts the exchange once: it publishes to test/ping/x via its own script.
    kit.component("com.test.Kick", script=(
        "import time\n"
        "from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2\n"
        "from awsiot.greengrasscoreipc.model import PublishMessage, JsonMessage\n"
        "ipc = GreengrassCoreIPCClientV2()\n"
        "ipc.publish_to_topic(topic='test/ping/x', publish_message=PublishMessage(json_message=JsonMessage(message={'n': 1})))\n"),
        config={"accessControl": pubsub_policy("com.test.Kick", ["test/ping/x"], [])},
        dependencies={"com.test.Pong": {"VersionRequirement": "^1.0.0", "DependencyType": "HARD"}},
        lifecycle={"Run": f"sleep 1 && {sys.executable} -u {{artifacts:path}}/main.py"})
    core.deploy(kit, {"com.test.Ping": "1.0.0", "com.test.Pong": "1.0.0", "com.test.Kick": "1.0.0"})
    pong_seen = core.paths.work_dir("com.test.Pong") / "seen.jsonl"
    ping_seen = core.paths.work_dir("com.test.Ping") / "seen.jsonl"
    wait_for(lambda: len(read_jsonl(pong_seen)) == 3, what="Pong to receive the kick and two echoes")
    pong_got = read_jsonl(pong_seen)
    assert pong_got[0] == {"topic": "test/ping/x", "payload": {"n": 1}}
    assert [m["topic"] for m in pong_got[1:]] == ["test/ping/start", "test/ping/start"]
    ping_got = read_jsonl(ping_seen)
    assert len(ping_got) == 2
    echoed = ping_got[0]
    assert echoed["topic"] == "test/pong"
    assert echoed["payload"]["echo"] == {"n": 1}
    assert echoed["payload"]["thing"] == "edgeloop-core"
    # The last message Pong saw carries the whole exchange, four replies deep around the kick.
    assert pong_got[2]["payload"]["echo"]["echo"]["echo"]["echo"] == {"n": 1}
    core.wait_state("com.test.Kick", "FINISHED")
    assert core.state("com.test.Ping") == "RUNNING"
    # Nothing more arrives once both have used their replies.
    time.sleep(0.5)
    assert len(read_jsonl(pong_seen)) == 3 and len(read_jsonl(ping_seen)) == 2


def test_unauthorized_publish_is_refused_with_a_typed_error(core: RunningCore, kit: ComponentKit) -> None:
    kit.component("com.test.Sneaky", script=(
        "from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2\n"
        "from awsiot.greengrasscoreipc.model import PublishMessage, JsonMessage, UnauthorizedError\n"
        "ipc = GreengrassCoreIPCClientV2()\n"
        "ipc.publish_to_topic(topic='allowed/x', publish_message=PublishMessage(json_message=JsonMessage(message=1)))\n"
        "try:\n"
        "    ipc.publish_to_topic(topic='secret/x', publish_message=PublishMessage(json_message=JsonMessage(message=1)))\n"
        "    open('result', 'w').write('allowed')\n"
        "except UnauthorizedError as e:\n"
        "    open('result', 'w').write('refused: ' + e.message)\n"),
        config={"accessControl": pubsub_policy("com.test.Sneaky", ["allowed/*"], [])})
    core.deploy(kit, {"com.test.Sneaky": "1.0.0"})
    core.wait_state("com.test.Sneaky", "FINISHED")
    result = (core.paths.work_dir("com.test.Sneaky") / "result").read_text()
    assert result.startswith("refused: ")
    assert "com.test.Sneaky" in result and "secret/x" in result


def test_crashing_component_is_restarted_then_broken(core: RunningCore, kit: ComponentKit) -> None:
    kit.component("com.test.Crasher", script=script("crasher.py"), config={"exitCode": 3})
    result = core.deploy(kit, {"com.test.Crasher": "1.0.0"}, failure_policy="DO_NOTHING", expect_success=False)
    assert result.returncode == 1
    assert "com.test.Crasher" in result.stderr and "BROKEN" in result.stderr
    core.wait_state("com.test.Crasher", "BROKEN")
    starts = (core.paths.work_dir("com.test.Crasher") / "starts").read_text().split()
    assert len(starts) == 3  # the first run and two restarts
    log = core.component_log("com.test.Crasher")
    assert "Run exited 3" in log


def test_failed_deployment_rolls_back_to_the_previous_version(core: RunningCore, kit: ComponentKit) -> None:
    echo_component(kit, "com.test.Svc", "1.0.0", inp="svc/in", out="svc/out")
    core.deploy(kit, {"com.test.Svc": "1.0.0"})
    core.wait_state("com.test.Svc", "RUNNING")
    kit.component("com.test.Svc", "2.0.0", script=script("crasher.py"), config={"exitCode": 2, "runFor": 0})
    result = core.deploy(kit, {"com.test.Svc": "2.0.0"}, expect_success=False)
    assert result.returncode == 1
    assert "FAILED_ROLLBACK_COMPLETE" in result.stderr
    status = core.status()
    svc = [c for c in status["components"] if c["name"] == "com.test.Svc"][0]
    assert svc["version"] == "1.0.0" and svc["state"] == "RUNNING"
    assert status["roots"]["com.test.Svc"] == "1.0.0"
    # the restored version serves again: its configuration is the 1.0.0 one
    assert (core.paths.work_dir("com.test.Svc") / "ready").exists()


def test_bad_recipe_is_refused_naming_file_field_and_problem(core: RunningCore, kit: ComponentKit) -> None:
    path = kit.component("com.test.Bad", script="print('hi')\n",
                         lifecycle={"Run": {"Script": "echo hi", "Timeout": "ten"}})
    result = core.deploy(kit, {"com.test.Bad": "1.0.0"}, expect_success=False)
    assert result.returncode == 1
    assert path.name in result.stderr
    assert "Timeout" in result.stderr
    assert "FAILED_NO_STATE_CHANGE" in result.stderr
    assert core.state("com.test.Bad") is None


def test_digest_mismatch_is_refused(core: RunningCore, kit: ComponentKit) -> None:
    wrong = base64.b64encode(hashlib.sha256(b"something else").digest()).decode()
    kit.component("com.test.Tampered", lifecycle={"Run": "cat {artifacts:path}/model.bin"},
                  artifacts=[{"URI": "s3://b/com.test.Tampered/1.0.0/model.bin", "Digest": wrong, "Algorithm": "SHA-256"}],
                  extra_files={"model.bin": b"the real model"})
    result = core.deploy(kit, {"com.test.Tampered": "1.0.0"}, expect_success=False)
    assert result.returncode == 1
    assert "model.bin" in result.stderr and "digest" in result.stderr.lower()
    assert core.state("com.test.Tampered") is None


def test_zip_artifact_is_unarchived_and_read_only(core: RunningCore, kit: ComponentKit, short_tmp: Path) -> None:
    bundle = short_tmp / "bundle.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.writestr("model/weights.txt", "42")
    digest = base64.b64encode(hashlib.sha256(bundle.read_bytes()).digest()).decode()
    kit.component("com.test.Model", lifecycle={
        "Install": "test -r {artifacts:decompressedPath}/bundle/model/weights.txt",
        "Run": "cp {artifacts:decompressedPath}/bundle/model/weights.txt copied.txt; "
               "touch {artifacts:path}/bundle.zip 2>/dev/null && echo writable > perm.txt || echo readonly > perm.txt"},
        artifacts=[{"URI": "s3://b/bundle.zip", "Unarchive": "ZIP", "Digest": digest, "Algorithm": "SHA-256"}],
        extra_files={"bundle.zip": bundle.read_bytes()})
    core.deploy(kit, {"com.test.Model": "1.0.0"})
    core.wait_state("com.test.Model", "FINISHED")
    work = core.paths.work_dir("com.test.Model")
    assert (work / "copied.txt").read_text() == "42"
    import os
    if os.geteuid() != 0:  # root ignores file modes; the mode bits are checked below instead
        assert (work / "perm.txt").read_text().strip() == "readonly"
    mode = (core.paths.artifact_dir("com.test.Model", "1.0.0") / "bundle.zip").stat().st_mode & 0o777
    assert mode & 0o222 == 0


def test_configuration_updates_reach_the_component_and_updates_can_be_deferred(core: RunningCore, kit: ComponentKit) -> None:
    kit.component("com.test.Watcher", script=script("watcher.py"), config={"threshold": 1, "mode": "a"})
    core.deploy(kit, {"com.test.Watcher": "1.0.0"})
    work = core.paths.work_dir("com.test.Watcher")
    wait_for(lambda: (work / "ready").exists(), what="watcher ready")
    core.deploy(update_config={"com.test.Watcher": {"MERGE": {"threshold": 5}}})
    events = wait_for(lambda: [e for e in read_jsonl(work / "events.jsonl") if "config" in e], what="config event")
    assert events[0]["config"] == ["threshold"]
    assert events[0]["value"] == {"threshold": 5}
    # A new version of another component: the watcher hears of it first, defers once, then lets it go.
    kit.component("com.test.Other", lifecycle={"Run": "echo other"})
    core.deploy(kit, {"com.test.Other": "1.0.0"})
    updates = read_jsonl(work / "events.jsonl")
    pre = [e["pre"] for e in updates if "pre" in e]
    assert len(pre) >= 2 and len(set(pre)) == 1  # asked, deferred, asked again
    wait_for(lambda: any("post" in e for e in read_jsonl(work / "events.jsonl")), what="post-update event")


def test_components_come_back_after_a_core_restart(core_factory, kit: ComponentKit, short_tmp: Path) -> None:
    root = short_tmp / "root"
    core = core_factory(root=root)
    echo_component(kit, "com.test.Persistent", inp="p/in", out="p/out",
                   lifecycle={"Install": "echo installed >> installs.txt",
                              "Run": f"{__import__('sys').executable} -u {{artifacts:path}}/main.py",
                              "Shutdown": "echo shutdown >> shutdowns.txt"})
    core.deploy(kit, {"com.test.Persistent": "1.0.0"})
    core.wait_state("com.test.Persistent", "RUNNING")
    assert core.stop() == 0
    work = core.paths.work_dir("com.test.Persistent")
    assert (work / "shutdowns.txt").read_text().split() == ["shutdown"]
    again = core_factory(root=root)
    again.wait_state("com.test.Persistent", "RUNNING")
    assert (work / "installs.txt").read_text().split() == ["installed", "installed"]


def test_hard_dependency_restart_restarts_dependents(core: RunningCore, kit: ComponentKit) -> None:
    kit.component("com.test.Base", lifecycle={"Run": "echo base >> runs.txt; sleep 3600"})
    kit.component("com.test.Dependent", lifecycle={"Run": "echo dependent >> runs.txt; sleep 3600"},
                  dependencies={"com.test.Base": {"VersionRequirement": ">=1.0.0 <2.0.0", "DependencyType": "HARD"}})
    core.deploy(kit, {"com.test.Dependent": "1.0.0"})
    core.wait_state("com.test.Base", "RUNNING")
    core.wait_state("com.test.Dependent", "RUNNING")
    # Restart the dependency over IPC, as the CLI identity does.
    from edgeloop.simulator.core.client import CoreClient
    with CoreClient(core.paths) as client:
        client.client.restart_component(component_name="com.test.Base")
    dep_runs = core.paths.work_dir("com.test.Dependent") / "runs.txt"
    wait_for(lambda: dep_runs.read_text().split() == ["dependent", "dependent"], what="dependent restarted")
    core.wait_state("com.test.Dependent", "RUNNING")


def test_malformed_ipc_frames_do_not_disturb_the_core(core: RunningCore, kit: ComponentKit) -> None:
    echo_component(kit, "com.test.Steady", inp="s/in", out="s/out")
    core.deploy(kit, {"com.test.Steady": "1.0.0"})
    core.wait_state("com.test.Steady", "RUNNING")
    for garbage in (b"\x00\x00\x00\x10" + b"\x00" * 12, b"\xff" * 64, (2**31).to_bytes(4, "big") + b"\x00" * 8):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(core.paths.ipc_socket))
            sock.sendall(garbage)
            try:
                reply = sock.recv(4096)
            except TimeoutError:
                reply = b""
            assert reply  # a protocol error frame, then the connection closes
    from edgeloop.simulator.core.client import CoreClient
    with CoreClient(core.paths) as client:
        names = [c.component_name for c in client.client.list_components().components]
    assert "com.test.Steady" in names
    assert core.state("com.test.Steady") == "RUNNING"
    assert core.proc.poll() is None


def test_status_command_shows_components_and_deployments(core: RunningCore, kit: ComponentKit) -> None:
    kit.component("com.test.Quick", lifecycle={"Run": "echo done"})
    core.deploy(kit, {"com.test.Quick": "1.0.0"})
    core.wait_state("com.test.Quick", "FINISHED")
    text = core.cli("core", "status", "--root", str(core.root))
    assert text.returncode == 0
    assert "com.test.Quick" in text.stdout and "FINISHED" in text.stdout and "SUCCEEDED" in text.stdout
    as_json = json.loads(core.cli("core", "status", "--root", str(core.root), "--json").stdout)
    assert as_json["running"] is True
    assert as_json["deployments"][-1]["status"] == "SUCCEEDED"


def test_deploy_without_a_running_core_says_so(short_tmp: Path) -> None:
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-m", "edgeloop.cli", "core", "deploy", "--root", str(short_tmp / "nope"),
                             "--merge", "a=1.0.0"], capture_output=True, text=True)
    assert result.returncode == 1
    assert "no core is running" in result.stderr


def test_configuration_used_in_the_lifecycle_restarts_the_component(core: RunningCore, kit: ComponentKit) -> None:
    kit.component("com.test.Greeter", config={"greeting": "hello"},
                  lifecycle={"Run": "echo {configuration:/greeting} >> said.txt; sleep 3600"})
    core.deploy(kit, {"com.test.Greeter": "1.0.0"})
    said = core.paths.work_dir("com.test.Greeter") / "said.txt"
    wait_for(lambda: said.exists() and said.read_text().split() == ["hello"], what="first greeting")
    core.deploy(update_config={"com.test.Greeter": {"MERGE": {"greeting": "bonjour"}}})
    wait_for(lambda: said.read_text().split() == ["hello", "bonjour"], what="restart with the new greeting")
    core.deploy(update_config={"com.test.Greeter": {"RESET": ["/greeting"]}})
    wait_for(lambda: said.read_text().split() == ["hello", "bonjour", "hello"], what="reset to the default")


def test_deploy_at_start_startup_shutdown_setenv_skipif_and_remove(core_factory, kit: ComponentKit) -> None:
    kit.component("com.test.Daemon", config={"word": "hi"}, lifecycle={
        "Setenv": {"GREETING": "{configuration:/word}"},
        "Install": {"Script": "echo never > skipped.txt", "Skipif": "onpath sh"},
        "Startup": {"Script": "(while true; do sleep 1; done) & echo $! > daemon.pid; echo $GREETING-$LEVEL > env.txt",
                    "Setenv": {"LEVEL": "startup"}},
        "Shutdown": "kill $(cat daemon.pid); echo stopped > shutdown.txt"})
    core = core_factory("--recipe-dir", str(kit.recipe_dir), "--artifact-dir", str(kit.artifact_dir),
                        "--merge", "com.test.Daemon=1.0.0")
    core.wait_state("com.test.Daemon", "RUNNING")
    work = core.paths.work_dir("com.test.Daemon")
    assert (work / "env.txt").read_text().strip() == "hi-startup"
    assert not (work / "skipped.txt").exists()
    pid = int((work / "daemon.pid").read_text())
    import os
    os.kill(pid, 0)  # the background process a Startup step leaves behind keeps running
    core.deploy(remove=["com.test.Daemon"])
    assert core.state("com.test.Daemon") is None
    assert (work / "shutdown.txt").read_text().strip() == "stopped"
    wait_for(lambda: not _alive(pid), what="the daemon to be gone")


def _alive(pid: int) -> bool:
    import os
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its new parent) counts as gone
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False
