"""Fixtures: `app` and `client` on a migrated database, emptied before each test.

The database is SQLite in a temporary directory, or `TEST_DATABASE_URL` if set (its tables
are dropped and rebuilt through the migrations once per run).{% if cookiecutter.use_celery %} Tests that need Redis use
`TEST_REDIS_URL`; without it they are skipped, or fail under `CI=true`.{% endif %}
{%- if cookiecutter.use_auth %}

`client` sends a regular user's token (`user`) with every request, `admin_client` an
admin's (`admin`), `anonymous_client` none. A client of an app from `make_app` sends none
until `authorize(client)` gives it the regular user's.
{%- endif %}
"""

import os
import uuid
from collections.abc import Iterator
{%- if cookiecutter.use_auth %}
from datetime import timedelta
{%- endif %}

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

{% if cookiecutter.use_auth -%}
from {{ cookiecutter.package_name }}.core.auth import create_access_token, hash_password
{% endif -%}
from {{ cookiecutter.package_name }}.core.config import sqlalchemy_url
from {{ cookiecutter.package_name }}.core.db import db
from {{ cookiecutter.package_name }}.main import create_app
{%- if cookiecutter.use_auth %}
from {{ cookiecutter.package_name }}.models import User
{%- endif %}

TEST_SECRET_KEY = "a-secret-key-for-the-tests-only-0123456789"
{%- if cookiecutter.use_auth %}
PASSWORD = "correct horse battery staple"
{%- endif %}


def settings_for_tests(database_url: str, **overrides: object) -> dict[str, object]:
    return {
        "TESTING": True,
        "ENVIRONMENT": "development",
        "SECRET_KEY": TEST_SECRET_KEY,
{%- if cookiecutter.use_auth %}
        "ADMIN_USERNAME": "",
        "ADMIN_PASSWORD": "",
        "LOGIN_RATE_LIMIT": "5/minute",
        "ACCESS_TOKEN_MINUTES": 30,
{%- endif %}
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

{% if cookiecutter.use_auth %}
@pytest.fixture(scope="session")
def password_hash() -> str:
    """PASSWORD, hashed once: Argon2 is slow on purpose, and most tests only need a user."""
    return hash_password(PASSWORD)


def add_user(app, username: str, password_hash: str, is_admin: bool = False) -> User:
    with app.app_context():
        user = User(username=username, password_hash=password_hash, is_admin=is_admin)
        db.session.add(user)
        db.session.commit()
    return user


def token_for(app, user: User) -> str:
    lifetime = timedelta(minutes=app.config["ACCESS_TOKEN_MINUTES"])
    return create_access_token(user.id, app.config["SECRET_KEY"], lifetime)


def sign_in(client, user: User):
    """Send `user`'s token with every request of this test client."""
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token_for(client.application, user)}"
    return client


@pytest.fixture
def user(app, password_hash) -> User:
    return add_user(app, "alice", password_hash)


@pytest.fixture
def admin(app, password_hash) -> User:
    return add_user(app, "root", password_hash, is_admin=True)


@pytest.fixture
def client(app, user):
    return sign_in(app.test_client(), user)


@pytest.fixture
def anonymous_client(app):
    return app.test_client()


@pytest.fixture
def admin_client(app, admin):
    return sign_in(app.test_client(), admin)


@pytest.fixture
def authorize(user):
    """Give a test client (of an app from `make_app`) the regular user's token."""
    return lambda client: sign_in(client, user)


@pytest.fixture
def new_user_client(app, password_hash):
    """Add a user (with PASSWORD) and return a test client signed in as them."""

    def make(username: str, is_admin: bool = False):
        return sign_in(app.test_client(), add_user(app, username, password_hash, is_admin))

    return make
{%- else %}
@pytest.fixture
def client(app):
    return app.test_client()
{%- endif %}
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
    admin = create_engine(sqlalchemy_url(base_url))
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
