"""`python -m edgeloop.components.packaging`: build edgeloop's Greengrass components.

A GDK custom build runs the first form in its project folder (gdk-config.json):

    python -m edgeloop.components.packaging gdk-build [--project DIR]
    python -m edgeloop.components.packaging component NAME --version V --recipe-dir R --artifact-dir A
    python -m edgeloop.components.packaging model NAME --model-dir M --version V --model-version REF \\
        --recipe-dir R --artifact-dir A
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from edgeloop.components.errors import PackagingError

from . import DEFAULT_MODEL_REQUIREMENT, build_inference_component, build_model_component
from .catalogue import gdk_build, inference_kinds, model_kinds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edgeloop.components.packaging",
                                     description="Build edgeloop's Greengrass components.")
    sub = parser.add_subparsers(dest="command", required=True)
    gdk = sub.add_parser("gdk-build", help="the GDK custom build (reads gdk-config.json and recipe.yaml)")
    gdk.add_argument("--project", type=Path, default=Path.cwd(), help="folder with gdk-config.json")
    component = sub.add_parser("component", help="build an inference component from its recipe template")
    model = sub.add_parser("model", help="build a model component from a model directory")
    component.add_argument("name", help="e.g. com.edgeloop.DigitalTwin or com.edgeloop.EcgPrefilter")
    model.add_argument("name", help="e.g. com.edgeloop.TwinModel or com.edgeloop.EcgModel")
    for command in (component, model):
        command.add_argument("--version", required=True)
        command.add_argument("--recipe-dir", type=Path, required=True)
        command.add_argument("--artifact-dir", type=Path, required=True)
    component.add_argument("--model-requirement", default=DEFAULT_MODEL_REQUIREMENT)
    model.add_argument("--model-dir", type=Path, required=True)
    model.add_argument("--model-version", required=True, help="registry model version, e.g. edgeloop-twin/3")
    args = parser.parse_args(argv)
    try:
        if args.command == "gdk-build":
            recipe = gdk_build(args.project)
        else:
            kinds: Mapping[str, Any] = inference_kinds() if args.command == "component" else model_kinds()
            if args.name not in kinds:
                raise PackagingError(f"unknown {args.command} {args.name!r}; known: {', '.join(sorted(kinds))}")
            if args.command == "component":
                recipe = build_inference_component(kinds[args.name], args.version, args.recipe_dir,
                                                   args.artifact_dir, model_requirement=args.model_requirement)
            else:
                recipe = build_model_component(kinds[args.name], args.model_dir, args.version, args.recipe_dir,
                                               args.artifact_dir, model_version=args.model_version)
    except PackagingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {recipe}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
