"""Twin request/response contract: the envelope names its bad field and keeps the request id for the
reply; replies round-trip through encoder and parser."""

from __future__ import annotations

import json

import pytest

from edgeloop.contracts.errors import RequestError, ResponseError
from edgeloop.contracts.twin import (
    UNKNOWN_ID,
    PowerEstimate,
    TwinRequest,
    TwinResponse,
    encode_twin_request,
    encode_twin_response,
    parse_twin_request,
    parse_twin_response,
    request_id_of,
)

EVENT = {"flow": "[280, 300]", "pressure": "[69, 70]", "simulations": "10", "no_of_trials": "10",
         "train_error_weight": "1.0"}


def test_a_request_round_trips_in_both_shapes():
    request = TwinRequest("r-1", EVENT, 7)
    assert parse_twin_request(encode_twin_request(request)) == request
    flat = parse_twin_request(json.dumps({"request_id": "r-2", **EVENT}))
    assert flat == TwinRequest("r-2", EVENT, None)


@pytest.mark.parametrize("message, field, request_id", [
    ({"event": EVENT}, "request_id", None),
    ({"request_id": "a/b", "event": EVENT}, "request_id", None),
    ({"request_id": "r-1", "event": EVENT, "seed": -1}, "seed", "r-1"),
    ({"request_id": "r-1", "event": EVENT, "seed": True}, "seed", "r-1"),
    ({"request_id": "r-1", "event": EVENT, "flow": "[1, 2]"}, "flow", "r-1"),
    (b"\xff", "message", None),
])
def test_bad_envelopes_name_the_field_and_keep_the_id(message, field, request_id):
    with pytest.raises(RequestError) as exc:
        parse_twin_request(message)
    assert (exc.value.field, exc.value.request_id) == (field, request_id)


def test_request_id_of_never_raises():
    assert request_id_of(b'{"request_id": "r-9"}') == "r-9"
    assert request_id_of(b"not json") == UNKNOWN_ID
    assert request_id_of({"request_id": "../x"}) == UNKNOWN_ID
    assert request_id_of([1]) == UNKNOWN_ID


def test_replies_round_trip():
    answer = TwinResponse("r-1", "edgeloop-twin/3", "1.0.3", [{"c1c2": 55.1}, {"c1c3": 57.0}],
                          {"c1c2": PowerEstimate(55.1, 54.0, 56.2), "c1c3": PowerEstimate(57.0, None, None)}, ["c3c4"],
                          elapsed_ms=1.5)
    assert parse_twin_response(encode_twin_response(answer)) == answer
    failed = TwinResponse.failed(UNKNOWN_ID, "request_id", "missing")
    parsed = parse_twin_response(failed.body())
    assert parsed.error is not None and (parsed.error.field, parsed.error.problem) == ("request_id", "missing")
    assert failed.body() == {"request_id": UNKNOWN_ID, "error": {"field": "request_id", "problem": "missing"}}


@pytest.mark.parametrize("change, field", [
    ({"ranking": {"c1c2": 1}}, "ranking"),
    ({"estimates": {"c1c2": {"expected": "x"}}}, "estimates.c1c2.expected"),
    ({"excluded": "c3c4"}, "excluded"),
    ({"model_version": ""}, "model_version"),
    ({"request_id": "a b"}, "request_id"),
    ({"error": "boom"}, "error"),
])
def test_bad_replies_name_the_field(change, field):
    body = {"request_id": "r-1", "model_version": "m/1", "component_version": "1.0.0", "ranking": [],
            "estimates": {}, "excluded": [], **change}
    with pytest.raises(ResponseError) as exc:
        parse_twin_response(body)
    assert exc.value.field == field
