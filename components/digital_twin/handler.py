"""`lambda_handler(event, context)`: the reference's Lambda entry point, same event, same answer.

The model directory comes from the environment variable EDGELOOP_TWIN_MODEL (a verified artifact
directory); it is loaded once per process and kept warm, as a Lambda container would. An API
Gateway proxy event (a JSON string under "body") is unwrapped first.
"""

from __future__ import annotations

import json
import os
from typing import Any

from edgeloop.contracts.errors import RequestError
from edgeloop.errors import ArtifactError

from .model import PowerModel
from .optimizer import Optimizer
from .request import parse_request

MODEL_ENV = "EDGELOOP_TWIN_MODEL"
SEED_ENV = "EDGELOOP_TWIN_SEED"
_optimizers: dict[str, Optimizer] = {}


def _optimizer(directory: str) -> Optimizer:
    if directory not in _optimizers:
        _optimizers[directory] = Optimizer(PowerModel.load(directory))
    return _optimizers[directory]


def _response(status: int, body: Any) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def lambda_handler(event: Any, context: Any = None) -> dict[str, Any]:
    """200 with the ranked list `[{config: energy_per_sample}, ...]`; 400 naming a bad field;
    500 when the model cannot be loaded."""
    if isinstance(event, dict) and isinstance(event.get("body"), str) and "flow" not in event:
        event = event["body"]
    try:
        request = parse_request(event)
    except RequestError as exc:
        return _response(400, {"error": str(exc), "field": exc.field})
    directory = os.environ.get(MODEL_ENV)
    if not directory:
        return _response(500, {"error": f"{MODEL_ENV} is not set to a twin model directory"})
    try:
        optimizer = _optimizer(directory)
    except ArtifactError as exc:
        return _response(500, {"error": str(exc)})
    seed_text = os.environ.get(SEED_ENV)
    seed = int(seed_text) if seed_text and seed_text.lstrip("-").isdigit() else None
    return _response(200, optimizer.rank(request, seed).answer())
