"""Access tokens: sign-in, what a write accepts, login throttling, and the start-up rules."""

import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta
from pathlib import Path

import jwt
import pytest
{%- if cookiecutter.use_celery %}
import redis
{%- endif %}

from {{ cookiecutter.package_name }}.core.auth import create_access_token
from {{ cookiecutter.package_name }}.core.config import (
    EXAMPLE_SECRET_KEY,
    load_settings,
    production_problems,
)
from {{ cookiecutter.package_name }}.core.db import db
from {{ cookiecutter.package_name }}.models import User

PROJECT_DIR = Path(__file__).resolve().parents[1]
TOKEN_URL = "/api/v1/auth/token"
PASSWORD = "correct horse battery staple"  # the conftest users' password
ITEM = {"name": "Lamp", "price": 10}


def sign_in(client, username: str = "alice", password: str = PASSWORD, **extra: str):
    return client.post(TOKEN_URL, data={"username": username, "password": password, **extra})


def assert_unauthorized(response) -> None:
    assert response.status_code == 401, response.json
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_sign_in_gives_a_bearer_token(app, anonymous_client, user):
    response = sign_in(anonymous_client)
    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 30 * 60
    claims = jwt.decode(body["access_token"], app.config["SECRET_KEY"], algorithms=["HS256"])
    assert claims["sub"] == str(user.id)
    assert claims["exp"] - claims["iat"] == 30 * 60

    created = anonymous_client.post(
        "/api/v1/items", json=ITEM, headers=bearer(body["access_token"])
    )
    assert created.status_code == 201


def test_extra_oauth2_fields_are_accepted(anonymous_client, user):
    response = sign_in(anonymous_client, grant_type="password", scope="", client_id="swagger")
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("username", "password"), [("alice", "not the password"), ("bob", PASSWORD)]
)
def test_wrong_username_or_password_is_401(anonymous_client, user, username, password):
    response = sign_in(anonymous_client, username, password)
    assert_unauthorized(response)
    assert response.json["detail"] == "Incorrect username or password"
    assert "access_token" not in response.json


@pytest.mark.parametrize(
    ("form", "locs"),
    [
        ({}, [["body", "password"], ["body", "username"]]),
        ({"username": "alice"}, [["body", "password"]]),
        (
            {"username": "alice", "password": PASSWORD, "grant_type": "client_credentials"},
            [["body", "grant_type"]],
        ),
    ],
)
def test_missing_or_wrong_form_fields_are_422(anonymous_client, user, form, locs):
    response = anonymous_client.post(TOKEN_URL, data=form)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert sorted(error["loc"] for error in response.json["errors"]) == locs


@pytest.mark.parametrize(
    "username", ["a%00b", "x" * 10_000, "..%2F..%2Fetc", "%ED%A0%80", "%FF", "alice%0A"]
)
def test_garbage_usernames_are_a_plain_401(anonymous_client, user, username):
    form = f"username={username}&password=correct+horse+battery+staple"
    response = anonymous_client.post(
        TOKEN_URL, data=form, content_type="application/x-www-form-urlencoded"
    )
    assert_unauthorized(response)


def token_claims(user_id: int, **changes: object) -> dict[str, object]:
    now = int(time.time())
    return {"sub": str(user_id), "iat": now, "exp": now + 600, **changes}


def test_only_valid_tokens_of_existing_users_may_write(app, anonymous_client, user):
    key = app.config["SECRET_KEY"]
    now = int(time.time())
    tokens = {
        "expired": jwt.encode(token_claims(user.id, iat=now - 7200, exp=now - 3600), key),
        "badly signed": jwt.encode(token_claims(user.id), "another-key-" * 4),
        "malformed": "not.a.jwt",
        "alg none": jwt.encode(token_claims(user.id), None, algorithm="none"),
        "no exp": jwt.encode({"sub": str(user.id), "iat": now}, key),
        "no iat": jwt.encode({"sub": str(user.id), "exp": now + 600}, key),
        "no sub": jwt.encode({"iat": now, "exp": now + 600}, key),
        "not a user id": jwt.encode(token_claims(user.id, sub="alice"), key),
        "out of range id": jwt.encode(token_claims(user.id, sub="99999999999"), key),
        "no such user": jwt.encode(token_claims(987654), key),
    }
    for name, token in tokens.items():
        response = anonymous_client.post("/api/v1/items", json=ITEM, headers=bearer(token))
        assert response.status_code == 401, name
        assert_unauthorized(response)
    valid = jwt.encode(token_claims(user.id), key)
    response = anonymous_client.post("/api/v1/items", json=ITEM, headers=bearer(valid))
    assert response.status_code == 201


@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer ", "Basic YTpi", "bearer x y"])
def test_a_missing_or_unreadable_authorization_header_is_401(anonymous_client, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = anonymous_client.post("/api/v1/items", json=ITEM, headers=headers)
    assert_unauthorized(response)


def test_a_token_stops_working_when_its_user_is_deleted(app, client, user):
    assert client.post("/api/v1/items", json=ITEM).status_code == 201
    with app.app_context():
        db.session.delete(db.session.get(User, user.id))
        db.session.commit()
    assert_unauthorized(client.post("/api/v1/items", json=ITEM))


def test_tokens_are_checked_against_the_secret_key(make_app, user):
    # Every process (and the FastAPI twin) with the same SECRET_KEY accepts the same token.
    first = make_app()
    token = create_access_token(user.id, first.config["SECRET_KEY"], timedelta(minutes=5))
    second = make_app().test_client()
    assert second.get("/api/v1/users/me", headers=bearer(token)).status_code == 200
    other_key = make_app(SECRET_KEY="a-different-secret-key-of-32-characters").test_client()
    assert_unauthorized(other_key.get("/api/v1/users/me", headers=bearer(token)))


def fail(client, username: str = "alice", address: str = "127.0.0.1"):
    return client.post(
        TOKEN_URL,
        data={"username": username, "password": "wrong password"},
        environ_base={"REMOTE_ADDR": address},
    )


def test_failed_sign_ins_are_throttled_per_username_and_address(anonymous_client, user):
    for _ in range(5):  # LOGIN_RATE_LIMIT: 5/minute
        assert fail(anonymous_client).status_code == 401
    throttled = fail(anonymous_client)
    assert throttled.status_code == 429
    assert throttled.mimetype == "application/problem+json"
    assert 1 <= int(throttled.headers["Retry-After"]) <= 60
    # Even the right password waits now; other usernames and addresses do not.
    assert sign_in(anonymous_client).status_code == 429
    assert fail(anonymous_client, username="bob").status_code == 401
    assert fail(anonymous_client, address="192.0.2.7").status_code == 401


def test_only_failures_count(make_app, user):
    client = make_app(LOGIN_RATE_LIMIT="2/minute").test_client()
    for _ in range(3):
        assert sign_in(client).status_code == 200
    assert fail(client).status_code == 401
    assert sign_in(client).status_code == 200
    assert fail(client).status_code == 401
    assert sign_in(client).status_code == 429
{%- if cookiecutter.use_celery %}


def test_throttling_is_shared_through_redis(make_app, redis_url, user):
    # Two apps with their own throttles stand in for two gunicorn worker processes.
    first = make_app(REDIS_URL=redis_url, LOGIN_RATE_LIMIT="2/minute").test_client()
    second = make_app(REDIS_URL=redis_url, LOGIN_RATE_LIMIT="2/minute").test_client()
    assert fail(first).status_code == 401
    assert fail(second).status_code == 401
    throttled = fail(first)
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["Retry-After"]) <= 60
    assert redis.Redis.from_url(redis_url).keys("login:*")


def test_sign_in_works_with_redis_down(make_app, user):
    client = make_app(REDIS_URL="redis://127.0.0.1:1/0").test_client()
    assert fail(client).status_code == 401
    assert sign_in(client).status_code == 200
{%- endif %}


PRODUCTION = {"ENVIRONMENT": "production", "SECRET_KEY": "s" * 32, "CORS_ORIGINS": []}


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": "s" * 31}, "SECRET_KEY is shorter than 32 characters"),
        ({"SECRET_KEY": EXAMPLE_SECRET_KEY}, "SECRET_KEY is the example value from .env.example"),
        ({"CORS_ORIGINS": ["*"]}, "CORS_ORIGINS is *; list the allowed origins"),
        ({"ADMIN_PASSWORD": "short-pass"}, "ADMIN_PASSWORD is shorter than 12 characters"),
        ({"ENVIRONMENT": "staging"}, "ENVIRONMENT is 'staging'; use development or production"),
    ],
)
def test_production_refuses_to_start_with_unsafe_settings(make_app, changes, reason):
    with pytest.raises(SystemExit) as stopped:
        make_app(**{**PRODUCTION, **changes})
    assert str(stopped.value) == f"Refusing to start: {reason}"


def test_safe_production_settings_start(make_app):
    app = make_app(**PRODUCTION, ADMIN_PASSWORD="long-enough-password")
    assert app.test_client().get("/health").status_code == 200


def test_every_problem_is_named_on_the_one_line():
    settings = {**load_settings({}), **PRODUCTION, "SECRET_KEY": "", "CORS_ORIGINS": ["*"]}
    assert production_problems(settings) == [
        "SECRET_KEY is not set",
        "CORS_ORIGINS is *; list the allowed origins",
    ]
    assert production_problems({**settings, "ENVIRONMENT": "development"}) == []


def test_gunicorn_refuses_before_starting_anything(tmp_path):
    environment = {
        **os.environ,
        "ENVIRONMENT": "production",
        "SECRET_KEY": "too-short",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
        cwd=PROJECT_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr == "Refusing to start: SECRET_KEY is shorter than 32 characters\n"
    assert not (tmp_path / "app.db").exists()


def test_development_makes_up_a_secret_key_once(make_app, monkeypatch, capsys):
    monkeypatch.setenv("SECRET_KEY", "")
    app = make_app(SECRET_KEY="")
    secret_key = app.config["SECRET_KEY"]
    assert len(secret_key) >= 32
    # Apps created later in this process (and workers forked later) read the same one.
    assert os.environ["SECRET_KEY"] == secret_key
    assert load_settings()["SECRET_KEY"] == secret_key
    for handler in logging.getLogger().handlers:
        handler.flush()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line[:1] == "{"]
    warnings = [line for line in lines if "SECRET_KEY is not set" in line["message"]]
    assert [line["level"] for line in warnings] == ["WARNING"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_gunicorn_shares_one_made_up_secret_key_and_sets_up_the_admin(tmp_path):
    """The master makes up the key and creates the admin; both workers accept its tokens."""
    port = free_port()
    environment = {
        **os.environ,
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "SECRET_KEY": "",
        "ADMIN_USERNAME": "boss",
        "ADMIN_PASSWORD": "boss-password-123",
{%- if cookiecutter.use_celery %}
        "REDIS_URL": "",
{%- endif %}
{%- if cookiecutter.use_celery and cookiecutter.use_ml %}
        "CELERY_BROKER_URL": "",
{%- endif %}
    }
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
            cwd=PROJECT_DIR,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            token = wait_for_token(base, "boss", "boss-password-123")
            # New connections land on either worker; every one accepts the token.
            for _ in range(12):
                me = http_json(f"{base}/api/v1/users/me", token)
                assert me["username"] == "boss" and me["is_admin"] is True
        finally:
            server.terminate()
            server.wait(timeout=30)
    records = [json.loads(line) for line in log_path.read_text().splitlines() if line[:1] == "{"]
    made_up = [r for r in records if "SECRET_KEY is not set" in r["message"]]
    assert len(made_up) == 1, log_path.read_text()


def wait_for_token(base: str, username: str, password: str, timeout: float = 60.0) -> str:
    form = urllib.parse.urlencode({"username": username, "password": password}).encode()
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{base}{TOKEN_URL}", data=form, timeout=10) as response:
                return str(json.load(response)["access_token"])
        except (OSError, urllib.error.URLError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def http_json(url: str, token: str) -> dict:
    request = urllib.request.Request(url, headers=bearer(token))
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)
