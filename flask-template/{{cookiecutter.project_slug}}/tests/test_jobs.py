import time

import pytest

from {{ cookiecutter.package_name }}.ml.model import load_model


def rows(count: int) -> list[list[float]]:
    return [[float((row + column) % 17) for column in range(64)] for row in range(count)]


def wait_for_job(client, url: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(url).json
        if job["status"] in ("SUCCESS", "FAILURE"):
            return job
        time.sleep(0.05)
    pytest.fail(f"job still {job['status']} after {timeout} seconds")


def submit_and_check(client, inputs: list[list[float]]) -> None:
    response = client.post("/api/v1/jobs/predictions", json={"inputs": inputs})
    assert response.status_code == 202
    job = response.json
    assert job["status"] == "PENDING"
    assert job["result"] is None and job["error"] is None
    assert response.headers["Location"] == f"/api/v1/jobs/{job['id']}"

    finished = wait_for_job(client, response.headers["Location"])
    assert finished["status"] == "SUCCESS", finished["error"]
    expected = load_model().predict(inputs)
    predictions = finished["result"]["predictions"]
    assert [p["label"] for p in predictions] == [p["label"] for p in expected]


def test_job_runs_in_process(client):
    submit_and_check(client, rows(300))


def test_job_accepts_up_to_10000_rows_but_no_more(client):
    # 10,000 rows are bigger than the usual body limit; the jobs route allows more.
    submit_and_check(client, rows(10_000))
    too_many = client.post("/api/v1/jobs/predictions", json={"inputs": rows(10_001)})
    assert too_many.status_code == 422
    assert too_many.json["errors"][0]["loc"] == ["body", "inputs"]


def test_invalid_job_inputs_are_located(client):
    bad = rows(3)
    bad[2][63] = 99
    response = client.post("/api/v1/jobs/predictions", json={"inputs": bad})
    assert response.status_code == 422
    assert response.json["errors"][0]["loc"] == ["body", "inputs", 2, 63]


def test_unknown_job_is_404(client):
    response = client.get("/api/v1/jobs/0123456789abcdef0123456789abcdef")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
{%- if cookiecutter.use_celery %}


def test_job_runs_on_a_celery_worker(make_app, redis_url):
    from celery.contrib.testing.worker import start_worker

    app = make_app(CELERY_BROKER_URL=redis_url, CELERY_RESULT_BACKEND=redis_url)
    celery_app = app.extensions["celery"]
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        submit_and_check(app.test_client(), rows(20))
{%- endif %}
