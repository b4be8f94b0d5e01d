"""`edgeloop core start|deploy|status` — the local core device's command surface (after the Greengrass CLI)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from edgeloop.errors import CommandError
from edgeloop.simulator.core.errors import CoreNotRunning

from .client import CoreClient
from .launcher import follow_parent
from .nucleus import CoreOptions, run_core
from .paths import CorePaths
from .status import read_status, render_status


def _name_version(text: str) -> tuple[str, str]:
    name, sep, version = text.partition("=")
    if not sep or not name or not version:
        raise argparse.ArgumentTypeError(f"--merge takes NAME=VERSION, got {text!r}")
    return name, version


def _json_object(text: str) -> dict[str, Any]:
    if text.startswith("@"):
        text = Path(text[1:]).read_text()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"--update-config is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("--update-config must be a JSON object {component: {MERGE, RESET}}")
    return value


def register(core: argparse.ArgumentParser) -> None:
    """Fill the `core` command group."""
    core.description = "Run unmodified Greengrass v2 components on this machine."
    sub = core.add_subparsers(dest="core_command", metavar="ACTION", required=True)

    start = sub.add_parser("start", help="run the core device in the foreground")
    start.add_argument("--root", required=True, help="the core's root folder (state survives restarts)")
    start.add_argument("--thing-name", default="edgeloop-core", help="AWS IoT thing name (default %(default)s)")
    start.add_argument("--region", default="us-east-1", help="AWS_REGION given to components")
    start.add_argument("--mqtt-port", type=int, default=8883,
                       help="port of the embedded MQTT broker for client devices; 0 picks a free one")
    start.add_argument("--mqtt-host", default="127.0.0.1", help="interface the embedded broker listens on")
    start.add_argument("--mqtt-url", help="use this external broker (e.g. mqtt://127.0.0.1:1883) instead of the embedded one")
    start.add_argument("--no-broker", action="store_true", help="run without a broker for client devices")
    start.add_argument("--cloud-url", help="a broker standing in for AWS IoT Core, e.g. mqtt://127.0.0.1:1884")
    start.add_argument("--iot-endpoint", help="AWS IoT Core data endpoint (with --cert, --key, --ca)")
    start.add_argument("--cert", help="device certificate (PEM) for --iot-endpoint")
    start.add_argument("--key", help="private key (PEM) for --iot-endpoint")
    start.add_argument("--ca", help="root CA (PEM) for --iot-endpoint")
    start.add_argument("--recipe-dir", help="deploy at start: recipes folder")
    start.add_argument("--artifact-dir", help="deploy at start: artifacts folder (<name>/<version>/<files>)")
    start.add_argument("--merge", action="append", default=[], type=_name_version, metavar="NAME=VERSION",
                       help="deploy at start: root component to add or update (repeatable)")
    start.add_argument("--update-timeout", type=float, default=60.0,
                       help="seconds components have to answer an update notification (default %(default)s)")
    start.add_argument("--settle-timeout", type=float, default=120.0,
                       help="seconds a deployed component has to reach RUNNING or FINISHED (default %(default)s)")
    start.add_argument("--stable-time", type=float, default=3.0,
                       help="seconds a deployed component must stay up without an error for the deployment to "
                            "succeed (default %(default)s)")
    start.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    start.set_defaults(func=_start)

    deploy = sub.add_parser("deploy", help="create a local deployment on a running core")
    deploy.add_argument("--root", required=True)
    deploy.add_argument("--recipe-dir", help="folder of recipes (YAML or JSON)")
    deploy.add_argument("--artifact-dir", help="folder of artifacts: <ComponentName>/<version>/<files>")
    deploy.add_argument("--merge", action="append", default=[], type=_name_version, metavar="NAME=VERSION")
    deploy.add_argument("--remove", action="append", default=[], metavar="NAME")
    deploy.add_argument("--update-config", type=_json_object, metavar="JSON|@FILE",
                        help='{"com.example.X": {"MERGE": {...}, "RESET": ["/ptr"]}}')
    deploy.add_argument("--failure-policy", choices=["ROLLBACK", "DO_NOTHING"], default="ROLLBACK")
    deploy.add_argument("--wait", action="store_true", help="wait for the outcome; exit 1 with the reason if it fails")
    deploy.add_argument("--timeout", type=float, default=600.0, help="with --wait: give up after this long")
    deploy.set_defaults(func=_deploy)

    status = sub.add_parser("status", help="components, their states, and recent deployments")
    status.add_argument("--root", required=True)
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=_status)


def _start(args: argparse.Namespace) -> int:
    follow_parent()
    if args.iot_endpoint and not (args.cert and args.key and args.ca):
        raise CommandError("--iot-endpoint needs --cert, --key and --ca")
    options = CoreOptions(
        root=CorePaths.at(args.root), thing_name=args.thing_name, region=args.region,
        mqtt_host=args.mqtt_host, mqtt_port=None if args.no_broker else args.mqtt_port,
        mqtt_url=args.mqtt_url, cloud_url=args.cloud_url, iot_endpoint=args.iot_endpoint, cert=args.cert,
        key=args.key, ca=args.ca, recipe_dir=args.recipe_dir, artifact_dir=args.artifact_dir,
        merge=dict(args.merge), update_timeout_s=args.update_timeout, settle_timeout_s=args.settle_timeout,
        stable_s=args.stable_time,
        log_level=args.log_level)
    return run_core(options)


def _deploy(args: argparse.Namespace) -> int:
    if not (args.merge or args.remove or args.update_config):
        raise CommandError("nothing to do (give --merge, --remove or --update-config)")
    try:
        client = CoreClient(CorePaths.at(args.root))
    except CoreNotRunning as exc:
        raise CommandError(str(exc), 1) from None
    with client:
        deployment_id = client.create_deployment(
            recipe_dir=args.recipe_dir, artifact_dir=args.artifact_dir, merge=dict(args.merge),
            remove=args.remove, configuration=args.update_config or {}, failure_policy=args.failure_policy)
        print(f"deployment {deployment_id} queued")
        if not args.wait:
            return 0
        deployment = client.wait_for_deployment(deployment_id, timeout_s=args.timeout)
    status = deployment.get("status")
    details = deployment.get("deploymentStatusDetails", {})
    if status == "SUCCEEDED":
        print(f"deployment {deployment_id} SUCCEEDED")
        return 0
    cause = details.get("deploymentFailureCause", "no reason recorded")
    raise CommandError(f"deployment {deployment_id} {status} ({details.get('detailedDeploymentStatus', '?')}): "
                       f"{cause}", 1)


def _status(args: argparse.Namespace) -> int:
    paths = CorePaths.at(args.root)
    status = read_status(paths)
    if status is None:
        raise CommandError(f"no core has run under {paths.root}", 1)
    print(json.dumps(status, indent=2) if args.json else render_status(status))
    return 0
