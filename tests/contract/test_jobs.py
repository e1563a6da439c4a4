"""Background prediction jobs: 202 + Location, polling to SUCCESS, and their limits.

Under the Redis services the jobs run on the separately started Celery worker; under the
`-noredis` services they run in the web process's own pool.
"""

import random
import re
import time
import uuid

import pytest

from tests.contract.harness import assert_problem, assert_validation_error, wait_until

JOBS = "/api/v1/jobs"
SUBMIT = "/api/v1/jobs/predictions"
PREDICT = "/api/v1/models/digits/predict"
JOB_TIMEOUT = 60.0
STATUSES = {"PENDING", "STARTED", "SUCCESS", "FAILURE"}


def rows(count: int, seed: int = 3) -> list[list[int]]:
    rng = random.Random(seed)
    return [[rng.randint(0, 16) for _ in range(64)] for _ in range(count)]


def submit(client, inputs) -> tuple[dict, str]:
    response = client.post(SUBMIT, json={"inputs": inputs})
    assert response.status_code == 202, response.text
    return response.json(), response.headers["location"]


def wait_for_job(service, location: str) -> dict:
    """Poll on fresh connections (so every worker process gets asked) until the job is done."""

    def finished():
        with service.client() as http:
            response = http.get(location)
        assert response.status_code == 200, response.text
        job = response.json()
        assert job["status"] in STATUSES, job
        return job if job["status"] in ("SUCCESS", "FAILURE") else None

    job = wait_until(finished, timeout=JOB_TIMEOUT, interval=0.2)
    assert job is not None, f"job {location} did not finish in {JOB_TIMEOUT}s"
    return job


def test_submit_is_202_pending_with_location(client):
    job, location = submit(client, rows(3))
    assert re.fullmatch(r"[0-9a-f]{32}", job["id"]), job["id"]
    assert job["status"] == "PENDING"
    assert location == f"{JOBS}/{job['id']}"


def test_job_runs_to_success_with_the_same_predictions_as_predict(service, client):
    inputs = rows(20, seed=11)
    job, location = submit(client, inputs)
    done = wait_for_job(service, location)
    assert done["id"] == job["id"]
    assert done["status"] == "SUCCESS", done
    assert done["error"] is None
    expected = client.post(PREDICT, json={"inputs": inputs}).json()["predictions"]
    assert done["result"]["predictions"] == expected


def test_pending_job_has_null_result_and_error(client):
    job, location = submit(client, rows(1))
    current = client.get(location).json()
    assert set(current) >= {"id", "status", "result", "error"}
    if current["status"] in ("PENDING", "STARTED"):
        assert current["result"] is None and current["error"] is None


def test_10000_rows_is_accepted_and_completes(service, client):
    inputs = rows(10_000, seed=5)
    start = time.monotonic()
    _, location = submit(client, inputs)
    done = wait_for_job(service, location)
    assert done["status"] == "SUCCESS", done
    assert len(done["result"]["predictions"]) == 10_000
    assert time.monotonic() - start < JOB_TIMEOUT


def test_10001_rows_is_422(client):
    assert_validation_error(client.post(SUBMIT, json={"inputs": rows(10_001)}), ["body", "inputs"])


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"inputs": []}, ["body", "inputs"]),
        ({"inputs": [[0] * 64, [0] * 64 + [1]]}, ["body", "inputs", 1]),
        ({"inputs": [[0] * 20 + [16.5] + [0] * 43]}, ["body", "inputs", 0, 20]),
        ({"inputs": rows(1), "priority": "high"}, ["body", "priority"]),
    ],
    ids=["no-rows", "long-row", "value-over-16", "unknown-field"],
)
def test_invalid_job_is_422_and_creates_nothing(client, body, loc):
    assert_validation_error(client.post(SUBMIT, json=body), loc)


@pytest.mark.parametrize("job_id", [uuid.uuid4().hex, "not-a-job", "0", "a" * 200])
def test_unknown_job_is_404(client, job_id):
    assert_problem(client.get(f"{JOBS}/{job_id}"), 404)
