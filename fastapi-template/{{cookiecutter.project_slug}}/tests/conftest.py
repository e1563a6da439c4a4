"""Fixtures shared by the whole suite.

Tests use Starlette's TestClient: synchronous tests that still run the real ASGI stack,
the application's lifespan and its WebSockets, with no extra plugin.

By default the suite runs on a throw-away SQLite file. TEST_DATABASE_URL points it at
another database (its tables are dropped and recreated through the migrations);
TEST_REDIS_URL enables the tests that need Redis, which skip without it, or fail when
CI=true, so that a CI job cannot pass without running them.
{%- if cookiecutter.use_auth %}

`client` sends a regular user's access token, `admin_client` an administrator's, and
`anonymous_client` none; `make_client(as_user=...)` picks whose, if anyone's.
{%- endif %}
"""

import os
{%- if cookiecutter.use_celery %}
import socket
import threading
{%- endif %}
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
{%- if cookiecutter.use_auth %}
from datetime import timedelta
{%- endif %}

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

{% if cookiecutter.use_auth -%}
from {{ cookiecutter.package_name }}.core.auth import create_access_token, password_hasher
{% endif -%}
from {{ cookiecutter.package_name }}.core.config import get_settings
{%- if cookiecutter.use_auth %}
from {{ cookiecutter.package_name }}.core.db import (
    create_sync_engine,
    get_sync_session_factory,
    sync_database_url,
    upgrade_database,
)
{%- else %}
from {{ cookiecutter.package_name }}.core.db import (
    create_sync_engine,
    sync_database_url,
    upgrade_database,
)
{%- endif %}
from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.models import Base{% if cookiecutter.use_auth %}, User{% endif %}

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
IN_CI = os.environ.get("CI", "").lower() == "true"

# Everything the application reads from the environment, pinned for a predictable run.
TEST_ENVIRONMENT = {
    "ENVIRONMENT": "development",
    "SECRET_KEY": "a-secret-key-for-the-test-suite-only",
{%- if cookiecutter.use_celery %}
    "REDIS_URL": "",
    "CACHE_TTL_SECONDS": "60",
{%- endif %}
{%- if cookiecutter.use_celery and cookiecutter.use_ml %}
    "CELERY_BROKER_URL": "",
    "CELERY_RESULT_BACKEND": "",
{%- endif %}
{%- if cookiecutter.use_ml %}
    "ML_BATCHING": "0",
{%- endif %}
    "CORS_ORIGINS": "",
    "MAX_BODY_BYTES": "1048576",
    "LOG_LEVEL": "WARNING",
{%- if cookiecutter.use_auth %}
    "ACCESS_TOKEN_MINUTES": "30",
    "ADMIN_USERNAME": "",
    "ADMIN_PASSWORD": "",
    "LOGIN_RATE_LIMIT": "5/minute",
{%- endif %}
}
{%- if cookiecutter.use_auth %}
# The password of every user the fixtures create.
TEST_PASSWORD = "correct horse battery staple"
{%- endif %}


@pytest.fixture
def redis_url() -> str:
    """TEST_REDIS_URL for a test that needs Redis; without it, skip (or fail under CI)."""
    if not TEST_REDIS_URL:
        message = "TEST_REDIS_URL is not set"
        if IN_CI:
            pytest.fail(f"{message}, and CI=true requires the Redis-backed tests to run")
        pytest.skip(message)
    import redis

    # Start from an empty database: keys left by an earlier run would look like cache hits.
    redis.Redis.from_url(TEST_REDIS_URL).flushdb()
    return TEST_REDIS_URL
{%- if cookiecutter.use_celery %}


@pytest.fixture
def hung_redis_url(make_client) -> Iterator[str]:
    """A server that takes connections and never answers: a Redis that has hung. The kernel
    completes each connection on the listener's backlog; nothing ever reads or replies.

    It asks for make_client only to be torn down before the clients: closing the listener
    resets the connections queued on it, which frees a request still waiting on one.
    """
    with socket.create_server(("127.0.0.1", 0), backlog=64) as listener:
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def answered_within(seconds: float, request: Callable[[], object]) -> object:
    """What `request()` returns, if it returns within `seconds`: a request that hangs fails
    the test rather than hanging the suite."""
    answers: list[object] = []
    thread = threading.Thread(target=lambda: answers.append(request()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert answers, f"no answer within {seconds} s"
    return answers[0]


@pytest.fixture
def answer_within() -> Callable[[float, Callable[[], object]], object]:
    return answered_within
{%- endif %}


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if TEST_DATABASE_URL:
        engine = create_sync_engine(TEST_DATABASE_URL)
        with engine.begin() as connection:
            Base.metadata.drop_all(connection)
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        engine.dispose()
        url = TEST_DATABASE_URL
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    upgrade_database(url)
    return url


@pytest.fixture(scope="session", autouse=True)
def environment(database_url: str) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", database_url)
        for name, value in TEST_ENVIRONMENT.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        yield
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def empty_tables(database_url: str) -> Iterator[None]:
    engine = create_sync_engine(database_url)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    engine.dispose()
    yield


{%- if cookiecutter.use_auth %}


@pytest.fixture(scope="session")
def password_hash() -> str:
    # Argon2 is slow on purpose: hash the one test password once per run.
    return password_hasher.hash(TEST_PASSWORD)


@pytest.fixture
def password() -> str:
    """The password of every user the fixtures create."""
    return TEST_PASSWORD


@pytest.fixture
def make_user(database_url: str, password_hash: str) -> Callable[..., User]:
    """Insert a user straight into the database: make_user("bob", is_admin=True)."""

    def make(username: str, is_admin: bool = False) -> User:
        with get_sync_session_factory(database_url)() as session:
            user = User(username=username, password_hash=password_hash, is_admin=is_admin)
            session.add(user)
            session.commit()
            return user

    return make


@pytest.fixture
def user(make_user) -> User:
    """The regular user whose token `client` sends."""
    return make_user("alice")


@pytest.fixture
def admin(make_user) -> User:
    return make_user("root", is_admin=True)


def bearer(user: User) -> dict[str, str]:
    """An Authorization header with a new access token for `user`."""
    settings = get_settings()
    lifetime = timedelta(minutes=settings.access_token_minutes)
    token = create_access_token(user.id, settings.secret_key, lifetime)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def auth_headers(user: User) -> dict[str, str]:
    return bearer(user)
{%- endif %}


@pytest.fixture
def app() -> FastAPI:
    return create_app()
{%- if cookiecutter.use_auth %}


@pytest.fixture
def client(app: FastAPI, auth_headers: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(app, headers=auth_headers) as client:
        yield client


@pytest.fixture
def make_client(user: User) -> Iterator[Callable[..., TestClient]]:
    """Build a client for an app with some settings changed: make_client(max_body_bytes=10).

    It sends the token of `as_user`: by default the regular user's, with None no token.
    """
    with ExitStack() as stack:

        def make(as_user: User | None = user, **overrides) -> TestClient:
            settings = get_settings().model_copy(update=overrides)
            headers = bearer(as_user) if as_user is not None else None
            return stack.enter_context(TestClient(create_app(settings), headers=headers))

        yield make


@pytest.fixture
def anonymous_client(make_client) -> TestClient:
    return make_client(as_user=None)


@pytest.fixture
def admin_client(make_client, admin: User) -> TestClient:
    return make_client(as_user=admin)
{%- else %}


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def make_client() -> Iterator[Callable[..., TestClient]]:
    """Build a client for an app with some settings changed: make_client(max_body_bytes=10)."""
    with ExitStack() as stack:

        def make(**overrides) -> TestClient:
            settings = get_settings().model_copy(update=overrides)
            return stack.enter_context(TestClient(create_app(settings)))

        yield make
{%- endif %}


@pytest.fixture
def unreachable_database_url(tmp_path) -> str:
    """A database that cannot be opened: its directory does not exist."""
    return f"sqlite:///{tmp_path / 'missing' / 'app.db'}"


@pytest.fixture
def item_payload() -> dict:
    return {
        "name": "Desk lamp",
        "description": "Warm white, dimmable",
        "price": 39.5,
        "tags": ["lighting", "office"],
        "dimensions": {"width": 12.5, "height": 40, "depth": 12.5},
    }


@pytest.fixture
def create_item(client: TestClient, item_payload: dict) -> Callable[..., dict]:
    def create(**changes) -> dict:
        response = client.post("/api/v1/items", json={**item_payload, **changes})
        assert response.status_code == 201, response.text
        return response.json()

    return create


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A database with no tables: a new SQLite file, or a new schema in TEST_DATABASE_URL's
    PostgreSQL (first on the search path, so the database looks fresh)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    base_url = os.environ.get("TEST_DATABASE_URL", "")
    if not base_url.startswith(("postgresql://", "postgres://")):
        pytest.skip("TEST_DATABASE_URL is not a PostgreSQL database")
    schema = f"migrations_{uuid.uuid4().hex[:12]}"
    admin = create_engine(sync_database_url(base_url))
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            # Stuck instances of a failed test may still hold locks in the schema.
            connection.execute(text("SET LOCAL lock_timeout = '5s'"))
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
