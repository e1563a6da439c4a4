"""Deployment modes: two workers sharing Redis, a Celery worker, and dependency outages.

* Cross-worker broadcast: two WebSocket connections that psutil proves are held by different
  gunicorn workers still hear each other's room messages (Redis pub/sub).
* Celery: a job submitted through the API is run by the separately started worker process.
* Outage: a service whose Redis dies keeps serving items, reports 503 on /ready, and recovers
  by itself when Redis comes back on the same port. A service whose database disappears
  answers 503 problems, and /ready says which check failed.
"""

import json
import os
import signal
import time
import uuid

import psycopg
import pytest

from tests.contract.harness import (
    ONE_PER_FRAMEWORK,
    REDIS_SERVICES,
    assert_problem,
    running_service,
    wait_until,
    ws_pair,
    ws_receive,
)
from tests.support import POSTGRES_ADMIN_URL, scratch_database

ITEMS = "/api/v1/items"
RECOVERY_TIMEOUT = 30.0
# Shorter than gunicorn's 2 s keep-alive, so the client's idle connection is still open when
# it asks again (otherwise a reset races the request).
FROZEN_SECONDS = 1.0


@pytest.mark.parametrize("service", REDIS_SERVICES, indirect=True)
def test_room_broadcast_crosses_worker_processes(service):
    room = f"cross-{uuid.uuid4().hex[:10]}"
    first, second, first_pid, second_pid = ws_pair(service, f"/ws/rooms/{room}", same_worker=False)
    assert first_pid != second_pid
    assert {first_pid, second_pid} <= set(service.worker_pids())
    with first, second:
        first.send(json.dumps({"type": "message", "data": {"pid": first_pid}}))
        assert ws_receive(second) == {**ws_receive(first), "data": {"pid": first_pid}}
        second.send(json.dumps({"type": "message", "data": {"pid": second_pid}}))
        assert ws_receive(first)["data"] == {"pid": second_pid}
        assert ws_receive(second)["data"] == {"pid": second_pid}


@pytest.mark.parametrize("service", REDIS_SERVICES, indirect=True)
def test_celery_worker_runs_jobs_submitted_through_the_api(service, client):
    """While the worker is frozen the job stays PENDING; once it thaws, the job completes."""
    worker = service.worker
    assert worker is not None and worker.alive()
    os.kill(worker.pid, signal.SIGSTOP)
    try:
        response = client.post("/api/v1/jobs/predictions", json={"inputs": [[1] * 64, [15] * 64]})
        assert response.status_code == 202
        location = response.headers["location"]
        time.sleep(FROZEN_SECONDS)
        assert client.get(location).json()["status"] == "PENDING"
    finally:
        os.kill(worker.pid, signal.SIGCONT)

    def finished():
        job = client.get(location).json()
        return job if job["status"] in ("SUCCESS", "FAILURE") else None

    job = wait_until(finished, timeout=60, interval=0.2)
    assert job is not None and job["status"] == "SUCCESS", job
    assert len(job["result"]["predictions"]) == 2


@pytest.fixture(params=ONE_PER_FRAMEWORK)
def service_on_private_redis(request, generated_project, private_redis, tmp_path):
    framework = request.param.split("-")[0]
    project = generated_project(framework, "sqlite")
    with running_service(
        name=f"{framework}-outage",
        framework=framework,
        database="sqlite",
        project_dir=project,
        run_dir=tmp_path / "run",
        database_url=f"sqlite:///{tmp_path / 'outage.db'}",
        redis_url=private_redis.url,
    ) as service:
        yield service


def exercise_items(client) -> None:
    """A create, reads (cached or not), a patch, a list, a delete: all must succeed."""
    created = client.post(ITEMS, json={"name": f"outage {uuid.uuid4().hex[:6]}", "price": 1})
    assert created.status_code == 201, created.text
    item_id = created.json()["id"]
    for _ in range(2):
        assert client.get(f"{ITEMS}/{item_id}").status_code == 200
    patched = client.patch(f"{ITEMS}/{item_id}", json={"price": 2})
    assert patched.status_code == 200 and patched.json()["price"] == 2
    assert client.get(f"{ITEMS}/{item_id}").json()["price"] == 2
    assert client.get(ITEMS, params={"limit": 5}).status_code == 200
    assert client.delete(f"{ITEMS}/{item_id}").status_code == 204
    assert client.get(f"{ITEMS}/{item_id}").status_code == 404


def test_redis_outage_degrades_and_recovers(service_on_private_redis, private_redis):
    service, redis_server = service_on_private_redis, private_redis
    with service.client() as client:
        ready = client.get("/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["redis"] == "ok"
        exercise_items(client)

        redis_server.kill()
        exercise_items(client)
        down = client.get("/ready")
        assert down.status_code == 503, down.text
        body = down.json()
        assert body["status"] == "fail"
        assert body["checks"]["redis"] == "fail"
        assert body["checks"]["database"] == "ok"

        redis_server.start()
        recovered = wait_until(
            lambda: client.get("/ready").status_code == 200, RECOVERY_TIMEOUT, 0.5
        )
        assert recovered, client.get("/ready").text
        assert client.get("/ready").json()["checks"]["redis"] == "ok"
        exercise_items(client)


@pytest.fixture(params=["flask", "fastapi"])
def service_on_doomed_database(request, generated_project, tmp_path):
    framework = request.param
    project = generated_project(framework, "postgresql")
    with (
        scratch_database(f"contract_{framework}_doomed") as database_url,
        running_service(
            name=f"{framework}-database-outage",
            framework=framework,
            database="postgresql",
            project_dir=project,
            run_dir=tmp_path / "run",
            database_url=database_url,
        ) as service,
    ):
        yield service


def drop_database(database_url: str) -> None:
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_database_outage_is_503_problem(service_on_doomed_database):
    service = service_on_doomed_database
    with service.client() as client:
        created = client.post(ITEMS, json={"name": "before the outage", "price": 1})
        assert created.status_code == 201
        drop_database(service.database_url)
        for method, path, body in [
            ("GET", ITEMS, None),
            ("GET", f"{ITEMS}/{created.json()['id']}", None),
            ("POST", ITEMS, {"name": "during the outage", "price": 1}),
        ]:
            response = client.request(method, path, json=body)
            problem = assert_problem(response, 503)
            assert problem["detail"].lower() == "database is unavailable", problem
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["status"] == "fail"
        assert ready.json()["checks"]["database"] == "fail"
        assert client.get("/health").status_code == 200
