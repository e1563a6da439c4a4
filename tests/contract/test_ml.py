"""ML inference: the digits model, its description, and predictions equal to the shipped ONNX."""

import math
import random

import numpy as np
import pytest

from tests.contract.harness import assert_problem, assert_validation_error

MODELS = "/api/v1/models"
DIGITS = "/api/v1/models/digits"
PREDICT = "/api/v1/models/digits/predict"


def rows(count: int, seed: int = 7, integers: bool = True) -> list[list[float]]:
    rng = random.Random(seed)
    if integers:
        return [[rng.randint(0, 16) for _ in range(64)] for _ in range(count)]
    return [[round(rng.uniform(0, 16), 3) for _ in range(64)] for _ in range(count)]


@pytest.fixture(scope="module")
def onnx_session(service):
    import onnxruntime

    return onnxruntime.InferenceSession(str(service.model_path), providers=["CPUExecutionProvider"])


def run_onnx(session, inputs: list[list[float]]) -> tuple[list[int], np.ndarray]:
    feed = {session.get_inputs()[0].name: np.asarray(inputs, dtype=np.float32)}
    label, probabilities = session.run(["label", "probabilities"], feed)
    return [int(x) for x in np.asarray(label).ravel()], np.asarray(probabilities, dtype=np.float64)


def test_models_lists_digits(client):
    response = client.get(MODELS)
    assert response.status_code == 200
    body = response.json()
    models = body["models"] if isinstance(body, dict) else body
    assert isinstance(models, list)
    names = [model["name"] if isinstance(model, dict) else model for model in models]
    assert "digits" in names


def test_digits_description(client):
    response = client.get(DIGITS)
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"name", "version", "input", "classes", "metrics"}
    assert body["name"] == "digits"
    assert isinstance(body["version"], str) and body["version"]
    assert body["input"] == {"shape": [64], "min": 0, "max": 16}
    assert body["classes"] == list(range(10))
    accuracy = body["metrics"]["accuracy"]
    assert isinstance(accuracy, float) and 0.8 < accuracy <= 1.0


def test_unknown_model_is_404(client):
    assert_problem(client.get(f"{MODELS}/cats"), 404)
    assert_problem(client.post(f"{MODELS}/cats/predict", json={"inputs": rows(1)}), 404)


@pytest.mark.parametrize(("count", "integers"), [(1, True), (17, True), (256, True), (9, False)])
def test_predictions_equal_the_shipped_onnx_model(client, onnx_session, count, integers):
    inputs = rows(count, seed=count, integers=integers)
    response = client.post(PREDICT, json={"inputs": inputs})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "digits"
    assert body["version"] == client.get(DIGITS).json()["version"]
    predictions = body["predictions"]
    assert len(predictions) == count
    labels, probabilities = run_onnx(onnx_session, inputs)
    for row, prediction in enumerate(predictions):
        assert set(prediction) == {"label", "probabilities"}
        assert prediction["label"] == labels[row]
        assert isinstance(prediction["label"], int) and 0 <= prediction["label"] <= 9
        assert len(prediction["probabilities"]) == 10
        assert math.isclose(sum(prediction["probabilities"]), 1.0, abs_tol=1e-4)
        assert all(0.0 <= p <= 1.0 for p in prediction["probabilities"])
        assert np.allclose(prediction["probabilities"], probabilities[row], atol=1e-5)


def test_predictions_keep_the_row_order(client):
    inputs = rows(6, seed=99)
    forward = client.post(PREDICT, json={"inputs": inputs}).json()["predictions"]
    backward = client.post(PREDICT, json={"inputs": inputs[::-1]}).json()["predictions"]
    assert forward == backward[::-1]


def test_a_blank_and_a_saturated_image_are_valid(client):
    response = client.post(PREDICT, json={"inputs": [[0] * 64, [16] * 64, [8.5] * 64]})
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == 3


@pytest.mark.parametrize(
    ("body", "locs"),
    [
        ({"inputs": []}, [["body", "inputs"]]),
        ({"inputs": rows(257)}, [["body", "inputs"]]),
        ({}, [["body", "inputs"]]),
        ({"inputs": None}, [["body", "inputs"]]),
        ({"inputs": "pixels"}, [["body", "inputs"]]),
        ({"inputs": [1, 2, 3]}, [["body", "inputs", 0]]),
        ({"inputs": [[0] * 63]}, [["body", "inputs", 0]]),
        ({"inputs": [[0] * 64, [0] * 65]}, [["body", "inputs", 1]]),
        ({"inputs": [[0] * 64, [0] * 5 + [17] + [0] * 58]}, [["body", "inputs", 1, 5]]),
        ({"inputs": [[0] * 63 + [-0.5]]}, [["body", "inputs", 0, 63]]),
        ({"inputs": [[0] * 10 + ["x"] + [0] * 53]}, [["body", "inputs", 0, 10]]),
        ({"inputs": [[0] * 10 + [None] + [0] * 53]}, [["body", "inputs", 0, 10]]),
        ({"inputs": [[0] * 10 + [[1]] + [0] * 53]}, [["body", "inputs", 0, 10]]),
        ({"inputs": rows(1), "extra": 1}, [["body", "extra"]]),
        (
            {"inputs": [[0] * 64, [0] * 3 + [99] + [0] * 60, [0] * 64, [0] * 40 + [-1] + [0] * 23]},
            [["body", "inputs", 1, 3], ["body", "inputs", 3, 40]],
        ),
    ],
    ids=[
        "no-rows",
        "257-rows",
        "missing-inputs",
        "null-inputs",
        "string-inputs",
        "flat-list",
        "short-row",
        "long-row",
        "value-17",
        "value-negative",
        "value-string",
        "value-null",
        "value-list",
        "unknown-field",
        "two-bad-cells",
    ],
)
def test_invalid_prediction_input_is_422_down_to_row_and_column(client, body, locs):
    assert_validation_error(client.post(PREDICT, json=body), *locs)


def test_256_rows_is_the_largest_accepted_batch(client):
    assert client.post(PREDICT, json={"inputs": rows(256)}).status_code == 200
    assert_validation_error(client.post(PREDICT, json={"inputs": rows(257)}), ["body", "inputs"])
