import asyncio
import math
import random
import threading
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
    """The real model, counting how many rows each call gets; `gate`, once cleared, holds
    every call until it is set again."""

    def __init__(self) -> None:
        self.model = load_model()
        self.calls: list[int] = []
        self.called = threading.Event()
        self.gate = threading.Event()
        self.gate.set()

    def predict(self, rows):
        self.calls.append(len(rows))
        self.called.set()
        assert self.gate.wait(5), "the test never opened the gate"
        return self.model.predict(rows)

    async def first_call(self) -> None:
        assert await asyncio.to_thread(self.called.wait, 5), "the model was never called"


class FailingModel:
    def __init__(self) -> None:
        self.failures = 1

    def predict(self, rows):
        if self.failures:
            self.failures -= 1
            raise RuntimeError("model failure")
        return load_model().predict(rows)


def predict_all(model, requests: list, max_rows: int, wait_ms: float) -> list:
    """Each request's predictions, all asked of one batcher at once."""

    async def run():
        batcher = MicroBatcher(model, max_rows=max_rows, wait_ms=wait_ms)
        try:
            return await asyncio.gather(*(batcher.predict(rows) for rows in requests))
        finally:
            await batcher.stop()

    return asyncio.run(run())


def predictions_of(batcher: MicroBatcher, count: int, seeds) -> list[asyncio.Task]:
    """One task per seed, predicting `count` rows made from it."""
    return [asyncio.create_task(batcher.predict(random_rows(count, seed=s))) for s in seeds]


def test_micro_batcher_groups_concurrent_requests():
    counting = CountingModel()
    requests = [random_rows(count, seed=count) for count in (2, 3, 4, 5, 30)]

    results = predict_all(counting, requests, max_rows=16, wait_ms=50)

    for rows, predictions in zip(requests, results, strict=True):
        assert_same_predictions(predictions, counting.model.predict(rows))
    # 2+3+4+5 rows share one call; 30 rows exceed the batch size and run alone.
    assert counting.calls == [14, 30]


def test_many_concurrent_requests_get_exactly_their_own_predictions():
    counting = CountingModel()
    generator = random.Random(7)
    requests = [random_rows(generator.randint(1, 40), seed=seed) for seed in range(150)]
    requests[10] = random_rows(100, seed=1000)  # more rows than a batch holds

    results = predict_all(counting, requests, max_rows=64, wait_ms=1)

    for rows, predictions in zip(requests, results, strict=True):
        assert_same_predictions(predictions, counting.model.predict(rows))
    assert sum(counting.calls) == sum(len(rows) for rows in requests)
    assert len(counting.calls) < len(requests) / 2  # batched, not one call per request
    assert [rows for rows in counting.calls if rows > 64] == [100]


def test_a_full_batch_runs_without_waiting_for_its_timer():
    counting = CountingModel()

    async def run():
        batcher = MicroBatcher(counting, max_rows=8, wait_ms=60_000)
        try:
            async with asyncio.timeout(5):  # far less than the minute the timer would take
                return await asyncio.gather(
                    batcher.predict(random_rows(5, seed=1)), batcher.predict(random_rows(3, seed=2))
                )
        finally:
            await batcher.stop()

    first, second = asyncio.run(run())

    assert counting.calls == [8]
    assert_same_predictions(first, counting.model.predict(random_rows(5, seed=1)))
    assert_same_predictions(second, counting.model.predict(random_rows(3, seed=2)))


def test_the_next_batch_gathers_while_the_model_is_busy():
    counting = CountingModel()
    counting.gate.clear()

    async def run():
        batcher = MicroBatcher(counting, max_rows=4, wait_ms=1)
        try:
            running = predictions_of(batcher, 2, seeds=(1, 2))
            await counting.first_call()  # a full batch, held in the model
            waiting = predictions_of(batcher, 1, seeds=(3, 4, 5))
            await asyncio.sleep(0.05)  # their timer fired long ago: they wait for the model
            assert counting.calls == [4]
            counting.gate.set()
            await asyncio.gather(*running)
            return await asyncio.gather(*waiting)
        finally:
            await batcher.stop()

    results = asyncio.run(run())

    assert counting.calls == [4, 3]
    for seed, predictions in zip((3, 4, 5), results, strict=True):
        assert_same_predictions(predictions, counting.model.predict(random_rows(1, seed=seed)))


def test_a_caller_that_goes_away_does_not_break_the_others():
    counting = CountingModel()
    counting.gate.clear()

    async def run():
        batcher = MicroBatcher(counting, max_rows=4, wait_ms=1)
        try:
            running = predictions_of(batcher, 2, seeds=(1, 2))
            await counting.first_call()
            waiting = predictions_of(batcher, 1, seeds=(3, 4, 5))
            await asyncio.sleep(0.01)
            running[0].cancel()  # gone while its rows are in the model
            waiting[1].cancel()  # gone before its batch started
            counting.gate.set()
            return await asyncio.gather(running[1], waiting[0], waiting[2])
        finally:
            await batcher.stop()

    results = asyncio.run(run())

    for seed, predictions in zip((2, 3, 5), results, strict=True):
        expected = counting.model.predict(random_rows(2 if seed == 2 else 1, seed=seed))
        assert_same_predictions(predictions, expected)
    assert counting.calls == [4, 2]  # the row of the caller that left was not computed


def test_a_failed_batch_fails_its_callers_only():
    async def run():
        batcher = MicroBatcher(FailingModel(), max_rows=2, wait_ms=60_000)
        try:
            failed = await asyncio.gather(
                *predictions_of(batcher, 1, seeds=(1, 2)), return_exceptions=True
            )
            later = await batcher.predict(random_rows(2))
            return failed, later
        finally:
            await batcher.stop()

    failed, later = asyncio.run(run())

    assert [str(error) for error in failed] == ["model failure", "model failure"]
    assert_same_predictions(later, load_model().predict(random_rows(2)))


def test_stop_finishes_every_accepted_request_and_refuses_later_ones():
    counting = CountingModel()
    counting.gate.clear()

    async def run():
        batcher = MicroBatcher(counting, max_rows=4, wait_ms=60_000)
        in_model = predictions_of(batcher, 2, seeds=(1, 2))
        await counting.first_call()
        gathering = predictions_of(batcher, 1, seeds=(3, 4))
        await asyncio.sleep(0)  # they joined the open batch; its timer is a minute away
        stopping = asyncio.create_task(batcher.stop())
        await asyncio.sleep(0.01)
        assert not stopping.done()  # it waits for the batch in the model
        counting.gate.set()
        async with asyncio.timeout(5):
            await stopping
        assert all(task.done() for task in in_model + gathering)
        with pytest.raises(RuntimeError, match="stopped"):
            await batcher.predict(random_rows(1))
        return [task.result() for task in in_model + gathering]

    results = asyncio.run(run())

    assert counting.calls == [4, 2]
    for (count, seed), predictions in zip([(2, 1), (2, 2), (1, 3), (1, 4)], results, strict=True):
        assert_same_predictions(predictions, counting.model.predict(random_rows(count, seed=seed)))
