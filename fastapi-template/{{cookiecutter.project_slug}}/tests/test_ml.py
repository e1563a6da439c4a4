import asyncio
import math
import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.ml.model import load_model
from {{ cookiecutter.package_name }}.services.predictions import MicroBatcher


def assert_same_predictions(actual: list[dict], expected: list[dict]) -> None:
    """Same labels, and probabilities equal up to float32 rounding.

    ONNX Runtime's float32 kernels may round differently for a batch of another size, so
    the rows of a micro-batch can differ from a lone prediction in the seventh digit.
    """
    assert [p["label"] for p in actual] == [p["label"] for p in expected]
    for got, want in zip(actual, expected, strict=True):
        assert got["probabilities"] == pytest.approx(want["probabilities"], rel=1e-4, abs=1e-6)


def random_rows(count: int, seed: int = 0) -> list[list[float]]:
    generator = random.Random(seed)
    return [[float(generator.randint(0, 16)) for _ in range(64)] for _ in range(count)]


def test_models_are_listed(client: TestClient):
    response = client.get("/api/v1/models")

    assert response.status_code == 200
    assert response.json() == {"models": [load_model().describe()]}


def test_digits_model_is_described(client: TestClient):
    body = client.get("/api/v1/models/digits").json()

    assert body["name"] == "digits"
    assert body["input"] == {"shape": [64], "min": 0, "max": 16}
    assert body["classes"] == list(range(10))
    assert 0.9 < body["metrics"]["accuracy"] <= 1


def test_predictions_match_the_model(client: TestClient):
    rows = random_rows(5)

    response = client.post("/api/v1/models/digits/predict", json={"inputs": rows})

    assert response.status_code == 200
    body = response.json()
    model = load_model()
    assert (body["model"], body["version"]) == ("digits", model.version)
    assert body["predictions"] == model.predict(rows)
    for prediction in body["predictions"]:
        assert len(prediction["probabilities"]) == 10
        assert math.isclose(sum(prediction["probabilities"]), 1, abs_tol=1e-4)


def test_invalid_inputs_are_422_down_to_row_and_column(client: TestClient):
    rows = random_rows(3)
    rows[1][7] = 17
    rows[2] = rows[2][:63]

    response = client.post("/api/v1/models/digits/predict", json={"inputs": rows})

    assert response.status_code == 422
    locs = [error["loc"] for error in response.json()["errors"]]
    assert ["body", "inputs", 1, 7] in locs
    assert ["body", "inputs", 2] in locs


@pytest.mark.parametrize(
    "inputs",
    [[], random_rows(257), [["3"] * 64], [[True] * 64], "rows", [[-1] * 64]],
    ids=["empty", "too-many-rows", "strings", "booleans", "not-a-list", "negative"],
)
def test_malformed_inputs_are_422(client: TestClient, inputs):
    response = client.post("/api/v1/models/digits/predict", json={"inputs": inputs})

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_micro_batching_gives_identical_results_over_http(make_client):
    client = make_client(ml_batching=True, ml_batch_max_rows=16, ml_batch_wait_ms=20)
    requests = [random_rows(count, seed=count) for count in (1, 3, 5, 7, 9, 2)]

    def predict(rows):
        return client.post("/api/v1/models/digits/predict", json={"inputs": rows}).json()

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        responses = list(pool.map(predict, requests))

    model = load_model()
    for rows, body in zip(requests, responses, strict=True):
        assert_same_predictions(body["predictions"], model.predict(rows))


class CountingModel:
    """The real model, counting how many times it is called."""

    def __init__(self) -> None:
        self.model = load_model()
        self.calls: list[int] = []

    def predict(self, rows):
        self.calls.append(len(rows))
        return self.model.predict(rows)


def test_micro_batcher_groups_concurrent_requests():
    counting = CountingModel()
    requests = [random_rows(count, seed=count) for count in (2, 3, 4, 5, 30)]

    async def run():
        batcher = MicroBatcher(counting, max_rows=16, wait_ms=50)
        await batcher.start()
        try:
            return await asyncio.gather(*(batcher.predict(rows) for rows in requests))
        finally:
            await batcher.stop()

    results = asyncio.run(run())

    for rows, predictions in zip(requests, results, strict=True):
        assert_same_predictions(predictions, counting.model.predict(rows))
    # 2+3+4+5 rows share one call; 30 rows exceed the batch size and run alone.
    assert counting.calls == [14, 30]
