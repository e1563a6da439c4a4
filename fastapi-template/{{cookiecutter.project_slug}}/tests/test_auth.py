"""Access tokens: issuing them, refusing bad ones, login throttling; the production refusals."""

import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient

{% if cookiecutter.use_celery -%}
from {{ cookiecutter.package_name }}.core import cache
{% endif -%}
from {{ cookiecutter.package_name }}.core.config import (
    EXAMPLE_SECRET_KEY,
    GENERATED_SECRET_KEY_WARNING,
    Settings,
    get_settings,
    production_problems,
)
from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.models import User

PROJECT_DIR = Path(__file__).resolve().parent.parent
TOKEN_URL = "/api/v1/auth/token"
# A write that needs a token: each bad token below must get a 401 here.
WRITE = ("POST", "/api/v1/items", {"name": "Lamp", "price": 10})


def log_in(client: TestClient, username: str, password: str) -> httpx.Response:
    return client.post(TOKEN_URL, data={"username": username, "password": password})


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["status"] == 401


def test_the_right_password_gets_a_token(anonymous_client: TestClient, user: User, password):
    response = log_in(anonymous_client, "alice", password)

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body.keys() == {"access_token", "token_type", "expires_in"}
    assert (body["token_type"], body["expires_in"]) == ("bearer", 30 * 60)
    claims = jwt.decode(body["access_token"], get_settings().secret_key, algorithms=["HS256"])
    assert claims.keys() == {"sub", "iat", "exp"}
    assert claims["sub"] == str(user.id)
    assert claims["exp"] - claims["iat"] == 30 * 60

    headers = {"Authorization": f"Bearer {body['access_token']}"}
    me = anonymous_client.get("/api/v1/users/me", headers=headers)
    assert me.json()["username"] == "alice"


def test_other_oauth2_fields_are_accepted(anonymous_client: TestClient, user: User, password):
    form = {"username": "alice", "password": password, "grant_type": "password", "scope": "x y"}
    assert anonymous_client.post(TOKEN_URL, data=form).status_code == 200

    wrong_grant = anonymous_client.post(TOKEN_URL, data={**form, "grant_type": "client"})
    assert wrong_grant.status_code == 422
    assert [error["loc"] for error in wrong_grant.json()["errors"]] == [["body", "grant_type"]]


@pytest.mark.parametrize("username", ["alice", "nobody", "a\x00b", "x" * 500])
def test_a_wrong_username_or_password_is_401(
    anonymous_client: TestClient, user: User, username: str
):
    response = log_in(anonymous_client, username, "not the password")

    assert_unauthorized(response)
    assert response.json()["detail"] == "Incorrect username or password"


def test_missing_fields_are_422(anonymous_client: TestClient):
    response = anonymous_client.post(TOKEN_URL, data={})

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    locs = sorted(error["loc"] for error in response.json()["errors"])
    assert locs == [["body", "password"], ["body", "username"]]


PAST = datetime(2020, 1, 1, tzinfo=UTC)
OTHER_KEY = "not the service's key, 32 chars."


def token(user_id: int | str, key: str | None = None, **changes) -> str:
    """A token like the service's, signed with `key` (by default the service's own), with
    `changes` to its claims (None removes one)."""
    now = datetime.now(UTC)
    claims = {"sub": str(user_id), "iat": now, "exp": now + timedelta(minutes=5)} | changes
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(claims, key or get_settings().secret_key, algorithm="HS256")


def unsigned(user_id: int) -> str:
    return jwt.encode({"sub": str(user_id)}, None, algorithm="none")


BAD_AUTHORIZATIONS = {
    "missing": lambda user_id: None,
    "not bearer": lambda user_id: f"Basic {token(user_id)}",
    "malformed": lambda user_id: "Bearer not.a.jwt",
    "expired": lambda user_id: f"Bearer {token(user_id, iat=PAST, exp=PAST + timedelta(hours=1))}",
    "badly signed": lambda user_id: f"Bearer {token(user_id, key=OTHER_KEY)}",
    "unsigned": lambda user_id: f"Bearer {unsigned(user_id)}",
    "no expiry": lambda user_id: f"Bearer {token(user_id, exp=None)}",
    "no subject": lambda user_id: f"Bearer {token(user_id, sub=None)}",
    "not a user id": lambda user_id: f"Bearer {token('alice')}",
    "deleted user": lambda user_id: f"Bearer {token(user_id + 1000)}",
}


@pytest.mark.parametrize("case", BAD_AUTHORIZATIONS)
def test_a_write_without_a_valid_token_is_401(anonymous_client: TestClient, user: User, case):
    authorization = BAD_AUTHORIZATIONS[case](user.id)
    headers = {"Authorization": authorization} if authorization else {}
    method, url, body = WRITE

    response = anonymous_client.request(method, url, json=body, headers=headers)

    assert_unauthorized(response)
    assert anonymous_client.get("/api/v1/items").json()["total"] == 0


def test_reads_need_no_token(anonymous_client: TestClient, create_item):
    item = create_item()

    assert anonymous_client.get("/api/v1/items").json()["items"] == [item]
    assert anonymous_client.get(f"/api/v1/items/{item['id']}").status_code == 200


def test_failed_logins_are_throttled_per_username_and_address(
    anonymous_client: TestClient, user: User, make_user, password
):
    for _ in range(5):
        assert log_in(anonymous_client, "alice", "wrong password").status_code == 401

    refused = log_in(anonymous_client, "alice", password)  # even the right one

    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # Another username from the same address is counted on its own.
    make_user("bob")
    assert log_in(anonymous_client, "bob", password).status_code == 200


def test_successful_logins_are_not_counted(anonymous_client: TestClient, user: User, password):
    for _ in range(6):
        assert log_in(anonymous_client, "alice", password).status_code == 200
{%- if cookiecutter.use_celery %}


def test_failures_are_counted_in_redis_across_processes(make_client, redis_url: str, password):
    # Two applications stand in for two worker processes sharing one Redis.
    first = make_client(as_user=None, redis_url=redis_url)
    second = make_client(as_user=None, redis_url=redis_url)

    for _ in range(5):
        assert log_in(first, "mallory", "wrong password").status_code == 401

    refused = log_in(second, "mallory", password)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    import redis

    keys = redis.Redis.from_url(redis_url).keys("login:*")
    assert len(keys) == 1 and b"mallory" in keys[0]


def test_login_is_503_while_redis_is_down(make_client, user: User, password):
    client = make_client(as_user=None, redis_url="redis://127.0.0.1:1/0")

    response = log_in(client, "alice", password)

    assert response.status_code == 503
    assert response.json()["detail"] == "Redis is unavailable"


def test_login_is_503_while_redis_hangs(
    make_client,
    hung_redis_url: str,
    answer_within,
    user: User,
    password,
    monkeypatch: pytest.MonkeyPatch,
):
    deadline = 0.3
    monkeypatch.setattr(cache, "REDIS_DEADLINE_SECONDS", deadline)
    client = make_client(as_user=None, redis_url=hung_redis_url)

    response = answer_within(deadline + 1.0, lambda: log_in(client, "alice", password))

    assert response.status_code == 503
    assert response.json()["detail"] == "Redis is unavailable"
{%- endif %}


def test_the_openapi_document_describes_the_security(client: TestClient):
    document = client.get("/openapi.json").json()

    assert document["components"]["securitySchemes"] == {
        "OAuth2PasswordBearer": {
            "type": "oauth2",
            "flows": {"password": {"scopes": {}, "tokenUrl": TOKEN_URL}},
        }
    }
    protected = [
        ("post", "/api/v1/items"),
        ("put", "/api/v1/items/{item_id}"),
        ("patch", "/api/v1/items/{item_id}"),
        ("delete", "/api/v1/items/{item_id}"),
        ("get", "/api/v1/users/me"),
        ("post", "/api/v1/users"),
{%- if cookiecutter.use_ml %}
        ("post", "/api/v1/jobs/predictions"),
{%- endif %}
    ]
    secured = {
        (method, path)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "security" in operation
    }
    assert secured == set(protected)
    for method, path in protected:
        operation = document["paths"][path][method]
        assert operation["security"] == [{"OAuth2PasswordBearer": []}]
        for status in ("401", "403"):
            content = operation["responses"][status]["content"]
            assert content == {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            }, (method, path)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"secret_key": ""}, "SECRET_KEY is not set"),
        ({"secret_key": "too-short"}, "SECRET_KEY is shorter than 32 characters"),
        ({"secret_key": EXAMPLE_SECRET_KEY}, "SECRET_KEY is the example value from .env.example"),
        ({"cors_origins": "https://a.example, *"}, "CORS_ORIGINS is '*'"),
        ({"admin_password": "short"}, "ADMIN_PASSWORD is shorter than 12 characters"),
    ],
)
def test_production_refuses_unsafe_settings(changes: dict, problem: str):
    safe = {"environment": "production", "secret_key": "s" * 32, "cors_origins": ""}
    assert production_problems(Settings(**safe)) == []

    problems = production_problems(Settings(**safe | changes))

    assert len(problems) == 1
    assert problems[0].startswith(problem)
    # Development runs with any of them.
    assert production_problems(Settings(**safe | changes | {"environment": "development"})) == []


def production_environment(**settings: str) -> dict[str, str]:
    production = {"ENVIRONMENT": "production", "SECRET_KEY": "", "CORS_ORIGINS": ""}
    return os.environ | production | settings


def test_the_app_refuses_to_start_with_one_line_on_stderr():
    result = subprocess.run(
        [sys.executable, "-c", "import {{ cookiecutter.package_name }}.main"],
        cwd=PROJECT_DIR,
        env=production_environment(CORS_ORIGINS="*"),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "Refusing to start in production: SECRET_KEY is not set; "
        "CORS_ORIGINS is '*', which lets every web site call the API"
    ]


def test_gunicorn_refuses_to_start_before_any_worker():
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
        cwd=PROJECT_DIR,
        env=production_environment(
            SECRET_KEY=EXAMPLE_SECRET_KEY, BIND="127.0.0.1:0", MIGRATE_ON_START="0"
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "Refusing to start in production: SECRET_KEY is the example value from .env.example"
    ]


def test_without_secret_key_development_generates_one(monkeypatch, capsys):
    monkeypatch.setenv("SECRET_KEY", "")
    get_settings.cache_clear()
    try:
        key = create_app().state.settings.secret_key
        again = create_app().state.settings.secret_key
    finally:
        get_settings.cache_clear()

    assert len(key) >= 32
    # Put in the environment, where later apps of this process (and forks) find it.
    assert again == key == os.environ["SECRET_KEY"]
    assert capsys.readouterr().err.count(GENERATED_SECRET_KEY_WARNING) == 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_gunicorn_generates_one_secret_key_for_every_worker(tmp_path: Path):
    # Three workers without SECRET_KEY; the admin is created by the master.
    port = free_port()
    environment = os.environ | {
        "SECRET_KEY": "",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "3",
        "ADMIN_USERNAME": "boss",
        "ADMIN_PASSWORD": "a long admin password",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "LOG_LEVEL": "INFO",
    }
    log = tmp_path / "gunicorn.log"
    with log.open("w") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
            cwd=PROJECT_DIR,
            env=environment,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base_url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)

        with httpx.Client(base_url=base_url) as http:
            form = {"username": "boss", "password": "a long admin password"}
            access_token = http.post(TOKEN_URL, data=form).json()["access_token"]
            headers = {"Authorization": f"Bearer {access_token}"}
            # New connections, so that the requests spread over the workers.
            statuses = {
                httpx.get(f"{base_url}/api/v1/users/me", headers=headers).status_code
                for _ in range(30)
            }
    finally:
        server.terminate()
        server.wait(timeout=30)

    assert statuses == {200}
    output = log.read_text()
    assert output.count(GENERATED_SECRET_KEY_WARNING) == 1
    assert output.count("Ensuring the admin user boss") == 1
