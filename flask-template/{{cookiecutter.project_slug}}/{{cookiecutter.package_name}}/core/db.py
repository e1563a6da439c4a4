"""The database: Flask-SQLAlchemy, Flask-Migrate, SQLite pragmas and `upgrade_database()`."""

import fcntl
import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask
from flask_migrate import Migrate, upgrade
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, event, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase

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


# Objects stay readable after commit, so a write does not need a second SELECT to answer.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
if TYPE_CHECKING:
    # db.Model is made from Base when the extension is created; what a type checker can
    # know of it is Base's, so models subclass this name rather than the attribute.
    Model = Base
else:
    Model = db.Model
migrate = Migrate(directory=str(MIGRATIONS_DIR))

# JSON columns are JSONB on PostgreSQL (binary, indexable, with containment queries).
JsonColumn = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _set_sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers work while one writer commits; the busy timeout makes a writer
    # wait for the lock instead of failing at once when several workers write.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def close_session(exc: BaseException | None) -> None:
    """End the context's session, whatever has become of its connection.

    Closing rolls back the open transaction. If the database went away after the view had
    answered, that rollback fails, and raised from a teardown the error would replace the
    answer with the server's own 500 page. The failure has invalidated the connection, so
    closing a second time succeeds.
    """
    try:
        db.session.remove()
    except DBAPIError as error:
        logger.warning("Database connection lost while closing the session: %s", error.orig)
        db.session.remove()


def init_db(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db)
    # Flask runs the last registered teardown first: this one, before Flask-SQLAlchemy's.
    app.teardown_appcontext(close_session)
    with app.app_context():
        engine: Engine = db.engine
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _set_sqlite_pragmas)


def standalone_app() -> Flask:
    """An app with the settings and the database and nothing else.

    gunicorn's master does its start-up work in one, before it forks the workers, so it
    loads as little as it can: native libraries that keep threads of their own do not
    survive fork().
{%- if cookiecutter.use_ml %} Workers forked after ONNX Runtime was loaded abort as
    they exit.
{%- endif %}
    """
    from .config import flask_config, load_settings

    settings = load_settings()
    app = Flask(__name__)
    app.config.from_mapping(settings)
    app.config.from_mapping(flask_config(settings))
    init_db(app)
    return app


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


def upgrade_database() -> None:
    """Apply pending migrations; gunicorn runs this once before starting its workers.

    Safe to run in several processes at once: they take turns (`migration_lock`).
    """
    with standalone_app().app_context():
        with migration_lock(db.engine):
            upgrade()
        # The caller forks workers next: they must not inherit open connections.
        db.engine.dispose()
