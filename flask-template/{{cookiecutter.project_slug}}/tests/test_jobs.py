{% if cookiecutter.use_celery -%}
import json
import os
import subprocess
import sys
{% endif -%}
import time
{%- if cookiecutter.use_celery %}
from pathlib import Path
{%- endif %}

import pytest
from sqlalchemy import event

from {{ cookiecutter.package_name }}.core.db import db
from {{ cookiecutter.package_name }}.ml.model import load_model
{%- if cookiecutter.use_celery %}

PROJECT_DIR = Path(__file__).resolve().parents[1]
{%- endif %}


def rows(count: int) -> list[list[float]]:
    return [[float((row + column) % 17) for column in range(64)] for row in range(count)]


def wait_for_job(client, url: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(url).json
        if job["status"] in ("SUCCESS", "FAILURE"):
            return job
        time.sleep(0.05)
    pytest.fail(f"job still {job['status']} after {timeout} seconds")


def submit_and_check(client, inputs: list[list[float]], timeout: float = 10.0) -> str:
    """Submit a job, wait for it to succeed, check its predictions; returns its id."""
    response = client.post("/api/v1/jobs/predictions", json={"inputs": inputs})
    assert response.status_code == 202
    job = response.json
    assert job["status"] == "PENDING"
    assert job["result"] is None and job["error"] is None
    assert response.headers["Location"] == f"/api/v1/jobs/{job['id']}"

    finished = wait_for_job(client, response.headers["Location"], timeout)
    assert finished["status"] == "SUCCESS", finished["error"]
    expected = load_model().predict(inputs)
    predictions = finished["result"]["predictions"]
    assert [p["label"] for p in predictions] == [p["label"] for p in expected]
    return job["id"]


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
    assert response.json["detail"] == "Job 0123456789abcdef0123456789abcdef not found"


# Ids of another length than 32 do not even reach the view.
@pytest.mark.parametrize(
    "job_id", ["%00", "x", "0123456789ABCDEF0123456789ABCDEF", "%00" + "0" * 31, "1" * 33]
)
def test_malformed_job_id_is_404_without_a_query(app, job_id):
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        response = app.test_client().get(f"/api/v1/jobs/{job_id}")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert statements == []


def test_predictions_is_no_job_id(client):
    # Allow lists only what /predictions itself answers: the job route does not match it.
    allowed = client.options("/api/v1/jobs/predictions").headers["Allow"]
    assert set(allowed.split(", ")) == {"POST", "OPTIONS"}
    assert client.get("/api/v1/jobs/predictions").status_code == 405
{%- if cookiecutter.use_celery %}


def test_job_runs_on_a_celery_worker(make_app, database_url, redis_url, tmp_path{% if cookiecutter.use_auth %}, authorize{% endif %}):
    """The worker as deployed: its own process, logging each task, storing the outcome."""
    app = make_app(CELERY_BROKER_URL=redis_url, CELERY_RESULT_BACKEND=redis_url)
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_RESULT_BACKEND": redis_url,
        "LOG_LEVEL": "INFO",
    }
    command = [sys.executable, "-m", "celery", "-A", "{{ cookiecutter.package_name }}.worker"]
    command += ["worker", "--pool=solo", "--without-gossip", "--without-mingle"]
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            command, cwd=PROJECT_DIR, env=environment, stdout=subprocess.DEVNULL, stderr=log
        )
        try:
{%- if cookiecutter.use_auth %}
            job_id = submit_and_check(authorize(app.test_client()), rows(20), timeout=30)
{%- else %}
            job_id = submit_and_check(app.test_client(), rows(20), timeout=30)
{%- endif %}
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    stderr = log_path.read_text()

    result = app.extensions["celery"].AsyncResult(job_id)
    assert result.get(timeout=5) == "SUCCESS"
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    task_lines = [r["message"] for r in records if job_id in r["message"]]
    assert any("received" in line for line in task_lines), stderr
    assert any("succeeded" in line for line in task_lines), stderr
{%- endif %}
