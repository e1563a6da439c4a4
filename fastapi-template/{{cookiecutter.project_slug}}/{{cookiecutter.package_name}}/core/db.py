"""Database engines and sessions, SQLite pragmas, and the migration entry point."""

import fcntl
import hashlib
import logging
{% if cookiecutter.use_auth -%}
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
{% else -%}
from collections.abc import Iterator
from contextlib import contextmanager
{% endif -%}
from functools import cache, partial
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from {{ cookiecutter.package_name }}.core.config import get_settings
from {{ cookiecutter.package_name }}.core.pool import FairAsyncQueuePool

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
# The PostgreSQL advisory lock key of this project's migrations: fixed, and derived from the
# project's name so that other applications sharing the server do not wait on it.
MIGRATION_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"{{ cookiecutter.package_name }} migrations").digest()[:8],
    "big",
    signed=True,
)


class Base(DeclarativeBase):
    pass


POSTGRESQL_PREFIXES = ("postgresql://", "postgres://")


def sync_database_url(url: str) -> str:
    """The URL with the driver the synchronous engine uses (migrations, job runners):
    psycopg for PostgreSQL."""
    for prefix in (*POSTGRESQL_PREFIXES, "postgresql+asyncpg://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def async_database_url(url: str) -> str:
    """The URL with the driver the application's async engine uses: asyncpg for PostgreSQL,
    aiosqlite for SQLite. A URL that names its driver keeps it."""
    for prefix in POSTGRESQL_PREFIXES:
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url.removeprefix(prefix)
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url.removeprefix("sqlite://")
    return url


def _set_sqlite_pragmas(dbapi_connection: Any, _connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_database_engine(database_url: str) -> AsyncEngine:
    """The application's async engine.

    A plain postgresql:// URL is connected with asyncpg, which is handed the URL as it is
    and reads libpq's parameters in it (sslmode, options, application_name, ...) as psycopg
    does when it runs the migrations with the same URL. A URL that names its driver gets
    SQLAlchemy's defaults. On PostgreSQL and on an SQLite file, the pool serves waiting
    requests in arrival order (core/pool.py): with SQLAlchemy's own asyncio pool, 1,000
    clients writing through two workers to SQLite got 19 answers a second and 1,456 of them
    timed out after 5 s; with turns in order, 119 a second and 786 (at 100 clients, 178 and
    195 a second, p99 2.7 and 1.5 s).

    No pool_pre_ping: it costs a round trip on every checkout (with one worker, an item read
    from PostgreSQL went from 615 to 732 requests/s without it). After a database restart
    the first query on a stale connection fails (a 503 problem) and SQLAlchemy then
    discards every pooled connection, so the next requests reconnect.
    """
    if database_url.startswith(POSTGRESQL_PREFIXES):
        import asyncpg  # a dependency of projects generated for PostgreSQL

        return create_async_engine(
            async_database_url(database_url),
            poolclass=FairAsyncQueuePool,
            async_creator=partial(asyncpg.connect, database_url),
        )
    url = make_url(async_database_url(database_url))
    if url.get_backend_name() != "sqlite":
        return create_async_engine(url)
    # An in-memory database exists once per connection: SQLAlchemy keeps it on one.
    in_memory = url.database in (None, "", ":memory:")
    engine = create_async_engine(url, **({} if in_memory else {"poolclass": FairAsyncQueuePool}))
    event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def close_session(session: AsyncSession) -> None:
    """End a session, whatever has become of its connection.

    Closing rolls back the open transaction. If the database went away after the route had
    answered, that rollback fails; raised once the response has gone out, the error would
    make the server drop the connection, and a client that has already sent its next request
    on it gets no answer at all. The failure has invalidated the connection, so closing a
    second time succeeds.
    """
    try:
        await session.close()
    except DBAPIError as error:
        logger.warning("Database connection lost while closing the session: %s", error.orig)
        await session.close()


def create_sync_engine(database_url: str) -> Engine:
    engine = create_engine(sync_database_url(database_url), pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _set_sqlite_pragmas)
    return engine


@cache
def get_sync_session_factory(database_url: str) -> sessionmaker[Session]:
    """A synchronous session factory per URL and process, for code outside the event loop."""
    return sessionmaker(create_sync_engine(database_url), expire_on_commit=False)
{%- if cookiecutter.use_auth %}


@asynccontextmanager
async def standalone_session(database_url: str) -> AsyncIterator[AsyncSession]:
    """A session on an engine of its own, disposed of afterwards: for code that runs outside
    the application, such as the gunicorn master and shell commands."""
    engine = create_database_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            yield session
    finally:
        await engine.dispose()
{%- endif %}


@contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """Hold, for this database, a lock that one process at a time can hold.

    Instances started together (gunicorn masters, containers, pods) then migrate once: the
    first applies the migrations, the others wait here and find the schema at head.
    PostgreSQL: a session-level advisory lock, which the server also releases if the
    process dies. SQLite: an exclusive flock() on `<database file>.migrate.lock`.
    """
    if engine.dialect.name == "postgresql":
        # Autocommit: waiting for the lock must not hold a transaction open.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            lock = {"key": MIGRATION_LOCK_KEY}
            connection.execute(text("SELECT pg_advisory_lock(:key)"), lock)
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), lock)
    elif engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        with open(f"{engine.url.database}.migrate.lock", "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
    else:
        # An in-memory database belongs to one process: nobody to wait for.
        yield


def upgrade_database(database_url: str | None = None) -> None:
    """Apply every pending Alembic migration (what `alembic upgrade head` does).

    Safe to run in several processes at once: they take turns (`migration_lock`).
    """
    url = database_url or get_settings().database_url
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = url
    config.attributes["configure_logging"] = False
    engine = create_sync_engine(url)
    try:
        with migration_lock(engine):
            command.upgrade(config, "head")
    finally:
        engine.dispose()
