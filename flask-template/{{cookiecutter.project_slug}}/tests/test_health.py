from {{ cookiecutter.package_name }}.core.metrics import route_template


def test_health(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_ready_reports_each_check(client):
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json == {
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


def test_ready_fails_when_the_database_is_down(make_app, tmp_path):
    unreachable = f"sqlite:///{tmp_path / 'missing-dir' / 'app.db'}"
    response = make_app(DATABASE_URL=unreachable).test_client().get("/ready")
    assert response.status_code == 503
    assert response.json["status"] == "fail"
    assert response.json["checks"]["database"] == "fail"
{%- if cookiecutter.use_celery %}


def test_ready_fails_when_redis_is_down(make_app):
    response = make_app(REDIS_URL="redis://127.0.0.1:1/0").test_client().get("/ready")
    assert response.status_code == 503
    assert response.json["checks"]["redis"] == "fail"
    assert response.json["checks"]["database"] == "ok"
{%- endif %}


def test_route_templates_use_braces():
    assert route_template("/api/v1/items/<int:item_id>") == "/api/v1/items/{item_id}"
    assert route_template("/api/v1/jobs/<job_id>") == "/api/v1/jobs/{job_id}"
    assert route_template("/health") == "/health"


def test_metrics_count_requests_by_route_template(client):
    client.get("/api/v1/items/12345")
    client.get("/no/such/page")
    body = client.get("/metrics").get_data(as_text=True)
    assert "# TYPE http_requests_total counter" in body
    assert "# TYPE http_request_duration_seconds histogram" in body
    assert 'method="GET",route="/api/v1/items/{item_id}",status="404"' in body
    assert 'route="<unmatched>"' in body
    assert "http_request_duration_seconds_bucket{" in body


def test_cors_is_off_by_default(client):
    response = client.get("/health", headers={"Origin": "https://example.com"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_allows_configured_origins(make_app):
    client = make_app(CORS_ORIGINS=["https://app.example.com"]).test_client()
    allowed = client.get("/health", headers={"Origin": "https://app.example.com"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    other = client.get("/health", headers={"Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in other.headers
