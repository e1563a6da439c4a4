from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient


def test_health(client: TestClient):
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_operations_routes_come_before_every_included_router(app: FastAPI):
    """Probes and scrapes skip FastAPI's included-router layer, which costs every request it
    is tried on (api/__init__.py): their routes sit on the application itself, ahead of the
    first included router."""
    paths = [getattr(route, "path", None) for route in app.router.routes]
    first_included = paths.index(None)  # an included router has no path of its own
    for path in ("/health", "/ready", "/metrics"):
        assert path in paths[:first_included], paths
        assert isinstance(app.router.routes[paths.index(path)], APIRoute)


def test_ready_reports_every_check(client: TestClient):
    response = client.get("/ready")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {
            "database": "ok",
            "redis": "disabled",
            "model": "{{ 'ok' if cookiecutter.use_ml else 'disabled' }}",
        },
{%- if cookiecutter.use_websockets %}
        "realtime": "local",
{%- endif %}
    }


def test_ready_fails_with_503_when_the_database_is_down(make_client, tmp_path):
    client = make_client(database_url=f"sqlite:///{tmp_path}/missing/dir/app.db")

    response = client.get("/ready")

    assert response.status_code == 503
    assert response.json()["status"] == "fail"
    assert response.json()["checks"]["database"] == "fail"
{%- if cookiecutter.use_celery %}


def test_ready_fails_when_redis_is_configured_but_down(make_client):
    client = make_client(redis_url="redis://127.0.0.1:1/0")

    response = client.get("/ready")

    assert response.status_code == 503
    assert response.json()["status"] == "fail"
    assert response.json()["checks"]["redis"] == "fail"
    assert response.json()["checks"]["database"] == "ok"
{%- endif %}


def test_metrics_count_requests_by_route_template(client: TestClient, create_item):
    item_id = create_item()["id"]
    client.get(f"/api/v1/items/{item_id}")
    client.get("/no/such/page")

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'http_requests_total{method="GET",route="/api/v1/items/{item_id}",status="200"}' in text
    assert 'http_requests_total{method="POST",route="/api/v1/items",status="201"}' in text
    assert 'route="<unmatched>",status="404"' in text
    assert "http_request_duration_seconds_bucket{" in text
