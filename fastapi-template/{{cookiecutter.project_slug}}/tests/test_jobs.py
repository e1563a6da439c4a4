import time
{%- if cookiecutter.use_celery %}
import uuid
{%- endif %}

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.ml.model import load_model
{%- if cookiecutter.use_celery %}
from {{ cookiecutter.package_name }}.worker import celery_app
{%- endif %}

ROWS = [[float((row + column) % 17) for column in range(64)] for row in range(20)]


def wait_for_job(client: TestClient, location: str, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(location).json()
        if job["status"] in ("SUCCESS", "FAILURE") or time.monotonic() > deadline:
            return job
        time.sleep(0.02)


def test_job_runs_in_process_to_success(client: TestClient):
    response = client.post("/api/v1/jobs/predictions", json={"inputs": ROWS})

    assert response.status_code == 202
    submitted = response.json()
    assert submitted["status"] == "PENDING"
    assert response.headers["location"] == f"/api/v1/jobs/{submitted['id']}"

    job = wait_for_job(client, response.headers["location"])
    assert job["status"] == "SUCCESS"
    assert job["error"] is None
    assert job["result"] == {"predictions": load_model().predict(ROWS)}


def test_unknown_job_is_404(client: TestClient):
    response = client.get("/api/v1/jobs/0123456789abcdef0123456789abcdef")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "job_id", ["%00", "nope", "0123456789ABCDEF0123456789ABCDEF", "0123456789abcdef" * 3]
)
def test_malformed_job_ids_are_404_without_a_query(
    make_client, unreachable_database_url: str, job_id: str
):
    # No database to ask: no route takes a job id of another form than the ids handed out.
    client = make_client(database_url=unreachable_database_url)

    response = client.get(f"/api/v1/jobs/{job_id}")

    assert response.status_code == 404
    assert response.json()["detail"] == "The requested URL was not found"


def test_get_on_the_submission_path_is_405(client: TestClient):
    response = client.get("/api/v1/jobs/predictions")

    assert response.status_code == 405
    assert response.headers["allow"] == "OPTIONS, POST"


def test_job_inputs_are_validated_down_to_row_and_column(client: TestClient):
    rows = [row[:] for row in ROWS]
    rows[3][10] = -0.5

    response = client.post("/api/v1/jobs/predictions", json={"inputs": rows})

    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["errors"]] == [["body", "inputs", 3, 10]]


def test_jobs_accept_more_rows_than_predict(client: TestClient):
    rows = ROWS * 20  # 400 rows: over predict's 256, within the jobs' 10,000

    response = client.post("/api/v1/jobs/predictions", json={"inputs": rows})

    assert response.status_code == 202
    assert wait_for_job(client, response.headers["location"])["status"] == "SUCCESS"


def test_jobs_accept_10000_rows_but_no_more(client: TestClient):
    # 10,000 rows are bigger than the usual body limit; the jobs route allows more.
    rows = ROWS * 500

    response = client.post("/api/v1/jobs/predictions", json={"inputs": rows})

    assert response.status_code == 202
    assert wait_for_job(client, response.headers["location"])["status"] == "SUCCESS"
    too_many = client.post("/api/v1/jobs/predictions", json={"inputs": [*rows, ROWS[0]]})
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["loc"] == ["body", "inputs"]
{%- if cookiecutter.use_celery %}


def test_job_runs_on_a_real_celery_worker(make_client, redis_url: str):
    from celery.contrib.testing.worker import start_worker

    # A queue of its own, so that no other worker on this Redis can take the task.
    celery_app.conf.update(
        broker_url=redis_url,
        result_backend=redis_url,
        task_default_queue=f"test-{uuid.uuid4().hex}",
    )
    client = make_client(celery_broker_url=redis_url)

    with start_worker(celery_app, pool="solo", perform_ping_check=False, loglevel="WARNING"):
        response = client.post("/api/v1/jobs/predictions", json={"inputs": ROWS})
        job = wait_for_job(client, response.headers["location"], timeout=30)

    assert job["status"] == "SUCCESS"
    assert job["result"] == {"predictions": load_model().predict(ROWS)}
{%- endif %}
