"""lambda_handler: 200 with the ranked list, 400 naming the field, 500 without a usable model."""

from __future__ import annotations

import json

import pytest

from edgeloop.components.digital_twin import handler

EVENT = {"flow": "[280, 300]", "pressure": "[69, 70]", "simulations": "10", "no_of_trials": "10",
         "train_error_weight": "1.0"}


@pytest.fixture()
def model_env(saved_model, monkeypatch):
    monkeypatch.setenv(handler.MODEL_ENV, str(saved_model))
    monkeypatch.setenv(handler.SEED_ENV, "4")
    return saved_model


def test_200_with_the_ranked_list(model_env):
    response = handler.lambda_handler(EVENT, None)
    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    assert len(body) == 11 and all(isinstance(v, float) for item in body for v in item.values())
    assert handler.lambda_handler(EVENT, None)["body"] == response["body"]   # seeded


def test_api_gateway_body_is_unwrapped(model_env):
    response = handler.lambda_handler({"body": json.dumps(EVENT), "headers": {}}, None)
    assert response["statusCode"] == 200


def test_400_names_the_field(model_env):
    response = handler.lambda_handler({**EVENT, "simulations": "many"}, None)
    assert response["statusCode"] == 400
    body = json.loads(response["body"])
    assert body["field"] == "simulations" and "'many' is not a number" in body["error"]


def test_500_when_the_model_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv(handler.MODEL_ENV, str(tmp_path / "nowhere"))
    response = handler.lambda_handler(EVENT, None)
    assert response["statusCode"] == 500 and "metadata.json" in json.loads(response["body"])["error"]
