"""Fixtures shared by the whole suite.

Tests use Starlette's TestClient: synchronous tests that still run the real ASGI stack,
the application's lifespan and its WebSockets, with no extra plugin.

By default the suite runs on a throw-away SQLite file. TEST_DATABASE_URL points it at
another database (its tables are dropped and recreated through the migrations);
TEST_REDIS_URL enables the tests that need Redis, which skip without it, or fail when
CI=true, so that a CI job cannot pass without running them.
"""

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from {{ cookiecutter.package_name }}.core.config import get_settings
from {{ cookiecutter.package_name }}.core.db import create_sync_engine, upgrade_database
from {{ cookiecutter.package_name }}.main import create_app
from {{ cookiecutter.package_name }}.models import Base

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
IN_CI = os.environ.get("CI", "").lower() == "true"

# Everything the application reads from the environment, pinned for a predictable run.
TEST_ENVIRONMENT = {
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
}


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


@pytest.fixture
def app() -> FastAPI:
    return create_app()


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
