"""Fixtures for the black-box contract suite: generated projects and running services.

Each service runs once per session under its production server. `service` is parametrized over
framework x database with Redis and a Celery worker, plus one SQLite service per framework with
no Redis at all (the in-process fallbacks):

    flask-sqlite  flask-postgresql  fastapi-sqlite  fastapi-postgresql
    flask-sqlite-noredis  fastapi-sqlite-noredis
"""

import contextlib
from pathlib import Path

import pytest

from tests.contract.harness import (
    ALL_SERVICES,
    PROJECT_NAME,
    SERVICES,
    RedisServer,
    Service,
    running_service,
)
from tests.support import IN_CI, TEMPLATES, generate, require_redis, scratch_database

# Redis databases of the contract suite (the templates' own suites use 12-14).
REDIS_DB = {"flask": 10, "fastapi": 9}


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "contract: black-box HTTP/WebSocket contract test against a running service"
    )
    config.addinivalue_line("markers", "browser: needs headless Chromium")


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.contract)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the service's server (and worker) log to every failing test."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, Service):
            report.sections.append((f"{value.name} log", value.logs()))


@pytest.fixture(scope="session")
def generated_project(tmp_path_factory):
    """generated_project(framework, database): the project, generated once per session."""
    projects: dict[tuple[str, str], Path] = {}

    def get(framework: str, database: str) -> Path:
        assert framework in TEMPLATES
        key = (framework, database)
        if key not in projects:
            output = tmp_path_factory.mktemp(f"contract-{framework}-{database}")
            projects[key] = generate(
                framework,
                output,
                project_name=PROJECT_NAME,
                database=database,
                use_websockets=True,
                use_ml=True,
                use_celery=True,
                use_docker=True,
            )
        return projects[key]

    return get


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()


@pytest.fixture(scope="session", params=ALL_SERVICES)
def service(request, generated_project, tmp_path_factory):
    framework, database, with_redis = SERVICES[request.param]
    project = generated_project(framework, database)
    run_dir = tmp_path_factory.mktemp(f"run-{request.param}")
    redis_url = require_redis(REDIS_DB[framework]) if with_redis else None
    with contextlib.ExitStack() as stack:
        if database == "postgresql":
            database_url = stack.enter_context(scratch_database(f"contract_{framework}"))
        else:
            database_url = f"sqlite:///{run_dir / 'app.db'}"
        if redis_url:
            flush_redis(redis_url)
            stack.callback(flush_redis, redis_url)
        yield stack.enter_context(
            running_service(
                name=request.param,
                framework=framework,
                database=database,
                project_dir=project,
                run_dir=run_dir,
                database_url=database_url,
                redis_url=redis_url,
                celery=with_redis,
            )
        )


@pytest.fixture
def client(service):
    with service.client() as http:
        yield http


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of the test's own, which the test may kill and restart."""
    server = RedisServer(tmp_path / "redis")
    try:
        server.start()
    except FileNotFoundError:
        if IN_CI:
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    yield server
    server.stop()
