"""Fixtures: `app` and `client` on a migrated database, emptied before each test.

The database is SQLite in a temporary directory, or `TEST_DATABASE_URL` if set (its tables
are dropped and rebuilt through the migrations once per run).{% if cookiecutter.use_celery %} Tests that need Redis use
`TEST_REDIS_URL`; without it they are skipped, or fail under `CI=true`.{% endif %}
"""

import os

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from {{ cookiecutter.package_name }}.core.db import db
from {{ cookiecutter.package_name }}.main import create_app


def settings_for_tests(database_url: str, **overrides: object) -> dict[str, object]:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "CORS_ORIGINS": [],
{%- if cookiecutter.use_celery %}
        "REDIS_URL": "",
{%- endif %}
{%- if cookiecutter.use_celery and cookiecutter.use_ml %}
        "CELERY_BROKER_URL": "",
        "CELERY_RESULT_BACKEND": "",
{%- endif %}
        **overrides,
    }


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database at the latest migration, built once for the whole run."""
    url = os.environ.get("TEST_DATABASE_URL") or (
        f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    )
    app = create_app(settings_for_tests(url))
    with app.app_context():
        db.drop_all()
        db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
        upgrade()
        db.engine.dispose()
    return url


def empty_tables() -> None:
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def make_app(database_url: str):
    """Build apps on the test database with extra settings; cleans up after them."""
    apps = []

    def factory(**overrides: object):
        app = create_app(settings_for_tests(database_url, **overrides))
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            db.engine.dispose()
{%- if cookiecutter.use_websockets %}
        app.extensions["realtime"].close()
{%- endif %}


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        empty_tables()
    return app


@pytest.fixture
def client(app):
    return app.test_client()
{%- if cookiecutter.use_celery %}


@pytest.fixture
def redis_url() -> str:
    """A real Redis for the tests that need one (use a database number of its own)."""
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("TEST_REDIS_URL is required when CI=true")
        pytest.skip("TEST_REDIS_URL is not set")
    import redis

    redis.Redis.from_url(url).flushdb()
    return url
{%- endif %}
