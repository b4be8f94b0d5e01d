"""The request event parser: the reference's strings, JSON numbers, and each malformed field named."""

from __future__ import annotations

import pytest

from edgeloop.components.digital_twin.request import Request, parse_request
from edgeloop.contracts.errors import RequestError

EVENT = {"flow": "[280, 300]", "pressure": "[69, 70]", "simulations": "10", "no_of_trials": "10",
         "train_error_weight": "1.0"}


def test_reference_event_with_strings():
    assert parse_request(EVENT) == Request((280.0, 300.0), (69.0, 70.0), 10, 10, 1.0)


def test_numbers_lists_and_json_text():
    assert parse_request({"flow": [280, 300], "pressure": [69.5, 70], "simulations": 10, "no_of_trials": 10.0,
                          "train_error_weight": 0}) == Request((280, 300), (69.5, 70), 10, 10, 0.0)
    assert parse_request('{"flow": "[1, 2]", "pressure": "[3, 4]"}') == Request((1, 2), (3, 4), 100, 10, 1.0)


@pytest.mark.parametrize("field,value,problem", [
    ("flow", "[300, 280]", "above high"),
    ("flow", "280-300", "not a range"),
    ("flow", "[1, 2, 3]", "expected [low, high]"),
    ("pressure", "[69, \"x\"]", "not a number"),
    ("pressure", [-1, 3], "negative"),
    ("simulations", "ten", "not a number"),
    ("simulations", "10.5", "not a whole number"),
    ("simulations", "0", "out of range"),
    ("no_of_trials", True, "expected a number"),
    ("train_error_weight", "inf", "not a finite number"),
    ("train_error_weight", None, "expected a number"),
])
def test_each_malformed_field_is_named(field, value, problem):
    with pytest.raises(RequestError) as err:
        parse_request({**EVENT, field: value})
    assert err.value.field == field and problem in err.value.problem
    assert str(err.value).startswith(f"{field}: ")


def test_missing_and_unknown_fields():
    with pytest.raises(RequestError) as err:
        parse_request({"pressure": "[69, 70]"})
    assert err.value.field == "flow" and err.value.problem == "missing"
    with pytest.raises(RequestError) as err:
        parse_request({**EVENT, "no_of_trial": "3"})
    assert err.value.field == "no_of_trial"
    with pytest.raises(RequestError) as err:
        parse_request("[1, 2]")
    assert err.value.field == "event"


def test_work_per_request_is_bounded():
    with pytest.raises(RequestError) as err:
        parse_request({**EVENT, "simulations": "100000", "no_of_trials": "1000"})
    assert err.value.field == "no_of_trials"
